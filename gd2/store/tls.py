"""TLS to etcd: which files are used, the probes' SSL context, and a refused handshake explained.

The pool CA's private key is kept in etcd (``pki/ca``), so whoever can read
etcd can mint member certificates: etcd must never answer without a client
certificate.  glusterd2's own etcd (gd2.store.embedded) serves https on its
client *and* peer URLs with the node's certificate from the pool CA
(``localstatedir/tls/node.pem``), and requires a client certificate from that
CA on both; glusterd2 connects with the same certificate.  An external etcd
(``etcd-endpoints``) is reached with the files of ``etcd-ca-file``,
``etcd-cert-file`` and ``etcd-key-file``, or over plain http only when the
admin set ``etcd-allow-http``.

gRPC reports a refused handshake as "failed to connect" or "Socket closed".
:func:`explain_tls_failure` redoes the handshake with Python's ``ssl`` to
say which side refused which certificate, in one line.

Only ``ssl`` and ``socket`` here (no gRPC, no cryptography): the embedded
etcd's health probe imports this module on the daemon's way to its first
answer.
"""

from __future__ import annotations

import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from gd2.errors import Unavailable


class EtcdTLSError(Unavailable):
    """A TLS handshake with etcd failed because of a certificate (or http spoken to https)."""


@dataclass(frozen=True)
class EtcdTLS:
    """The PEM files of a TLS connection to etcd (or of etcd's own server side)."""

    # The CA that signed etcd's certificate; None: the system's trusted CAs (external etcd only).
    ca_file: Path | None
    # This side's certificate and key: glusterd2's client certificate, or etcd's server certificate.
    cert_file: Path | None = None
    key_file: Path | None = None

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise ValueError("a TLS certificate needs its key, and a key its certificate")

    @property
    def has_client_cert(self) -> bool:
        return self.cert_file is not None

    def ssl_context(self) -> ssl.SSLContext:
        """A client context: verifies etcd's certificate (and its IP or name) and presents ours."""
        context = ssl.create_default_context(cafile=None if self.ca_file is None else str(self.ca_file))
        if self.cert_file is not None and self.key_file is not None:
            context.load_cert_chain(str(self.cert_file), str(self.key_file))
        return context

    def read(self) -> tuple[bytes | None, bytes | None, bytes | None]:
        """The CA, the key and the certificate as bytes (gRPC's ``ssl_channel_credentials`` order)."""
        def read(path: Path | None) -> bytes | None:
            return None if path is None else path.read_bytes()

        return read(self.ca_file), read(self.key_file), read(self.cert_file)


def check_files(tls: EtcdTLS) -> str | None:
    """A one-line problem with the files (unreadable, not PEM, key not the certificate's), or None."""
    try:
        tls.ssl_context()
    except FileNotFoundError as exc:
        return f"{exc.filename}: no such file"
    except PermissionError as exc:
        return f"{exc.filename}: permission denied"
    except ssl.SSLError as exc:
        files = ", ".join(str(p) for p in (tls.ca_file, tls.cert_file, tls.key_file) if p is not None)
        return f"cannot use {files}: {exc.reason or exc}"
    except OSError as exc:
        return f"cannot read the TLS files: {exc}"
    return None


# Alerts a TLS server sends when it refuses the client's certificate (or wants one).
_CLIENT_CERT_REFUSED = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "UNKNOWN_CA", "CERTIFICATE_UNKNOWN",
                        "HANDSHAKE_FAILURE", "ACCESS_DENIED", "CERTIFICATE_EXPIRED")


def _reason(exc: ssl.SSLError) -> str:
    return str(exc.reason or exc).upper()


def explain_tls_failure(url: str, tls: EtcdTLS | None, timeout: float = 2.0) -> str | None:
    """Why a TLS (or plain http) connection to etcd at ``url`` fails, in one line; None if it works
    or if the failure is not about TLS (nothing listens, say).  Blocking: run it in a thread."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 0
    try:
        raw = socket.create_connection((host, port), timeout=timeout)
    except OSError:
        return None
    with raw:
        if parts.scheme == "http" or tls is None:
            return _explain_plain(url, raw)
        try:
            context = tls.ssl_context()
        except (OSError, ssl.SSLError):
            return None  # check_files reports those
        try:
            conn = context.wrap_socket(raw, server_hostname=host)
        except ssl.SSLCertVerificationError as exc:
            ca = tls.ca_file or "the system's trusted CAs"
            return (f"etcd at {url} presented a certificate that {ca} does not vouch for "
                    f"({exc.verify_message}): wrong CA file, or not the etcd meant")
        except ssl.SSLError as exc:
            if any(alert in _reason(exc) for alert in _CLIENT_CERT_REFUSED):
                return _refused(url, tls, str(exc.reason))
            if _speaks_plain_http(host, port, timeout):
                return f"etcd at {url} does not speak TLS: it is a plain http endpoint"
            return f"TLS with etcd at {url} failed: {exc.reason or exc}"
        except OSError:
            return None
        # TLS 1.3: the server checks the client certificate after the handshake, then sends an alert
        # or just closes the connection.
        with conn:
            try:
                conn.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                reply = conn.recv(64)
            except ssl.SSLError as exc:
                return _refused(url, tls, str(exc.reason or exc))
            except TimeoutError:
                return None  # it took the certificate; it is slow to answer (no quorum, say)
            except OSError as exc:
                return _refused(url, tls, exc.strerror or str(exc))
    if reply == b"":
        return _refused(url, tls, "connection closed")
    return None


def _refused(url: str, tls: EtcdTLS, reason: str) -> str:
    if not tls.has_client_cert:
        return f"etcd at {url} requires a client certificate ({reason}); set etcd-cert-file and etcd-key-file"
    return (f"etcd at {url} refused the client certificate {tls.cert_file} ({reason}): "
            "it is not from a CA that etcd trusts")


def _speaks_plain_http(host: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            raw.sendall(f"GET /health HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            return raw.recv(16).startswith(b"HTTP/1.")
    except OSError:
        return False


def _explain_plain(url: str, raw: socket.socket) -> str | None:
    """An http endpoint that does not answer: does it speak TLS instead?  (etcd's client port does not
    even answer plain http: it closes the connection.)"""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # only to learn whether it speaks TLS at all; nothing is sent
    try:
        with context.wrap_socket(raw, server_hostname=urlsplit(url).hostname):
            pass
    except (OSError, ssl.SSLError):
        return None
    return f"etcd at {url} speaks https, not http: use an https:// endpoint and etcd's CA (etcd-ca-file)"
