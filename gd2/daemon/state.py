"""State kept on this node's disk: its identity, its pool settings, its TLS material and the REST secret."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import socket
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from gd2.errors import ConfigError
from gd2.model.node import LocalNode
from gd2.store.tls import EtcdTLS

NODE_FILE = "node.json"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask and ignored for a stale temp file
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def load_or_create_node(localstatedir: Path, address: str) -> LocalNode:
    """This node's peer id and cluster id, created at first start and kept."""
    path = localstatedir / NODE_FILE
    try:
        raw = json.loads(path.read_text())
        peer_id, cluster_id = str(uuid.UUID(raw["peer_id"])), str(uuid.UUID(raw["cluster_id"]))
    except FileNotFoundError:
        peer_id, cluster_id = str(uuid.uuid4()), str(uuid.uuid4())
        data = json.dumps({"peer_id": peer_id, "cluster_id": cluster_id}, indent=1).encode()
        _write_atomically(path, data, 0o644)
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); restore it or move it away to start as a new node"
                          ) from None
    return LocalNode(peer_id=peer_id, cluster_id=cluster_id, name=socket.gethostname(),
                     addresses=(address,))


def load_or_create_secret(path: Path) -> bytes:
    """The secret REST tokens are derived from (0600, created at first start)."""
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        secret = secrets.token_hex(32).encode()
        _write_atomically(path, secret + b"\n", 0o600)
        return secret
    if len(secret) < 32:
        raise ConfigError(f"{path} holds a secret shorter than 32 bytes; remove it to generate a new one")
    return secret


POOL_FILE = "pool.json"
TLS_DIR = "tls"
# gd2.peer.pki's file names (not imported from there: cryptography is slow to import).
CA_FILE, NODE_CERT_FILE, NODE_KEY_FILE = "ca.pem", "node.pem", "node.key"


def private_dir(path: Path) -> None:
    """Make ``path`` a directory only its owner (root) can enter, whatever the umask or its old mode."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(path, 0o700)
    except OSError as exc:
        raise ConfigError(f"cannot create {path}: {exc.strerror}") from None


def has_tls(localstatedir: Path) -> bool:
    """Whether this node has its certificate yet (it has none before its pool's birth)."""
    return (localstatedir / TLS_DIR / NODE_CERT_FILE).exists()


def node_etcd_tls(localstatedir: Path) -> EtcdTLS:
    """The pool's etcd, served and reached with this node's certificate from the pool CA."""
    directory = localstatedir / TLS_DIR
    return EtcdTLS(directory / CA_FILE, directory / NODE_CERT_FILE, directory / NODE_KEY_FILE)


@dataclass(frozen=True)
class PoolState:
    """How this node takes part in its pool's etcd (``localstatedir/pool.json``).

    A node is born a pool of one: an etcd member of a new cluster.  Joining
    (or being promoted) makes it a member of an existing cluster
    (``initial_state`` "existing", with ``reset_etcd`` until its fresh etcd
    has started once) or a client of the members' ``endpoints``.
    """

    etcd_role: str = "member"
    initial_cluster: dict[str, str] = field(default_factory=dict)
    initial_state: str = "new"
    endpoints: tuple[str, ...] = ()
    reset_etcd: bool = False


def load_pool(localstatedir: Path) -> PoolState:
    path = localstatedir / POOL_FILE
    try:
        raw = json.loads(path.read_text())
        return PoolState(etcd_role=str(raw["etcd_role"]), initial_cluster=dict(raw["initial_cluster"]),
                         initial_state=str(raw["initial_state"]), endpoints=tuple(raw["endpoints"]),
                         reset_etcd=bool(raw.get("reset_etcd", False)))
    except FileNotFoundError:
        return PoolState()
    except (ValueError, KeyError, TypeError, OSError) as exc:
        raise ConfigError(f"{path} is damaged ({exc}); restore it or move it away") from None


def save_pool(localstatedir: Path, pool: PoolState) -> None:
    data = {"etcd_role": pool.etcd_role, "initial_cluster": pool.initial_cluster,
            "initial_state": pool.initial_state, "endpoints": list(pool.endpoints), "reset_etcd": pool.reset_etcd}
    _write_atomically(localstatedir / POOL_FILE, json.dumps(data, indent=1).encode(), 0o644)


def set_cluster_id(localstatedir: Path, node: LocalNode, cluster_id: str) -> None:
    """Record the pool this node now belongs to (joined, or left and born again)."""
    data = json.dumps({"peer_id": node.peer_id, "cluster_id": cluster_id}, indent=1).encode()
    _write_atomically(localstatedir / NODE_FILE, data, 0o644)


def forget_pool(localstatedir: Path, node: LocalNode) -> None:
    """After being removed from a pool: start over as a pool of one (new cluster id, CA, etcd)."""
    shutil.rmtree(localstatedir / TLS_DIR, ignore_errors=True)
    with contextlib.suppress(FileNotFoundError):
        (localstatedir / POOL_FILE).unlink()
    save_pool(localstatedir, PoolState(reset_etcd=True))
    set_cluster_id(localstatedir, node, str(uuid.uuid4()))
