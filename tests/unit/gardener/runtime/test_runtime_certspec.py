"""The certificates a gardenlet keeps for a shoot (`CertSpec`): what they carry, when a stored one is reused."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509

from gardener.runtime.pki import CertSpec, ca_usable, cert_usable, create_ca, issue_cert

MONTH = dt.timedelta(days=30)
SERVER = CertSpec(common_name="kube-apiserver", hosts=("kube-apiserver", "127.3.0.1"), server=True)


def test_issued_certificates_carry_subject_hosts_and_usages() -> None:
    ca = create_ca(common_name="kubernetes", valid_days=10)
    leaf = issue_cert(ca, SERVER, valid_days=5)
    cert = x509.load_pem_x509_certificate(leaf.cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kube-apiserver"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.3.0.1"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [u.dotted_string for u in usage] == ["1.3.6.1.5.5.7.3.1"]
    admin = issue_cert(
        ca, CertSpec(common_name="system:admin", organizations=("system:masters",), client=True), valid_days=5
    )
    subject = x509.load_pem_x509_certificate(admin.cert_pem).subject.rfc4514_string()
    assert subject == "CN=system:admin,O=system:masters"
    # A leaf never outlives its CA.
    assert x509.load_pem_x509_certificate(issue_cert(ca, SERVER, valid_days=365).cert_pem).not_valid_after_utc <= (
        x509.load_pem_x509_certificate(ca.cert_pem).not_valid_after_utc
    )


def test_a_stored_certificate_is_reused_until_something_it_covers_changes() -> None:
    ca = create_ca(common_name="kubernetes", valid_days=3650)
    leaf = issue_cert(ca, SERVER, valid_days=365)
    assert cert_usable(leaf, ca, SERVER, renew_before=MONTH)
    fewer = CertSpec(common_name="kube-apiserver", hosts=("127.3.0.1",), server=True)
    assert cert_usable(leaf, ca, fewer, renew_before=MONTH)
    more = CertSpec(common_name="kube-apiserver", hosts=(*SERVER.hosts, "127.3.0.2"), server=True)
    assert not cert_usable(leaf, ca, more, renew_before=MONTH)
    assert not cert_usable(leaf, create_ca(common_name="kubernetes", valid_days=3650), SERVER, renew_before=MONTH)
    renamed = CertSpec(common_name="other", hosts=SERVER.hosts, server=True)
    assert not cert_usable(leaf, ca, renamed, renew_before=MONTH)
    short = issue_cert(ca, SERVER, valid_days=10)
    assert not cert_usable(short, ca, SERVER, renew_before=MONTH)
    assert ca_usable(ca, renew_before=MONTH) and not ca_usable(
        create_ca(common_name="kubernetes", valid_days=5), renew_before=MONTH
    )


def test_garbage_is_never_usable() -> None:
    ca = create_ca(common_name="kubernetes", valid_days=10)
    broken = type(ca)(cert_pem=b"not a certificate", key_pem=b"")
    assert not cert_usable(broken, ca, SERVER, renew_before=MONTH)
    with pytest.raises(ValueError, match="CA certificate"):
        issue_cert(broken, SERVER, valid_days=1)
