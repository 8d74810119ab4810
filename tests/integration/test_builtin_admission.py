"""kube-apiserver's default admission and service allocation, seen with the real kubectl against a real server."""

from __future__ import annotations

import base64
import json
import uuid
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
from gardener.runtime.pki import KeyPair, issue_client_cert
from tests.helpers import ServerProcess, create_namespace, eventually, kubectl, kubectl_get

#: request handling, validation, admission and auth sit above storage: one backend says it all
ONE_BACKEND = True


def _namespace(server: ServerProcess, prefix: str) -> str:
    name = f"{prefix}-{uuid.uuid4().hex[:6]}"
    create_namespace(name, kubeconfig=server.kubeconfig)
    return name


def _namespace_for_pods(server: ServerProcess, prefix: str) -> str:
    """A namespace whose default service account exists, so the ServiceAccount plugin admits pods in it."""
    name = _namespace(server, prefix)
    eventually(lambda: _get(server, "serviceaccount", "default", "-n", name), what="default service account")
    return name


def _get(server: ServerProcess, *args: str) -> dict[str, Any]:
    result: dict[str, Any] = kubectl_get(*args, kubeconfig=server.kubeconfig)
    return result


def _apply(server: ServerProcess, obj: dict[str, Any], *, check: bool = True) -> Any:
    return kubectl("apply", "-f", "-", kubeconfig=server.kubeconfig, input=json.dumps(obj), check=check)


def test_services_get_cluster_ips_and_node_ports(apiserver: ServerProcess) -> None:
    ns = _namespace(apiserver, "alloc")
    kc = apiserver.kubeconfig
    kubectl("create", "service", "clusterip", "a", "--tcp=80:80", "-n", ns, kubeconfig=kc)
    a = _get(apiserver, "service", "a", "-n", ns)["spec"]
    ip = a["clusterIP"]
    assert ip.startswith("10.0.0.") and ip != "10.0.0.1" and a["clusterIPs"] == [ip]
    assert a["ipFamilies"] == ["IPv4"] and a["ipFamilyPolicy"] == "SingleStack"
    assert _get(apiserver, "service", "kubernetes", "-n", "default")["spec"]["clusterIP"] == "10.0.0.1"

    taken = kubectl(
        "create", "service", "clusterip", "b", "--tcp=80:80", f"--clusterip={ip}", "-n", ns, kubeconfig=kc, check=False
    )
    assert taken.returncode != 0
    assert (
        f'Service "b" is invalid: spec.clusterIPs: Invalid value: []string{{"{ip}"}}: failed to allocate IP {ip}: '
        "provided IP is already allocated"
    ) in taken.stderr
    outside = kubectl(
        "create",
        "service",
        "clusterip",
        "c",
        "--tcp=80:80",
        "--clusterip=10.9.0.1",
        "-n",
        ns,
        kubeconfig=kc,
        check=False,
    )
    assert (
        "failed to allocate IP 10.9.0.1: the provided IP (10.9.0.1) is not in the valid range. "
        "The range of valid IPs is 10.0.0.0/24"
    ) in outside.stderr

    kubectl("create", "service", "nodeport", "np", "--tcp=80:80", "-n", ns, kubeconfig=kc)
    port = _get(apiserver, "service", "np", "-n", ns)["spec"]["ports"][0]["nodePort"]
    assert 30000 <= port <= 32767
    clash = kubectl(
        "create",
        "service",
        "nodeport",
        "np2",
        "--tcp=81:81",
        f"--node-port={port}",
        "-n",
        ns,
        kubeconfig=kc,
        check=False,
    )
    assert f"spec.ports[0].nodePort: Invalid value: {port}: provided port is already allocated" in clash.stderr
    too_high = kubectl(
        "create", "service", "nodeport", "np3", "--tcp=81:81", "--node-port=99999", "-n", ns, kubeconfig=kc, check=False
    )
    assert too_high.returncode != 0

    # deleting frees both: they can be asked for by name again
    kubectl("delete", "service", "a", "np", "-n", ns, kubeconfig=kc)
    kubectl("create", "service", "clusterip", "b", "--tcp=80:80", f"--clusterip={ip}", "-n", ns, kubeconfig=kc)
    kubectl("create", "service", "nodeport", "np2", "--tcp=81:81", f"--node-port={port}", "-n", ns, kubeconfig=kc)
    assert _get(apiserver, "service", "b", "-n", ns)["spec"]["clusterIP"] == ip


