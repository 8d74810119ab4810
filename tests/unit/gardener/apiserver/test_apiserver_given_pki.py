"""An API server whose certificates someone else manages: kube-apiserver's flags for the CA, serving pair and keys."""

from __future__ import annotations

from pathlib import Path

import pytest

from gardener.apiserver.main import given_pki, parse_args
from gardener.runtime.pki import create_ca, issue_serving_cert, ssl_server_context

FLAGS = (
    "--client-ca-file",
    "--cluster-signing-key-file",
    "--tls-cert-file",
    "--tls-private-key-file",
    "--service-account-signing-key-file",
)


def _files(tmp_path: Path) -> list[str]:
    ca = create_ca(common_name="shoot-ca")
    serving = issue_serving_cert(ca, common_name="kube-apiserver", dns_names=["kube-apiserver"], ip_addresses=[])
    other = create_ca(common_name="other")
    contents = (ca.cert_pem, ca.key_pem, serving.cert_pem, serving.key_pem, other.key_pem)
    args = []
    for flag, content in zip(FLAGS, contents, strict=True):
        path = tmp_path / flag.strip("-")
        path.write_bytes(content)
        args += [flag, str(path)]
    return args


def test_given_certificates_are_used_as_they_are(tmp_path: Path) -> None:
    args = parse_args(["--data-dir", str(tmp_path / "data"), *_files(tmp_path)])
    pki = given_pki(args)
    assert pki is not None
    assert pki.ca.cert_pem == (tmp_path / "client-ca-file").read_bytes()
    assert pki.serving.cert_pem == (tmp_path / "tls-cert-file").read_bytes()
    assert pki.service_account_key_pem == (tmp_path / "service-account-signing-key-file").read_bytes()
    ssl_server_context(pki)
    # Nothing was generated beside them.
    assert not (tmp_path / "data" / "pki" / "ca.crt").exists()


def test_without_the_flags_the_server_keeps_its_own(tmp_path: Path) -> None:
    assert given_pki(parse_args(["--data-dir", str(tmp_path)])) is None


def test_the_flags_go_together(tmp_path: Path) -> None:
    files = _files(tmp_path)
    with pytest.raises(ValueError, match="missing --tls-private-key-file"):
        given_pki(parse_args(["--data-dir", str(tmp_path), *files[:6], *files[8:]]))


def test_a_key_that_does_not_belong_to_its_certificate_is_refused(tmp_path: Path) -> None:
    files = _files(tmp_path)
    (tmp_path / "tls-private-key-file").write_bytes((tmp_path / "cluster-signing-key-file").read_bytes())
    with pytest.raises(ValueError, match="does not belong"):
        given_pki(parse_args(["--data-dir", str(tmp_path / "data"), *files]))
    (tmp_path / "cluster-signing-key-file").write_bytes((tmp_path / "service-account-signing-key-file").read_bytes())
    with pytest.raises(ValueError, match="CA private key does not belong"):
        given_pki(parse_args(["--data-dir", str(tmp_path / "data"), *files]))
