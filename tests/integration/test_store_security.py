"""The pool's secrets against a local user who is not root, with a real daemon and its real etcd.

The attack this guards against: etcd on plain http without authentication held the pool CA's
private key (``pki/ca``); a non-root user read it, minted a member certificate and had glusterd2
act as root through the peer port.  Here user ``nobody`` tries every way in (etcdctl and raw
requests on etcd's client and peer URLs, with no certificate and with one of another CA; etcd's
data dir, the node key, the REST secret, etcd's log; /proc) and must be refused, while the same
requests with the node's certificate succeed, so each refusal is the lock and not a broken test.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gd2.peer import pki
from gd2.store.tls import EtcdTLS
from gd2.testing import DaemonProcess, venv_bin

pytestmark = pytest.mark.integration

NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--"]


def _as_nobody(*argv: str, timeout: float = 20) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*NOBODY, *argv], capture_output=True, text=True, timeout=timeout, check=False,
                          env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "ETCDCTL_API": "3", "HOME": "/"})


def _tools() -> None:
    for program in ("setpriv", "etcdctl", "curl", "ss"):
        if shutil.which(program) is None:
            pytest.fail(f"{program} is not installed: run the README's test command, which installs it")


@pytest.fixture
def node(address_factory: Callable[[], str]) -> Iterator[DaemonProcess]:
    """One daemon started under umask 000, in a directory other users may traverse (as /var/lib is):
    what keeps them out must be the modes glusterd2 and etcd give their own files."""
    _tools()
    root = Path(tempfile.mkdtemp(prefix="gd2-security-"))
    os.chmod(root, 0o755)
    daemon = DaemonProcess(root / "node", address_factory(), [], umask=0)
    try:
        daemon.start()
        yield daemon
    finally:
        daemon.stop()
        shutil.rmtree(root, ignore_errors=True)


def _cluster_prefix(node: DaemonProcess) -> str:
    return f"gd2/{json.loads((node.statedir / 'node.json').read_text())['cluster_id']}/"


def _range_body(prefix: str) -> str:
    """etcd's JSON gateway: a range read of everything under ``prefix``."""
    end = prefix[:-1] + chr(ord(prefix[-1]) + 1)
    return json.dumps({"key": base64.b64encode(prefix.encode()).decode(),
                       "range_end": base64.b64encode(end.encode()).decode()})


def _etcd_pid(node: DaemonProcess) -> int:
    pid = node.etcd_pid()
    assert pid is not None
    return pid


def _listening(pid: int) -> set[tuple[str, int]]:
    """(address, port) of every TCP socket process ``pid`` listens on, from `ss -ltnp`."""
    out = subprocess.run(["ss", "-H", "-ltnp"], capture_output=True, text=True, check=True, timeout=10).stdout
    found = set()
    for line in out.splitlines():
        if f"pid={pid}," in line:
            address, _, port = line.split()[3].rpartition(":")
            found.add((address, int(port)))
    return found