def test_pods_get_service_account_tolerations_and_priority(apiserver: ServerProcess) -> None:
    ns = _namespace_for_pods(apiserver, "podadm")
    kc = apiserver.kubeconfig
    kubectl("run", "p", "--image=nginx", "-n", ns, kubeconfig=kc)
    spec = _get(apiserver, "pod", "p", "-n", ns)["spec"]
    assert spec["serviceAccountName"] == "default" and spec["serviceAccount"] == "default"
    [volume] = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(volume["name"]) == len("kube-api-access-") + 5
    sources = volume["projected"]["sources"]
    assert sources[0]["serviceAccountToken"]["path"] == "token"
    assert sources[1]["configMap"] == {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}
    assert sources[2]["downwardAPI"]["items"][0]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert spec["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}
    ]
    assert {(t["key"], t["effect"], t["tolerationSeconds"]) for t in spec["tolerations"]} == {
        ("node.kubernetes.io/not-ready", "NoExecute", 300),
        ("node.kubernetes.io/unreachable", "NoExecute", 300),
    }
    assert spec["priority"] == 0 and spec["preemptionPolicy"] == "PreemptLowerPriority"

    no_token = json.dumps({"spec": {"automountServiceAccountToken": False}})
    kubectl("run", "q", "--image=nginx", f"--overrides={no_token}", "-n", ns, kubeconfig=kc)
    assert "volumes" not in _get(apiserver, "pod", "q", "-n", ns)["spec"]

    missing = json.dumps({"spec": {"serviceAccountName": "nope"}})
    refused = kubectl("run", "r", "--image=nginx", f"--overrides={missing}", "-n", ns, kubeconfig=kc, check=False)
    assert (
        f'pods "r" is forbidden: error looking up service account {ns}/nope: serviceaccount "nope" not found'
    ) in refused.stderr
    unknown = json.dumps({"spec": {"priorityClassName": "nope"}})
    refused = kubectl("run", "s", "--image=nginx", f"--overrides={unknown}", "-n", ns, kubeconfig=kc, check=False)
    assert 'pods "s" is forbidden: no PriorityClass with name nope was found' in refused.stderr


def test_limit_range_defaults_and_bounds(apiserver: ServerProcess) -> None:
    ns = _namespace_for_pods(apiserver, "limits")
    kc = apiserver.kubeconfig
    _apply(
        apiserver,
        {
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "lr", "namespace": ns},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "default": {"cpu": "500m", "memory": "256Mi"},
                        "defaultRequest": {"cpu": "100m", "memory": "128Mi"},
                        "max": {"cpu": "1"},
                    }
                ]
            },
        },
    )
    kubectl("run", "p", "--image=nginx", "-n", ns, kubeconfig=kc)
    pod = _get(apiserver, "pod", "p", "-n", ns)
    assert pod["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "500m", "memory": "256Mi"},
        "requests": {"cpu": "100m", "memory": "128Mi"},
    }
    assert pod["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container p; cpu, memory limit for container p"
    )
    big = json.dumps(
        {"spec": {"containers": [{"name": "big", "image": "nginx", "resources": {"limits": {"cpu": "2"}}}]}}
    )
    refused = kubectl("run", "big", "--image=nginx", f"--overrides={big}", "-n", ns, kubeconfig=kc, check=False)
    assert 'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2' in refused.stderr


