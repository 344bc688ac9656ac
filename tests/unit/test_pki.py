"""The cluster PKI (gd2.peer.pki): CA, CSR, signing, chain checks and the key files."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from gd2.errors import InvalidRequest
from gd2.peer import pki
from gd2.peer.pki import CertificateError, TLSMaterial

PEER = "6f1c2a3e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def ca() -> pki.CertifiedKey:
    return pki.create_ca("cluster-a")


def test_a_signed_csr_chains_to_its_ca(ca: pki.CertifiedKey) -> None:
    key = pki.new_node_key()
    csr = pki.make_csr(key, PEER, ["127.0.3.101", "node1.example"])
    assert pki.csr_peer_id(csr) == PEER
    cert = pki.sign_csr(ca, csr, expected_peer_id=PEER)
    assert pki.verify_node_cert(cert, ca.cert) == PEER
    assert pki.key_matches_cert(key, cert)
    dns, ips = pki.cert_names(cert)
    assert dns == [PEER]  # the peer id is a DNS SAN; other DNS names of the CSR are dropped
    assert ips == ["127.0.3.101"]
    assert pki.check_material(TLSMaterial(ca.cert, cert, key)) == PEER


def test_a_node_certificate_suits_etcd_as_server_and_client(ca: pki.CertifiedKey) -> None:
    """etcd serves its client and peer URLs with the node certificate and presents it to other members;
    glusterd2 presents it to etcd: both TLS roles, the node's IP (etcd's URLs name it), a signing key."""
    own = pki.issue_node_cert(ca, PEER, ["127.0.3.101"])
    cert = x509.load_pem_x509_certificate(own.cert)
    usages = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert {ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH} <= set(usages)
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert key_usage.digital_signature  # ECDSA: TLS signs with the key, it never encrypts a secret with it
    assert not cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    assert pki.cert_names(own.cert)[1] == ["127.0.3.101"]


def test_lifetimes(ca: pki.CertifiedKey) -> None:
    ca_cert = pki.load_cert(ca.cert)
    node_cert = pki.load_cert(pki.issue_node_cert(ca, PEER, []).cert)
    assert ca_cert.not_valid_after_utc - ca_cert.not_valid_before_utc == pki.CA_LIFETIME
    assert node_cert.not_valid_after_utc - node_cert.not_valid_before_utc == pki.NODE_LIFETIME


def test_a_certificate_of_another_ca_is_rejected(ca: pki.CertifiedKey) -> None:
    other = pki.create_ca("cluster-b")
    cert = pki.issue_node_cert(other, PEER, ["127.0.3.101"]).cert
    with pytest.raises(CertificateError, match="not issued by this cluster's CA"):
        pki.verify_node_cert(cert, ca.cert)


def test_a_same_named_impostor_ca_is_rejected() -> None:
    # Same cluster id, so the same subject: only the signature tells them apart.
    real, impostor = pki.create_ca("cluster-a"), pki.create_ca("cluster-a")
    cert = pki.issue_node_cert(impostor, PEER, []).cert
    with pytest.raises(CertificateError, match="not issued by this cluster's CA"):
        pki.verify_node_cert(cert, real.cert)


def test_an_expired_certificate_is_rejected(ca: pki.CertifiedKey) -> None:
    cert = pki.issue_node_cert(ca, PEER, []).cert
    later = dt.datetime.now(dt.UTC) + pki.NODE_LIFETIME + dt.timedelta(days=1)
    with pytest.raises(CertificateError, match="not now"):
        pki.verify_node_cert(cert, ca.cert, now=later)


def test_a_csr_for_another_peer_is_refused(ca: pki.CertifiedKey) -> None:
    csr = pki.make_csr(pki.new_node_key(), "someone-else", [])
    with pytest.raises(CertificateError, match="expected"):
        pki.sign_csr(ca, csr, expected_peer_id=PEER)


def test_a_mismatched_key_is_reported(ca: pki.CertifiedKey) -> None:
    issued = pki.issue_node_cert(ca, PEER, [])
    with pytest.raises(CertificateError, match="does not match"):
        pki.check_material(TLSMaterial(ca.cert, issued.cert, pki.new_node_key()))


@pytest.mark.parametrize("garbage", [b"", b"hello", b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"])
def test_malformed_pem_is_a_clear_error(ca: pki.CertifiedKey, garbage: bytes) -> None:
    with pytest.raises(CertificateError, match="not a PEM certificate"):
        pki.verify_node_cert(garbage, ca.cert)
    with pytest.raises(CertificateError, match="not a PEM certificate signing request"):
        pki.sign_csr(ca, garbage)
    with pytest.raises(CertificateError, match="not a usable PEM private key"):
        pki.make_csr(garbage, PEER, [])


def test_certificate_errors_are_invalid_requests() -> None:
    assert issubclass(CertificateError, InvalidRequest)
    assert CertificateError("x").code == "invalid"


def test_files_round_trip_with_a_private_key(tmp_path: Path, ca: pki.CertifiedKey) -> None:
    issued = pki.issue_node_cert(ca, PEER, ["127.0.3.101"])
    tls = TLSMaterial(ca.cert, issued.cert, issued.key)
    directory = tmp_path / "tls"
    pki.save_tls(directory, tls)
    assert pki.load_tls(directory) == tls
    assert stat.S_IMODE((directory / pki.NODE_KEY_FILE).stat().st_mode) == 0o600
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    # Overwriting keeps the mode, even when the file was readable before.
    (directory / pki.NODE_KEY_FILE).chmod(0o644)
    pki.save_tls(directory, tls)
    assert stat.S_IMODE((directory / pki.NODE_KEY_FILE).stat().st_mode) == 0o600


def test_missing_files_are_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CertificateError, match="cannot read TLS files"):
        pki.load_tls(tmp_path)


def test_fingerprint_is_stable(ca: pki.CertifiedKey) -> None:
    assert pki.fingerprint(ca.cert) == pki.fingerprint(ca.cert)
    assert len(pki.fingerprint(ca.cert).split(":")) == 32