def _plain_http_answer(address: str, port: int) -> bytes:
    with socket.create_connection((address, port), timeout=5) as sock:
        sock.sendall(f"GET /health HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(4096):
            reply += chunk
    return reply


def _foreign_client(directory: Path, node: DaemonProcess) -> tuple[Path, Path, Path]:
    """A CA certificate nobody may read (the pool's: it is public) and a client certificate of
    another CA with its key, made for ``nobody``: what an attacker can mint without the CA key."""
    directory.mkdir(mode=0o755)
    stranger = pki.create_ca("not the pool")
    own = pki.issue_node_cert(stranger, "intruder", [node.address])
    ca = directory / "pool-ca.pem"
    shutil.copy(node.statedir / "tls" / "ca.pem", ca)
    cert, key = directory / "intruder.pem", directory / "intruder.key"
    cert.write_bytes(own.cert)
    key.write_bytes(own.key)
    for path in (ca, cert, key):
        os.chmod(path, 0o644)
    return ca, cert, key


def test_a_local_user_cannot_read_the_store_or_the_secrets(node: DaemonProcess) -> None:
    prefix = _cluster_prefix(node)
    ca_key = f"{prefix}pki/ca"
    tls = node.statedir / "tls"
    client_url, peer_url = f"https://{node.address}:2379", f"https://{node.address}:2380"

    # Control: with the node's certificate, etcdctl and a raw request read the CA record.
    assert ca_key in node.etcdctl("get", "--prefix", prefix, "--keys-only").stdout
    raw = subprocess.run(["curl", "-sS", "--cacert", str(tls / "ca.pem"), "--cert", str(tls / "node.pem"),
                          "--key", str(tls / "node.key"), "-X", "POST", "-d", _range_body(prefix),
                          f"{client_url}/v3/kv/range"], capture_output=True, text=True, timeout=20, check=False)
    assert base64.b64encode(ca_key.encode()).decode() in raw.stdout, raw

    # nobody, plain http: etcd answers only TLS.
    plain = _as_nobody("etcdctl", "--endpoints", f"http://{node.address}:2379", "--command-timeout", "3s",
                       "--dial-timeout", "3s", "get", "--prefix", prefix)
    assert plain.returncode != 0 and "pki/ca" not in plain.stdout, plain
    plain_raw = _as_nobody("curl", "-sS", "-m", "5", "-X", "POST", "-d", _range_body(prefix),
                           f"http://{node.address}:2379/v3/kv/range")
    # (the client port closes the connection; Go's https server would answer "400 ... HTTPS server")
    assert "kvs" not in plain_raw.stdout and (plain_raw.returncode != 0 or "HTTPS server" in plain_raw.stdout), \
        plain_raw
    # nobody, https without a client certificate (not even checking etcd's): the handshake is refused.
    bare = _as_nobody("etcdctl", "--endpoints", client_url, "--insecure-transport=false", "--insecure-skip-tls-verify",
                      "--command-timeout", "3s", "--dial-timeout", "3s", "get", "--prefix", prefix)
    assert bare.returncode != 0 and "pki/ca" not in bare.stdout, bare
    for url in (f"{client_url}/v3/kv/range", f"{peer_url}/members"):
        refused = _as_nobody("curl", "-sS", "-k", "-m", "5", "-X", "POST", "-d", _range_body(prefix), url)
        assert refused.returncode != 0 and "kvs" not in refused.stdout, (url, refused)

    # nobody's own files cannot reach the node's: it may read the data, run it, and still be refused.
    foreign = node.workdir.parent / "intruder"
    ca, cert, key = _foreign_client(foreign, node)
    minted = _as_nobody("etcdctl", "--endpoints", client_url, "--cacert", str(ca), "--cert", str(cert),
                        "--key", str(key), "--command-timeout", "3s", "--dial-timeout", "3s", "get", "--prefix", prefix)
    assert minted.returncode != 0 and "pki/ca" not in minted.stdout, minted
    for url in (f"{client_url}/v3/kv/range", f"{peer_url}/members"):
        refused = _as_nobody("curl", "-sS", "-m", "5", "--cacert", str(ca), "--cert", str(cert), "--key", str(key),
                             "-X", "POST", "-d", _range_body(prefix), url)
        assert refused.returncode != 0 and "kvs" not in refused.stdout, (url, refused)

    # The files: nobody may walk down to them (node.json is readable) but not open the secrets.
    assert _as_nobody("cat", str(node.statedir / "node.json")).returncode == 0
    secrets = [node.statedir / "etcd" / "member" / "snap" / "db", tls / "node.key", tls / "ca.key",
               node.statedir / "auth", node.logdir / "etcd.log"]
    for path in secrets:
        assert path.exists(), path
        denied = _as_nobody("cat", str(path))
        assert denied.returncode != 0 and "Permission denied" in denied.stderr, (path, denied)
    listing = _as_nobody("ls", str(node.statedir / "etcd"))
    assert listing.returncode != 0 and "Permission denied" in listing.stderr, listing

    # /proc: command lines name files only; environments are the owner's.
    secret = (node.statedir / "auth").read_text().strip()
    pids = [_etcd_pid(node), node.process.pid if node.process else 0]
    for pid in pids:
        cmdline = _as_nobody("cat", f"/proc/{pid}/cmdline")
        assert cmdline.returncode == 0, cmdline
        assert "PRIVATE KEY" not in cmdline.stdout and "BEGIN" not in cmdline.stdout
        assert secret not in cmdline.stdout
        environ = _as_nobody("cat", f"/proc/{pid}/environ")
        assert environ.returncode != 0, environ

    # The API's store dump (root's socket) shows the CA record, but not its key.
    dump = node.ctl("--json", "debug", "store", "pki/", check=True).stdout
    assert "pki/ca" in dump and "PRIVATE KEY" not in dump, dump

    # And the daemon keeps serving.
    node.ctl("volume", "list", check=True)
    assert ca_key in node.etcdctl("get", "--prefix", prefix, "--keys-only").stdout


def test_secret_files_have_private_modes_under_umask_000(node: DaemonProcess) -> None:
    tls = node.statedir / "tls"
    modes = {path: stat.S_IMODE(path.stat().st_mode) for path in (
        node.statedir / "etcd", tls, tls / "node.key", tls / "ca.key", node.statedir / "auth",
        node.logdir / "etcd.log")}
    assert modes == {node.statedir / "etcd": 0o700, tls: 0o700, tls / "node.key": 0o600, tls / "ca.key": 0o600,
                     node.statedir / "auth": 0o600, node.logdir / "etcd.log": 0o600}
    writable = [str(p) for d in (node.statedir, node.logdir, node.rundir) for p in [d, *d.rglob("*")]
                if not p.is_symlink() and p.stat().st_mode & stat.S_IWOTH and not p.is_socket()]
    assert writable == []


def test_etcd_listens_only_on_tls(node: DaemonProcess) -> None:
    """Every socket etcd listens on (from `ss -ltnp`) is TLS: plain http gets Go's 400, and a TLS
    handshake with the node's certificate works."""
    tls = node.statedir / "tls"
    listening = _listening(_etcd_pid(node))
    assert listening == {(node.address, 2379), (node.address, 2380)}
    context = ssl.create_default_context(cafile=str(tls / "ca.pem"))
    context.load_cert_chain(str(tls / "node.pem"), str(tls / "node.key"))
    for address, port in listening:
        reply = _plain_http_answer(address, port)  # closed (client port), or Go's 400 (peer port)
        assert reply == b"" or b"Client sent an HTTP request to an HTTPS server" in reply, reply
        with socket.create_connection((address, port), timeout=5) as raw, \
                context.wrap_socket(raw, server_hostname=address) as conn:
            assert conn.version() in ("TLSv1.2", "TLSv1.3")


# ---- external etcd ------------------------------------------------------------------------------


def _run_glusterd2(tmp_path: Path, address: str, *args: str) -> subprocess.CompletedProcess[str]:
    dirs = ["--localstatedir", str(tmp_path / "s"), "--rundir", str(tmp_path / "r"), "--logdir", str(tmp_path / "l")]
    return subprocess.run([venv_bin("glusterd2"), *dirs, "--address", address, "--store-timeout", "2", *args],
                          capture_output=True, text=True, timeout=60, check=False)


def _one_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("glusterd2: ")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_external_etcd_over_tls(daemon_factory: Callable[..., DaemonProcess], etcd_tls: Any,
                                brick_fs: Path) -> None:
    client = etcd_tls.client
    gd2 = daemon_factory("--etcd-endpoints", etcd_tls.url, "--etcd-ca-file", str(client.ca_file),
                         "--etcd-cert-file", str(client.cert_file), "--etcd-key-file", str(client.key_file))
    assert gd2.etcd_pid() is None
    gd2.ctl("volume", "create", "tlsext", f"{gd2.address}:{brick_fs}/x", check=True)
    assert gd2.ctl("volume", "list", check=True).stdout.split() == ["tlsext"]


def _files(tls: EtcdTLS) -> list[str]:
    return ["--etcd-ca-file", str(tls.ca_file), "--etcd-cert-file", str(tls.cert_file),
            "--etcd-key-file", str(tls.key_file)]


def test_wrong_certificates_for_external_etcd_are_one_clear_line(
        tmp_path: Path, etcd_tls: Any, etcd_url: str, address_factory: Callable[[], str]) -> None:
    """etcd_tls: conftest.TLSEtcd.  Each start fails at once with the reason, not after a timeout."""
    client, foreign = etcd_tls.client, etcd_tls.foreign
    address = address_factory()
    files = _files
    line = _one_line(_run_glusterd2(tmp_path / "a", address, "--etcd-endpoints", etcd_tls.url, *files(foreign)))
    assert f"etcd at {etcd_tls.url} refused the client certificate {foreign.cert_file}" in line, line
    line = _one_line(_run_glusterd2(tmp_path / "b", address, "--etcd-endpoints", etcd_tls.url, "--etcd-ca-file",
                                    str(etcd_tls.other_ca), "--etcd-cert-file", str(client.cert_file),
                                    "--etcd-key-file", str(client.key_file)))
    assert f"etcd at {etcd_tls.url} presented a certificate that {etcd_tls.other_ca} does not vouch for" in line
    line = _one_line(_run_glusterd2(tmp_path / "c", address, "--etcd-endpoints", etcd_tls.url, "--etcd-ca-file",
                                    str(client.ca_file)))
    assert f"etcd at {etcd_tls.url} requires a client certificate" in line, line
    http_to_https = etcd_tls.url.replace("https://", "http://")
    line = _one_line(_run_glusterd2(tmp_path / "d", address, "--etcd-endpoints", http_to_https,
                                    "--etcd-allow-http", "true"))
    assert f"etcd at {http_to_https} speaks https, not http" in line, line
    https_to_http = etcd_url.replace("http://", "https://")
    line = _one_line(_run_glusterd2(tmp_path / "e", address, "--etcd-endpoints", https_to_http, *files(client)))
    assert f"etcd at {https_to_http} does not speak TLS: it is a plain http endpoint" in line, line
    # A key that is not the certificate's is named.
    mismatch = _run_glusterd2(tmp_path / "f", address, "--etcd-endpoints", etcd_tls.url,
                              "--etcd-ca-file", str(client.ca_file), "--etcd-cert-file", str(client.cert_file),
                              "--etcd-key-file", str(foreign.key_file))
    line = _one_line(mismatch)
    assert str(foreign.key_file) in line and "KEY_VALUES_MISMATCH" in line.upper().replace(" ", "_"), line
    # Plain http needs the admin's explicit word.
    refused = _run_glusterd2(tmp_path / "g", address, "--etcd-endpoints", etcd_url)
    assert refused.returncode == 2 and "plain http" in refused.stderr and "etcd-allow-http" in refused.stderr
