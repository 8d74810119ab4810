"""Component logic that needs no cluster: certificates and their reuse, readiness rules, health verdicts."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from cryptography import x509

from gardenlet.care import checks
from gardenlet.components.extension import extension_problem
from gardenlet.components.health import deployment_problem, statefulset_problem
from gardenlet.components.secrets import LeafSpec, ca_usable, issue, leaf_usable, new_ca

MONTH = dt.timedelta(days=30)
SERVER = LeafSpec(common_name="kube-apiserver", hosts=("kube-apiserver", "127.3.0.1"), server=True)


def test_issued_certificates_carry_subject_hosts_and_usages() -> None:
    ca = new_ca("kubernetes", days=10)
    leaf = issue(ca, SERVER, days=5)
    cert = x509.load_pem_x509_certificate(leaf.cert_pem)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert_pem))
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["kube-apiserver"]
    assert [str(ip) for ip in names.get_values_for_type(x509.IPAddress)] == ["127.3.0.1"]
    usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert [u.dotted_string for u in usage] == ["1.3.6.1.5.5.7.3.1"]
    admin = issue(ca, LeafSpec(common_name="system:admin", organizations=("system:masters",), client=True), days=5)
    subject = x509.load_pem_x509_certificate(admin.cert_pem).subject.rfc4514_string()
    assert subject == "CN=system:admin,O=system:masters"
    # A leaf never outlives its CA.
    assert x509.load_pem_x509_certificate(issue(ca, SERVER, days=365).cert_pem).not_valid_after_utc <= (
        x509.load_pem_x509_certificate(ca.cert_pem).not_valid_after_utc
    )


def test_a_stored_certificate_is_reused_until_something_it_covers_changes() -> None:
    ca = new_ca("kubernetes", days=3650)
    leaf = issue(ca, SERVER, days=365)
    assert leaf_usable(leaf, ca, SERVER, renew_before=MONTH)
    fewer = LeafSpec(common_name="kube-apiserver", hosts=("127.3.0.1",), server=True)
    assert leaf_usable(leaf, ca, fewer, renew_before=MONTH)
    more = LeafSpec(common_name="kube-apiserver", hosts=(*SERVER.hosts, "127.3.0.2"), server=True)
    assert not leaf_usable(leaf, ca, more, renew_before=MONTH)
    assert not leaf_usable(leaf, new_ca("kubernetes", days=3650), SERVER, renew_before=MONTH)
    renamed = LeafSpec(common_name="other", hosts=SERVER.hosts, server=True)
    assert not leaf_usable(leaf, ca, renamed, renew_before=MONTH)
    short = issue(ca, SERVER, days=10)
    assert not leaf_usable(short, ca, SERVER, renew_before=MONTH)
    assert ca_usable(ca, renew_before=MONTH) and not ca_usable(new_ca("kubernetes", days=5), renew_before=MONTH)


def test_garbage_is_never_usable() -> None:
    ca = new_ca("kubernetes", days=10)
    broken = type(ca)(cert_pem=b"not a certificate", key_pem=b"")
    assert not leaf_usable(broken, ca, SERVER, renew_before=MONTH)
    with pytest.raises(ValueError, match="CA secret"):
        issue(broken, SERVER, days=1)


def _workload(kind: str, wanted: int, generation: int = 1, **status: Any) -> dict[str, Any]:
    return {
        "kind": kind,
        "metadata": {"name": "w", "generation": generation},
        "spec": {"replicas": wanted},
        "status": {"observedGeneration": 1, **status},
    }


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (_workload("Deployment", 1, replicas=1, updatedReplicas=1, availableReplicas=1), None),
        (_workload("Deployment", 1, generation=2, replicas=1, updatedReplicas=1, availableReplicas=1), "observed"),
        (_workload("Deployment", 1, replicas=1, updatedReplicas=0, availableReplicas=1), "0 of 1 replicas updated"),
        (_workload("Deployment", 1, replicas=1, updatedReplicas=1), "0 of 1 replicas available"),
        (_workload("Deployment", 1, replicas=2, updatedReplicas=1, availableReplicas=2), "1 old replicas"),
        (_workload("Deployment", 0), None),
    ],
)
def test_deployment_problem(obj: dict[str, Any], problem: str | None) -> None:
    found = deployment_problem(obj)
    assert found is None if problem is None else (found is not None and problem in found)


@pytest.mark.parametrize(
    ("obj", "problem"),
    [
        (_workload("StatefulSet", 1, replicas=1, readyReplicas=1, currentRevision="a", updateRevision="a"), None),
        (_workload("StatefulSet", 1, replicas=1), "0 of 1 replicas ready"),
        (_workload("StatefulSet", 0, replicas=1), "above the wanted 0"),
        (_workload("StatefulSet", 0, replicas=0), None),
        (_workload("StatefulSet", 1, replicas=1, readyReplicas=1, currentRevision="a", updateRevision="b"), "rolling"),
    ],
)
def test_statefulset_problem(obj: dict[str, Any], problem: str | None) -> None:
    found = statefulset_problem(obj)
    assert found is None if problem is None else (found is not None and problem in found)


def _extension(annotations: dict[str, str] | None = None, generation: int = 1, **status: Any) -> dict[str, Any]:
    meta = {"name": "demo", "generation": generation, "annotations": annotations or {}}
    return {"kind": "Infrastructure", "metadata": meta, "status": status}


def test_extension_problem() -> None:
    done = {"observedGeneration": 1, "lastOperation": {"state": "Succeeded"}}
    assert extension_problem(_extension(**done)) is None
    pending = extension_problem(_extension({"gardener.cloud/operation": "reconcile"}, **done))
    assert pending is not None and "picked up" in pending
    stale = extension_problem(_extension(generation=2, **done))
    assert stale is not None and "generation 2" in stale
    failing = {"observedGeneration": 1, "lastOperation": {"state": "Error"}, "lastError": {"description": "quota"}}
    message = extension_problem(_extension(**failing))
    assert message is not None and "Error: quota" in message


def test_control_plane_verdict() -> None:
    ready_sts = _workload("StatefulSet", 1, replicas=1, readyReplicas=1)
    ready_sts["metadata"]["name"] = "etcd-main"
    ready_deploy = _workload("Deployment", 1, replicas=1, updatedReplicas=1, availableReplicas=1)
    ready_deploy["metadata"]["name"] = "kube-apiserver"
    expected = ("StatefulSet/etcd-main", "Deployment/kube-apiserver")
    assert checks.control_plane([ready_sts, ready_deploy], expected=expected).status == "True"
    missing = checks.control_plane([ready_sts], expected=expected)
    assert (missing.status, missing.reason) == ("False", "ControlPlaneMissing")
    ready_deploy["status"]["availableReplicas"] = 0
    assert checks.control_plane([ready_sts, ready_deploy], expected=expected).reason == "ControlPlaneUnhealthy"


def _node(name: str, ready: str) -> dict[str, Any]:
    return {"metadata": {"name": name}, "status": {"conditions": [{"type": "Ready", "status": ready}]}}


def test_every_node_ready_verdict() -> None:
    workerless = checks.every_node_ready([], workerless=True, minimum=0)
    assert workerless.status == "True" and "no workers" in workerless.message
    assert checks.every_node_ready([_node("a", "True")], workerless=False, minimum=1).status == "True"
    assert checks.every_node_ready([_node("a", "False")], workerless=False, minimum=1).reason == "NodeUnhealthy"
    assert checks.every_node_ready([_node("a", "True")], workerless=False, minimum=2).reason == "MissingNodes"


def test_system_components_verdict() -> None:
    assert checks.system_components([]).status == "True"
    broken = _workload("Deployment", 1, replicas=1)
    assert checks.system_components([broken]).status == "False"