def test_resource_quota_refuses_the_pod_too_many_and_tracks_usage(apiserver: ServerProcess) -> None:
    ns = _namespace_for_pods(apiserver, "quota")
    kc = apiserver.kubeconfig
    kubectl("create", "quota", "q", "--hard=pods=1", "-n", ns, kubeconfig=kc)
    eventually(lambda: _get(apiserver, "quota", "q", "-n", ns)["status"]["used"] == {"pods": "0"}, what="quota status")
    kubectl("run", "one", "--image=nginx", "-n", ns, kubeconfig=kc)
    refused = kubectl("run", "two", "--image=nginx", "-n", ns, kubeconfig=kc, check=False)
    assert (
        'pods "two" is forbidden: exceeded quota: q, requested: pods=1, used: pods=1, limited: pods=1'
    ) in refused.stderr
    status = _get(apiserver, "quota", "q", "-n", ns)["status"]
    assert status == {"hard": {"pods": "1"}, "used": {"pods": "1"}}
    kubectl("delete", "pod", "one", "-n", ns, "--wait=false", kubeconfig=kc)
    eventually(lambda: _get(apiserver, "quota", "q", "-n", ns)["status"]["used"] == {"pods": "0"}, what="usage freed")
    kubectl("run", "two", "--image=nginx", "-n", ns, kubeconfig=kc)

    # a compute quota: every container must say what it needs, and usage is summed
    kubectl("create", "quota", "compute", "--hard=requests.cpu=1,limits.memory=1Gi", "-n", ns, kubeconfig=kc)
    eventually(
        lambda: (
            _get(apiserver, "quota", "compute", "-n", ns)["status"]["used"]
            == {"requests.cpu": "0", "limits.memory": "0"}
        ),
        what="compute quota counted",
    )
    refused = kubectl("run", "bare", "--image=nginx", "-n", ns, kubeconfig=kc, check=False)
    assert (
        'pods "bare" is forbidden: failed quota: compute: must specify limits.memory for: bare; requests.cpu for: bare'
    ) in refused.stderr
    sized = {"requests": {"cpu": "600m"}, "limits": {"cpu": "600m", "memory": "512Mi"}}
    kubectl("delete", "quota", "q", "-n", ns, kubeconfig=kc)
    first = json.dumps({"spec": {"containers": [{"name": "a", "image": "nginx", "resources": sized}]}})
    kubectl("run", "a", "--image=nginx", f"--overrides={first}", "-n", ns, kubeconfig=kc)
    used = _get(apiserver, "quota", "compute", "-n", ns)["status"]["used"]
    assert used == {"requests.cpu": "600m", "limits.memory": "512Mi"}
    second = json.dumps({"spec": {"containers": [{"name": "b", "image": "nginx", "resources": sized}]}})
    refused = kubectl("run", "b", "--image=nginx", f"--overrides={second}", "-n", ns, kubeconfig=kc, check=False)
    assert (
        'pods "b" is forbidden: exceeded quota: compute, requested: requests.cpu=600m, used: requests.cpu=600m, '
        "limited: requests.cpu=1"
    ) in refused.stderr


def test_pod_security_baseline_refuses_a_privileged_pod(apiserver: ServerProcess) -> None:
    ns = _namespace_for_pods(apiserver, "psa")
    kc = apiserver.kubeconfig
    # privileged by default: anything goes
    kubectl("run", "free", "--image=nginx", "--privileged", "-n", ns, kubeconfig=kc)
    kubectl(
        "label",
        "ns",
        ns,
        "pod-security.kubernetes.io/enforce=baseline",
        "pod-security.kubernetes.io/warn=restricted",
        kubeconfig=kc,
    )
    refused = kubectl("run", "priv", "--image=nginx", "--privileged", "-n", ns, kubeconfig=kc, check=False)
    assert (
        'pods "priv" is forbidden: violates PodSecurity "baseline:latest": privileged '
        '(container "priv" must not set securityContext.privileged=true)'
    ) in refused.stderr
    warned = kubectl("run", "plain", "--image=nginx", "-n", ns, kubeconfig=kc)
    assert 'Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false' in warned.stderr
    # a workload is admitted, with a warning for the pods it would not get
    deployment = kubectl(
        "create", "deployment", "web", "--image=nginx", "-n", ns, "--dry-run=client", "-o", "json", kubeconfig=kc
    ).stdout
    doc = json.loads(deployment)
    doc["spec"]["template"]["spec"]["containers"][0]["securityContext"] = {"privileged": True}
    created = _apply(apiserver, doc)
    assert 'Warning: would violate PodSecurity "baseline:latest": privileged' in created.stderr


def _user_kubeconfig(server: ServerProcess, tmp: Path, *, user: str, groups: tuple[str, ...]) -> Path:
    pki = server.data_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=user, groups=groups)
    path = tmp / f"{user.replace(':', '_')}.kubeconfig"
    config = build_kubeconfig(
        server=server.url,
        ca_pem=ca.cert_pem,
        user=user,
        client_cert_pem=cert.cert_pem,
        client_key_pem=cert.key_pem,
    )
    write_kubeconfig(path, config)
    return path


