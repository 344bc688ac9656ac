"""This node's TLS material on disk (``localstatedir/tls``): made at a pool's birth, replaced on a join.

Kept apart from gd2.daemon.state because ``cryptography`` is slow to import:
this module is loaded with the other heavy ones while etcd starts.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from gd2.daemon.state import TLS_DIR
from gd2.model.node import LocalNode
from gd2.peer import pki
from gd2.peer.pki import CertifiedKey, TLSMaterial

CA_KEY_FILE = "ca.key"


def load_or_create_tls(localstatedir: Path, node: LocalNode) -> tuple[TLSMaterial, CertifiedKey | None]:
    """This node's TLS material; at a pool's birth, a new CA too (returned with its key, kept 0600)."""
    directory = localstatedir / TLS_DIR
    if (directory / pki.NODE_CERT_FILE).exists():
        tls = pki.load_tls(directory)
        ca_key = directory / CA_KEY_FILE
        ca = CertifiedKey(tls.ca_cert, ca_key.read_bytes()) if ca_key.exists() else None
        return tls, ca
    ca = pki.create_ca(node.cluster_id)
    own = pki.issue_node_cert(ca, node.peer_id, node.addresses)
    tls = TLSMaterial(ca_cert=ca.cert, node_cert=own.cert, node_key=own.key)
    pki.save_tls(directory, tls)
    pki.save_pem(directory / CA_KEY_FILE, ca.key, private=True)
    return tls, ca


def adopt_tls(localstatedir: Path, tls: TLSMaterial) -> None:
    """Replace this node's TLS material with a pool's (after a join); the old CA key goes."""
    directory = localstatedir / TLS_DIR
    pki.save_tls(directory, tls)
    with contextlib.suppress(FileNotFoundError):
        (directory / CA_KEY_FILE).unlink()
