"""The pool's small PKI: one certificate authority per cluster, one key pair per node.

Every node is born with a one-node pool of its own: a fresh cluster CA and a
node certificate signed by it.  Joining a pool replaces both: the node makes a
new key and a certificate signing request (CSR), a member signs the CSR with
the pool's CA, and the node keeps the key (it never leaves the node).

Keys are EC P-256 (ECDSA with SHA-256): grpc's TLS stack (BoringSSL) accepts
them for TLS 1.2 and 1.3 alike, and they are small.  Lifetimes: the CA is
valid for :data:`CA_LIFETIME` (10 years), node certificates for
:data:`NODE_LIFETIME` (2 years).  Node certificates name the peer id as their
common name and as a DNS subject alternative name, and the node's IP
addresses as IP subject alternative names.

Everything here is a pure function over PEM bytes, plus :func:`save_tls` /
:func:`load_tls` for the three files of a node (``ca.pem``, ``node.pem``,
``node.key``, the key with mode 0600).  Malformed input and certificates that
do not belong to the CA raise :class:`CertificateError`.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from gd2.errors import InvalidRequest

CA_LIFETIME = dt.timedelta(days=3650)
NODE_LIFETIME = dt.timedelta(days=730)
# Clocks of pool members differ a little; a certificate is valid from a bit before it was made.
CLOCK_SKEW = dt.timedelta(minutes=5)

CA_FILE = "ca.pem"
NODE_CERT_FILE = "node.pem"
NODE_KEY_FILE = "node.key"


class CertificateError(InvalidRequest):
    """A PEM key, CSR or certificate is malformed, or does not belong to the cluster CA."""


@dataclass(frozen=True)
class CertifiedKey:
    """A certificate and its private key, both PEM."""

    cert: bytes
    key: bytes


@dataclass(frozen=True)
class TLSMaterial:
    """What a node needs to speak to its pool: the cluster CA and its own certificate and key (PEM)."""

    ca_cert: bytes
    node_cert: bytes
    node_key: bytes


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _new_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def load_key(pem: bytes) -> ec.EllipticCurvePrivateKey:
    """Parse a PEM private key; it must be an EC key."""
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as exc:
        raise CertificateError(f"not a usable PEM private key: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise CertificateError("the private key is not an EC key")
    return key


def load_cert(pem: bytes) -> x509.Certificate:
    """Parse one PEM certificate."""
    try:
        return x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate: {exc}") from None


def load_csr(pem: bytes) -> x509.CertificateSigningRequest:
    """Parse a PEM certificate signing request and check its self-signature."""
    try:
        csr = x509.load_pem_x509_csr(pem)
    except ValueError as exc:
        raise CertificateError(f"not a PEM certificate signing request: {exc}") from None
    if not csr.is_signature_valid:
        raise CertificateError("the certificate signing request's signature does not match its key")
    return csr


def _common_name(name: x509.Name) -> str:
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(values) != 1:
        raise CertificateError("expected exactly one common name")
    value = values[0].value
    return value.decode() if isinstance(value, bytes) else value


def _general_names(addresses: Iterable[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for address in addresses:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(address)))
        except ValueError:
            names.append(x509.DNSName(address))
    return names


def cert_names(cert_pem: bytes) -> tuple[list[str], list[str]]:
    """The DNS names and the IP addresses a certificate is valid for (its SANs)."""
    try:
        sans = load_cert(cert_pem).extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], []
    return list(sans.get_values_for_type(x509.DNSName)), [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]


def fingerprint(cert_pem: bytes) -> str:
    """SHA-256 fingerprint of a certificate, ``AB:CD:...``, for an admin to compare."""
    return load_cert(cert_pem).fingerprint(hashes.SHA256()).hex(":").upper()


def create_ca(cluster_id: str, *, now: dt.datetime | None = None) -> CertifiedKey:
    """Make a new self-signed cluster CA named after the cluster id."""
    start = (now or _now()) - CLOCK_SKEW
    key = _new_key()
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "glusterd2"),
                      x509.NameAttribute(NameOID.COMMON_NAME, f"glusterd2 cluster {cluster_id}")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + CA_LIFETIME)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    return CertifiedKey(cert.public_bytes(serialization.Encoding.PEM), _key_pem(key))


def new_node_key() -> bytes:
    """A fresh node private key (PEM, unencrypted: protect the file, see :func:`save_tls`)."""
    return _key_pem(_new_key())


def make_csr(key_pem: bytes, peer_id: str, addresses: Iterable[str]) -> bytes:
    """A CSR for ``key_pem`` with CN = ``peer_id`` and the node's addresses as SANs."""
    key = load_key(key_pem)
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, peer_id)]))
    names = _general_names(addresses)
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def csr_peer_id(csr_pem: bytes) -> str:
    """The peer id (CN) a CSR asks for."""
    return _common_name(load_csr(csr_pem).subject)