def test_a_node_changes_only_its_own_node(apiserver: ServerProcess, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    mine, other = f"n1-{suffix}", f"n2-{suffix}"
    for name in (mine, other):
        _apply(apiserver, {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    role = f"node-editor-{suffix}"
    kc = apiserver.kubeconfig
    kubectl("create", "clusterrole", role, "--verb=get,list,patch,update", "--resource=nodes", kubeconfig=kc)
    kubectl("create", "clusterrolebinding", role, f"--clusterrole={role}", "--group=system:nodes", kubeconfig=kc)
    node = _user_kubeconfig(apiserver, tmp_path, user=f"system:node:{mine}", groups=("system:nodes",))
    eventually(
        lambda: kubectl("label", "node", mine, "own=yes", kubeconfig=node, check=False).returncode == 0,
        what="the node labels itself",
    )
    refused = kubectl("label", "node", other, "own=no", kubeconfig=node, check=False)
    assert f'nodes "{other}" is forbidden: node "{mine}" is not allowed to modify node "{other}"' in refused.stderr
    restricted = kubectl("label", "node", mine, "node-restriction.kubernetes.io/x=y", kubeconfig=node, check=False)
    assert "is not allowed to modify labels: node-restriction.kubernetes.io/x" in restricted.stderr
    assert "own" not in (_get(apiserver, "node", other)["metadata"].get("labels") or {})


def _csr(name: str, *, organization: str) -> dict[str, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, name), x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization)]
    )
    request = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return {
        "apiVersion": "certificates.k8s.io/v1",
        "kind": "CertificateSigningRequest",
        "metadata": {"name": name},
        "spec": {
            "request": base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode(),
            "signerName": "kubernetes.io/kube-apiserver-client",
            "usages": ["client auth"],
        },
    }


def test_certificate_requests_are_restricted(apiserver: ServerProcess, tmp_path: Path) -> None:
    suffix = uuid.uuid4().hex[:6]
    masters = _apply(apiserver, _csr(f"root-{suffix}", organization="system:masters"), check=False)
    assert (
        f'certificatesigningrequests.certificates.k8s.io "root-{suffix}" is forbidden: use of '
        "kubernetes.io/kube-apiserver-client signer with system:masters group is not allowed"
    ) in masters.stderr

    # a user who may update approvals but holds no `approve` on the signer is refused by CertificateApproval
    user = f"approver-{suffix}"
    kc = apiserver.kubeconfig
    kubectl(
        "create",
        "clusterrole",
        user,
        "--verb=get,list,update,patch",
        "--resource=certificatesigningrequests,certificatesigningrequests/approval",
        kubeconfig=kc,
    )
    kubectl("create", "clusterrolebinding", user, f"--clusterrole={user}", f"--user={user}", kubeconfig=kc)
    _apply(apiserver, _csr(f"ok-{suffix}", organization="team"))
    approver = _user_kubeconfig(apiserver, tmp_path, user=user, groups=())

    def refused_approval() -> str:
        result = kubectl("certificate", "approve", f"ok-{suffix}", kubeconfig=approver, check=False)
        assert "user not permitted" in result.stderr, result.stderr
        return result.stderr

    refused = eventually(refused_approval, what="approval refused for want of the approve verb")
    assert (
        f'certificatesigningrequests.certificates.k8s.io "ok-{suffix}" is forbidden: user not permitted to approve '
        'requests with signerName "kubernetes.io/kube-apiserver-client"'
    ) in refused
    signer_role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": f"{user}-signer"},
        "rules": [
            {
                "apiGroups": ["certificates.k8s.io"],
                "resources": ["signers"],
                "resourceNames": ["kubernetes.io/*"],
                "verbs": ["approve"],
            }
        ],
    }
    _apply(apiserver, signer_role)
    kubectl(
        "create",
        "clusterrolebinding",
        f"{user}-signer",
        f"--clusterrole={user}-signer",
        f"--user={user}",
        kubeconfig=kc,
    )
    eventually(
        lambda: kubectl("certificate", "approve", f"ok-{suffix}", kubeconfig=approver, check=False).returncode == 0,
        what="approval with the approve verb on kubernetes.io/*",
    )


def test_claims_get_the_default_storage_class(apiserver: ServerProcess) -> None:
    ns = _namespace(apiserver, "pvc")
    name = f"standard-{uuid.uuid4().hex[:6]}"
    storage_class = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": name, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
        "provisioner": "example.com/disk",
    }
    _apply(apiserver, storage_class)
    claim: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data", "namespace": ns},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    _apply(apiserver, claim)
    assert _get(apiserver, "pvc", "data", "-n", ns)["spec"]["storageClassName"] == name
    explicit = {
        **claim,
        "metadata": {"name": "none", "namespace": ns},
        "spec": {**claim["spec"], "storageClassName": ""},
    }
    _apply(apiserver, explicit)
    assert _get(apiserver, "pvc", "none", "-n", ns)["spec"]["storageClassName"] == ""
    kubectl("delete", "storageclass", name, kubeconfig=apiserver.kubeconfig)
