"""gd2ctl against a tiny real HTTP server on a Unix socket and on TCP.

The server records the exact bytes of each request and answers from a
script, so the tests see what gd2ctl really sends and how it copes with
what a server may really answer (chunked, no Content-Length, errors, silence).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import socket
import socketserver
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import gd2
from gd2.cli import http
from gd2.cli.main import main

SILENT = b""  # a reply that never comes: the server waits for the client to give up

VOLUME = {
    "id": "63d82feb-50cb-4434-9d5a-272c551bec34", "name": "v1", "type": "Replicate", "state": "Created",
    "transport": "tcp", "replica_count": 2, "arbiter_count": 0, "disperse_count": 0, "redundancy_count": 0,
    "distribute_count": 1, "options": {"nfs.disable": "on"}, "created_at": "2024-01-01T00:00:00Z",
    "bricks": [{"id": "b1", "peer_id": "p", "host": "127.0.0.21", "path": "/bricks/b1", "arbiter": False},
               {"id": "b2", "peer_id": "p", "host": "127.0.0.21", "path": "/bricks/b2", "arbiter": False}],
}


def reply(status: int, body: object = None, *, reason: str = "OK", chunked: bool = False,
          length: bool = True, headers: tuple[str, ...] = ()) -> bytes:
    """The bytes of one HTTP response; ``body`` is JSON unless it is bytes."""
    data = body if isinstance(body, bytes) else b"" if body is None else json.dumps(body).encode()
    head = [f"HTTP/1.1 {status} {reason}", "content-type: application/json", *headers]
    if chunked:
        head.append("transfer-encoding: chunked")
        middle = len(data) // 2
        data = (f"{middle:x};ext=1\r\n".encode() + data[:middle] + b"\r\n"
                + f"{len(data) - middle:X}\r\n".encode() + data[middle:] + b"\r\n0\r\nx-trailer: 1\r\n\r\n")
    elif length:
        head.append(f"content-length: {len(data)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + data


def error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> bytes:
    return reply(status, {"error": {"code": code, "message": message, "fields": fields or {}}}, reason="Error")


class _Handler(socketserver.BaseRequestHandler):
    server: _Server

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(10)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                return
            data += chunk
        head = data.split(b"\r\n\r\n", 1)[0]
        found = re.search(rb"\r\nContent-Length: (\d+)", head)
        total = len(head) + 4 + (int(found.group(1)) if found else 0)
        while len(data) < total:
            data += sock.recv(65536)
        self.server.requests.append(data)
        answer = self.server.replies.pop(0) if self.server.replies else reply(200, {})
        if answer is SILENT:
            while sock.recv(1024):
                pass
            return
        sock.sendall(answer)


class _Server(socketserver.ThreadingMixIn, socketserver.TCPServer):
    daemon_threads = True
    allow_reuse_address = True
    requests: list[bytes]
    replies: list[bytes]
    errors: list[BaseException]

    def handle_error(self, request: Any, client_address: Any) -> None:
        self.errors.append(sys.exc_info()[1] or RuntimeError("unknown"))


class _UnixServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True
    requests: list[bytes]
    replies: list[bytes]
    errors: list[BaseException]
    handle_error = _Server.handle_error


class FakeGd2:
    """Where the server listens, the requests it got, and the replies still to give."""

    def __init__(self, server: _Server | _UnixServer, address: str) -> None:
        self.address = address
        self.requests: list[bytes] = []
        self.replies: list[bytes] = []
        server.requests, server.replies, server.errors = self.requests, self.replies, []


def _serve(server: _Server | _UnixServer, address: str) -> Iterator[FakeGd2]:
    fake = FakeGd2(server, address)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert server.errors == []


@pytest.fixture
def unix_gd2(tmp_path: Path) -> Iterator[FakeGd2]:
    path = str(tmp_path / "gd2.sock")
    yield from _serve(_UnixServer(path, _Handler), path)


@pytest.fixture
def tcp_gd2() -> Iterator[FakeGd2]:
    server = _Server(("127.0.0.1", 0), _Handler)
    yield from _serve(server, f"http://127.0.0.1:{server.server_address[1]}")


def split_request(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, body = raw.split(b"\r\n\r\n", 1)
    request_line, *lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines)
    assert len(headers) == len(lines), "a header was sent twice"
    return request_line, headers, body


def gd2ctl(capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
           ) -> tuple[int, str, str]:
    code = main(list(argv), env or {})
    out, err = capsys.readouterr()
    return code, out, err


# --- the HTTP client itself -------------------------------------------------------------------


def test_unix_request_bytes(unix_gd2: FakeGd2) -> None:
    unix_gd2.replies.append(reply(201, {"ok": True}))
    endpoint = http.Endpoint(unix_path=unix_gd2.address)
    response = http.request(endpoint, "POST", "/v1/volumes", headers=[("X-Request-ID", "abc")],
                            body=b'{"name": "v1"}', timeout=5)
    assert (response.status, response.reason, response.body) == (201, "OK", b'{"ok": true}')
    assert response.headers["content-type"] == "application/json"
    assert unix_gd2.requests == [
        b"POST /v1/volumes HTTP/1.1\r\nHost: localhost\r\nX-Request-ID: abc\r\nConnection: close\r\n"
        b"Content-Type: application/json\r\nContent-Length: 14\r\n\r\n"
        b'{"name": "v1"}'
    ]


def test_tcp_request_bytes(tcp_gd2: FakeGd2) -> None:
    endpoint = http.Endpoint.from_url(tcp_gd2.address)
    http.request(endpoint, "DELETE", "/v1/volumes/v1", headers=[("Authorization", "Bearer t")], timeout=5)
    port = endpoint.port
    assert tcp_gd2.requests == [
        f"DELETE /v1/volumes/v1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer t\r\n"
        "Connection: close\r\n\r\n".encode()
    ]


@pytest.mark.parametrize("answer", [
    reply(200, {"volumes": [VOLUME]}, chunked=True),
    reply(200, {"volumes": [VOLUME]}, length=False),
    reply(100, reason="Continue", length=False).replace(b"content-type: application/json\r\n", b"")
    + reply(200, {"volumes": [VOLUME]}),
])
def test_response_framings(unix_gd2: FakeGd2, answer: bytes) -> None:
    unix_gd2.replies.append(answer)
    response = http.request(http.Endpoint(unix_path=unix_gd2.address), "GET", "/v1/volumes", headers=[],
                            timeout=5)
    assert response.status == 200
    assert json.loads(response.body) == {"volumes": [VOLUME]}


def test_no_content(unix_gd2: FakeGd2) -> None:
    unix_gd2.replies.append(reply(204, reason="No Content", length=False))
    response = http.request(http.Endpoint(unix_path=unix_gd2.address), "DELETE", "/v1/volumes/v1", headers=[],
                            timeout=5)
    assert (response.status, response.body) == (204, b"")


@pytest.mark.parametrize(("answer", "reason"), [
    (b"garbage\r\n\r\n", "invalid HTTP response: bad status line 'garbage'"),
    (b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\n{}", "invalid HTTP response: connection closed before"),
    (b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n", "invalid HTTP response: bad chunk size"),
    (b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n", "invalid HTTP response: bad header line"),
])
def test_broken_responses(unix_gd2: FakeGd2, answer: bytes, reason: str) -> None:
    unix_gd2.replies.append(answer)
    with pytest.raises(http.TransportError) as caught:
        http.request(http.Endpoint(unix_path=unix_gd2.address), "GET", "/", headers=[], timeout=5)
    assert caught.value.reason.startswith(reason)
    assert caught.value.sent


def test_silent_server_times_out(unix_gd2: FakeGd2) -> None:
    unix_gd2.replies.append(SILENT)
    with pytest.raises(http.TransportError) as caught:
        http.request(http.Endpoint(unix_path=unix_gd2.address), "GET", "/", headers=[], timeout=0.2)
    assert (caught.value.reason, caught.value.sent) == ("no answer within 0.2 s", True)


def test_unreachable(tmp_path: Path) -> None:
    with pytest.raises(http.TransportError) as caught:
        http.request(http.Endpoint(unix_path=str(tmp_path / "missing.sock")), "GET", "/", headers=[], timeout=1)
    assert (caught.value.reason, caught.value.sent) == ("no such socket", False)
    with socket.socket(socket.AF_UNIX) as bound:  # a socket file nobody listens on: a daemon that died
        bound.bind(str(tmp_path / "stale.sock"))
        with pytest.raises(http.TransportError) as caught:
            http.request(http.Endpoint(unix_path=str(tmp_path / "stale.sock")), "GET", "/", headers=[], timeout=1)
    assert caught.value.reason == "connection refused"
    with socket.socket() as bound:  # bound but not listening: refused
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        with pytest.raises(http.TransportError) as caught:
            http.request(http.Endpoint(host="127.0.0.1", port=port), "GET", "/", headers=[], timeout=1)
    assert caught.value.reason == "connection refused"


def test_error_reasons() -> None:
    # Root cannot be refused a socket, so check the translation itself.
    assert http._reason(PermissionError(13, "Permission denied"), 1) == "permission denied"
    assert http._reason(TimeoutError(), 2.5) == "timed out after 2.5 s"
    assert http._reason(OSError(99, "Cannot assign requested address"), 1) == "cannot assign requested address"


# --- gd2ctl commands in-process -----------------------------------------------------------------


def test_volume_create(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    unix_gd2.replies.append(reply(201, VOLUME, reason="Created"))
    code, out, err = gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "create", "v1", "replica", "2",
                            "127.0.0.21:/bricks/b1", "127.0.0.21:/bricks/b2", "force")
    assert (code, out, err) == (0, "volume create: v1: success: please start the volume to access data\n", "")
    line, headers, body = split_request(unix_gd2.requests[0])
    assert line == "POST /v1/volumes HTTP/1.1"
    assert json.loads(body) == {"name": "v1", "replica": 2, "force": True,
                                "bricks": ["127.0.0.21:/bricks/b1", "127.0.0.21:/bricks/b2"]}
    assert headers["Content-Type"] == "application/json"
    assert headers["Content-Length"] == str(len(body))
    assert headers["Connection"] == "close"
    assert headers["User-Agent"] == f"gd2ctl/{gd2.__version__}"
    assert re.fullmatch(r"[0-9a-f]{16}", headers["X-Request-ID"])
    assert "Authorization" not in headers


def test_request_ids_differ(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    for _ in range(2):
        assert gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "list")[0] == 0
    ids = {split_request(raw)[1]["X-Request-ID"] for raw in unix_gd2.requests}
    assert len(ids) == 2


def test_volume_info_and_list(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    unix_gd2.replies += [reply(200, VOLUME), reply(200, {"volumes": [VOLUME]}, chunked=True),
                         reply(200, {"volumes": []})]
    code, out, _ = gd2ctl(capsys, "volume", "info", "v1", env={"GD2_SOCKET": unix_gd2.address})
    assert code == 0
    assert out.startswith("\nVolume Name: v1\nType: Replicate\n")
    assert "Number of Bricks: 1 x 2 = 2\n" in out
    assert out.endswith("Options Reconfigured:\nnfs.disable: on\n")
    assert gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "list") == (0, "v1\n", "")
    assert gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "info", "all") == (0, "No volumes present\n", "")
    assert [split_request(r)[0] for r in unix_gd2.requests] == [
        "GET /v1/volumes/v1 HTTP/1.1", "GET /v1/volumes HTTP/1.1", "GET /v1/volumes HTTP/1.1"]


def test_json_output(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    unix_gd2.replies += [reply(200, {"volumes": [VOLUME]}), reply(204, reason="No Content", length=False)]
    code, out, _ = gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "list", "--json")
    assert code == 0 and json.loads(out) == {"volumes": [VOLUME]}
    assert gd2ctl(capsys, "--json", "--socket", unix_gd2.address, "volume", "delete", "v1") == (0, "{}\n", "")


def test_delete_peers_debug_version(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    peer = {"id": "p1", "name": "n1", "addresses": ["127.0.0.11"], "cluster_id": "c", "online": True}
    unix_gd2.replies += [
        reply(204, reason="No Content", length=False),
        reply(200, {"peers": [peer]}),
        reply(200, {"entries": [{"key": "gd2/c/x", "schema_version": 1, "kind": "k", "value": 1}]}),
        reply(200, {"version": "9.9", "api": "v1"}),
    ]
    sock = ("--socket", unix_gd2.address)
    assert gd2ctl(capsys, *sock, "volume", "delete", "v1") == (0, "volume delete: v1: success\n", "")
    assert gd2ctl(capsys, *sock, "pool", "list") == (
        0, "UUID  Name  Addresses   State\np1    n1    127.0.0.11  Connected\n", "")
    assert gd2ctl(capsys, *sock, "debug", "store", "gd2/c") == (0, "gd2/c/x (k, schema 1)\n  1\n", "")
    assert gd2ctl(capsys, *sock, "version") == (0, f"gd2ctl {gd2.__version__}\nglusterd2 9.9 (API v1)\n", "")
    assert [split_request(r)[0] for r in unix_gd2.requests] == [
        "DELETE /v1/volumes/v1 HTTP/1.1", "GET /v1/peers HTTP/1.1", "GET /v1/debug/store?prefix=gd2/c HTTP/1.1",
        "GET /version HTTP/1.1"]


def test_api_error_is_one_line_with_request_id(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    unix_gd2.replies.append(error(404, "not_found", "volume v9 does not exist", {"name": "v9"}))
    code, out, err = gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "info", "v9")
    reqid = split_request(unix_gd2.requests[0])[1]["X-Request-ID"]
    assert (code, out, err) == (1, "", f"gd2ctl: volume v9 does not exist [reqid={reqid}]\n")


def test_api_error_prefers_the_servers_request_id(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    body = {"error": {"code": "invalid", "message": "layout refused", "fields": {"bricks": "same server"}}}
    unix_gd2.replies.append(reply(422, body, reason="Unprocessable", headers=("x-request-id: srv1",)))
    code, _, err = gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "create", "v", "h:/a")
    assert (code, err) == (1, "gd2ctl: layout refused (bricks: same server) [reqid=srv1]\n")


@pytest.mark.parametrize(("answer", "line"), [
    (reply(502, b"<html>\nproxy down</html>", reason="Bad Gateway"), "HTTP 502 Bad Gateway: <html>"),
    (reply(500, b"", reason="Internal Server Error"), "HTTP 500 Internal Server Error"),
    (reply(200, b"not json"), "glusterd2 sent invalid JSON"),
    (reply(200, b"[1]"), "glusterd2 sent an unexpected answer (a JSON list)"),
])
def test_odd_answers(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str], answer: bytes, line: str) -> None:
    unix_gd2.replies.append(answer)
    code, out, err = gd2ctl(capsys, "--socket", unix_gd2.address, "volume", "list")
    assert (code, out) == (1, "")
    assert err.startswith(f"gd2ctl: {line}") and err.count("\n") == 1 and "[reqid=" in err


def test_tcp_token_sources(tcp_gd2: FakeGd2, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    secret = tmp_path / "auth"
    secret.write_bytes(b"s3cret-s3cret-s3cret-s3cret-s3cret\n")
    derived = hmac.new(b"s3cret-s3cret-s3cret-s3cret-s3cret", b"gd2-rest-token-v1", hashlib.sha256).hexdigest()
    endpoint = ("--endpoint", tcp_gd2.address)
    assert gd2ctl(capsys, *endpoint, "--token", "tok", "volume", "list")[0] == 0
    assert gd2ctl(capsys, *endpoint, "volume", "list", env={"GD2_TOKEN": "envtok"})[0] == 0
    assert gd2ctl(capsys, *endpoint, "--secret-file", str(secret), "volume", "list",
                  env={"GD2_TOKEN": "envtok"})[0] == 0
    assert [split_request(r)[1]["Authorization"] for r in tcp_gd2.requests] == [
        "Bearer tok", "Bearer envtok", f"Bearer {derived}"]
    assert split_request(tcp_gd2.requests[0])[1]["Host"] == tcp_gd2.address.removeprefix("http://")


def test_unreadable_secret(tcp_gd2: FakeGd2, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "none"
    code, _, err = gd2ctl(capsys, "--endpoint", tcp_gd2.address, "--secret-file", str(missing), "volume", "list")
    assert (code, err) == (1, f"gd2ctl: cannot read the token secret {missing}: no such file or directory "
                              "(give --token or set GD2_TOKEN)\n")
    assert tcp_gd2.requests == []


def test_unauthorized_hint(tcp_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    tcp_gd2.replies.append(error(401, "unauthorized", "unauthorized: invalid bearer token"))
    code, _, err = gd2ctl(capsys, "--endpoint", tcp_gd2.address, "--token", "bad", "volume", "list")
    assert code == 1
    assert err.startswith("gd2ctl: unauthorized: invalid bearer token (check --token, GD2_TOKEN or --secret-file)")


def test_unreachable_daemon(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gd2.sock"
    assert gd2ctl(capsys, "--socket", str(path), "volume", "list") == (
        1, "", f"gd2ctl: cannot reach glusterd2 at {path}: no such socket (is glusterd2 running?)\n")
    with socket.socket(socket.AF_UNIX) as bound:
        bound.bind(str(path))
        assert gd2ctl(capsys, "--socket", str(path), "version") == (
            1, f"gd2ctl {gd2.__version__}\n",
            f"gd2ctl: cannot reach glusterd2 at {path}: connection refused (is glusterd2 running?)\n")


def test_timeout(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str]) -> None:
    unix_gd2.replies.append(SILENT)
    code, _, err = gd2ctl(capsys, "--socket", unix_gd2.address, "--timeout", "0.2", "volume", "list")
    reqid = split_request(unix_gd2.requests[0])[1]["X-Request-ID"]
    assert (code, err) == (1, f"gd2ctl: request to glusterd2 at {unix_gd2.address} failed: "
                              f"no answer within 0.2 s [reqid={reqid}]\n")


@pytest.mark.parametrize("argv", [
    ["volume", "create", "v1", "replica", "x", "h:/a"],
    ["volume", "create", "v1"],
    ["volume", "create", "v1", "arbiter", "1", "h:/a"],
    ["volume", "frob"],
    ["--endpoint", "https://h:1", "volume", "list"],
    [],
])
def test_usage_errors_send_nothing(unix_gd2: FakeGd2, capsys: pytest.CaptureFixture[str], argv: list[str]) -> None:
    code, out, err = gd2ctl(capsys, "--socket", unix_gd2.address, *argv)
    assert (code, out) == (2, "")
    assert err.startswith("gd2ctl: ") and err.endswith(" (see 'gd2ctl help')\n") and err.count("\n") == 1
    assert unix_gd2.requests == []


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    for argv in (["help"], ["--help"], ["volume", "-h"]):
        code, out, err = gd2ctl(capsys, *argv)
        assert (code, err) == (0, "")
        for command in ("volume create NAME", "volume delete NAME", "volume info [NAME|all]", "volume list",
                        "peer list", "debug store [PREFIX]", "version", "--endpoint URL", "--json"):
            assert command in out


# --- gd2ctl as a process ------------------------------------------------------------------------


def run_gd2ctl(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    root = str(Path(gd2.__file__).resolve().parents[1])
    base = {k: v for k, v in os.environ.items() if not k.startswith("GD2_")}
    base["PYTHONPATH"] = os.pathsep.join([root, *filter(None, [os.environ.get("PYTHONPATH")])])
    return subprocess.run([sys.executable, "-m", "gd2.cli.main", *argv], env={**base, **(env or {})},
                          capture_output=True, text=True, timeout=60, check=False)


def test_process_success_and_api_error(unix_gd2: FakeGd2) -> None:
    unix_gd2.replies += [reply(200, VOLUME), error(409, "conflict", "volume v1 already exists")]
    done = run_gd2ctl("volume", "info", "v1", env={"GD2_SOCKET": unix_gd2.address})
    assert (done.returncode, done.stderr) == (0, "")
    assert "Brick2: 127.0.0.21:/bricks/b2\n" in done.stdout
    done = run_gd2ctl("--socket", unix_gd2.address, "volume", "create", "v1", "h:/b")
    reqid = split_request(unix_gd2.requests[1])[1]["X-Request-ID"]
    assert (done.returncode, done.stdout, done.stderr) == (
        1, "", f"gd2ctl: volume v1 already exists [reqid={reqid}]\n")


def test_process_unreachable_usage_and_help(tmp_path: Path) -> None:
    done = run_gd2ctl("version", env={"GD2_SOCKET": str(tmp_path / "no.sock")})
    assert (done.returncode, done.stderr) == (
        1, f"gd2ctl: cannot reach glusterd2 at {tmp_path / 'no.sock'}: no such socket (is glusterd2 running?)\n")
    done = run_gd2ctl("volume", "create", "v1", "replica", "x", "h:/a")
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "gd2ctl: replica count must be a number, not 'x' (see 'gd2ctl help')\n"
    done = run_gd2ctl("help")
    assert (done.returncode, done.stderr) == (0, "") and "usage: gd2ctl" in done.stdout


def test_process_internal_error_has_no_traceback(unix_gd2: FakeGd2) -> None:
    broken = {**VOLUME, "bricks": 5}  # a daemon bug: gd2ctl must still say one line
    unix_gd2.replies.append(reply(200, broken))
    done = run_gd2ctl("--socket", unix_gd2.address, "volume", "info", "v1")
    assert done.returncode == 70
    assert done.stderr.startswith("gd2ctl: internal error: TypeError: ") and done.stderr.count("\n") == 1


def test_process_broken_pipe(unix_gd2: FakeGd2) -> None:
    unix_gd2.replies.append(reply(200, {"volumes": [{**VOLUME, "name": f"v{i}"} for i in range(20000)]}))
    root = str(Path(gd2.__file__).resolve().parents[1])
    # Unbuffered, CPython drops a partly written big string silently; buffered is the usual case.
    env = {**{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}, "PYTHONPATH": root}
    with subprocess.Popen([sys.executable, "-m", "gd2.cli.main", "--socket", unix_gd2.address, "volume", "list"],
                          env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None and proc.stderr is not None
        assert proc.stdout.read(3) == b"v0\n"
        proc.stdout.close()
        err = proc.stderr.read()
    assert (proc.returncode, err) == (1, b"")