def sign_csr(ca: CertifiedKey, csr_pem: bytes, *, expected_peer_id: str | None = None,
             now: dt.datetime | None = None) -> bytes:
    """Sign a node CSR with the cluster CA: a client+server certificate valid for :data:`NODE_LIFETIME`.

    Only the CN and the IP address SANs of the CSR are used; the certificate
    also names the peer id as a DNS SAN, and every other extension is ours.
    With ``expected_peer_id`` the CSR must name exactly that peer.
    """
    csr = load_csr(csr_pem)
    peer_id = _common_name(csr.subject)
    if expected_peer_id is not None and peer_id != expected_peer_id:
        raise CertificateError(f"the CSR is for peer {peer_id!r}, expected {expected_peer_id!r}")
    ca_cert = load_cert(ca.cert)
    ca_key = load_key(ca.key)
    if ca_cert.public_key() != ca_key.public_key():
        raise CertificateError("the CA key does not match the CA certificate")
    start = (now or _now()) - CLOCK_SKEW
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, peer_id)]))
        .issuer_name(ca_cert.subject)
        .public_key(csr.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(min(start + NODE_LIFETIME, ca_cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=False, crl_sign=False,
                                     content_commitment=False, key_encipherment=False, data_encipherment=False,
                                     key_agreement=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]),
                       critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), critical=False)
    )
    # The peer id as a DNS name lets a member check it reached the peer it meant
    # (grpc's target name override); other DNS names a CSR asks for are dropped.
    names: list[x509.GeneralName] = [x509.DNSName(peer_id)]
    try:
        requested = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names += [x509.IPAddress(ip) for ip in requested.get_values_for_type(x509.IPAddress)]
    except x509.ExtensionNotFound:
        pass
    builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def issue_node_cert(ca: CertifiedKey, peer_id: str, addresses: Iterable[str],
                    *, now: dt.datetime | None = None) -> CertifiedKey:
    """A new node key and its certificate from ``ca``: what a node makes for itself at birth."""
    key = new_node_key()
    return CertifiedKey(sign_csr(ca, make_csr(key, peer_id, addresses), now=now), key)


def verify_node_cert(cert_pem: bytes, ca_cert_pem: bytes, *, now: dt.datetime | None = None) -> str:
    """Check that ``cert_pem`` was signed by the CA and is valid now; return its peer id (CN)."""
    cert = load_cert(cert_pem)
    ca_cert = load_cert(ca_cert_pem)
    if cert.issuer != ca_cert.subject:
        raise CertificateError("the certificate was not issued by this cluster's CA")
    try:
        cert.verify_directly_issued_by(ca_cert)
    except (ValueError, TypeError, InvalidSignature):
        raise CertificateError("the certificate was not issued by this cluster's CA") from None
    moment = now or _now()
    if not cert.not_valid_before_utc <= moment <= cert.not_valid_after_utc:
        raise CertificateError(
            f"the certificate is valid from {cert.not_valid_before_utc:%Y-%m-%d} "
            f"to {cert.not_valid_after_utc:%Y-%m-%d}, not now")
    return _common_name(cert.subject)


def cert_peer_id(cert_pem: bytes) -> str:
    """The common name (the peer id) of a certificate, without checking who signed it."""
    return _common_name(load_cert(cert_pem).subject)


def key_matches_cert(key_pem: bytes, cert_pem: bytes) -> bool:
    """Whether the private key belongs to the certificate."""
    return load_key(key_pem).public_key() == load_cert(cert_pem).public_key()


def check_material(tls: TLSMaterial) -> str:
    """Check a node's TLS material is coherent (cert from the CA, key matches); return the peer id."""
    peer_id = verify_node_cert(tls.node_cert, tls.ca_cert)
    if not key_matches_cert(tls.node_key, tls.node_cert):
        raise CertificateError("the node key does not match the node certificate")
    return peer_id


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)  # O_CREAT's mode is masked by the umask and ignored for an existing file
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def save_pem(path: Path, data: bytes, *, private: bool) -> None:
    """Write a PEM file atomically; private keys get mode 0600, certificates 0644."""
    _write_atomically(path, data, 0o600 if private else 0o644)


def save_tls(directory: Path, tls: TLSMaterial) -> None:
    """Write ``ca.pem``, ``node.pem`` and ``node.key`` (0600) into ``directory`` (made 0700 if missing)."""
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    os.chmod(directory, 0o700)  # whatever the umask, or the mode it had
    save_pem(directory / NODE_KEY_FILE, tls.node_key, private=True)
    save_pem(directory / NODE_CERT_FILE, tls.node_cert, private=False)
    save_pem(directory / CA_FILE, tls.ca_cert, private=False)


def load_tls(directory: Path) -> TLSMaterial:
    """Read and check the three files written by :func:`save_tls`."""
    try:
        tls = TLSMaterial(ca_cert=(directory / CA_FILE).read_bytes(),
                          node_cert=(directory / NODE_CERT_FILE).read_bytes(),
                          node_key=(directory / NODE_KEY_FILE).read_bytes())
    except OSError as exc:
        raise CertificateError(f"cannot read TLS files in {directory}: {exc.strerror}") from None
    check_material(tls)
    return tls
