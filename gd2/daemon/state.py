"""State kept on this node's disk: its identity and the REST auth secret."""

from __future__ import annotations

import json
import os
import secrets
import socket
import uuid
from pathlib import Path

from gd2.errors import ConfigError
from gd2.model.node import LocalNode

NODE_FILE = "node.json"


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
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
