"""The kubectl-user battery: everyday kubectl commands against one real server, and the compatibility table.

Each entry is a command a user types, with what kube-apiserver 1.32 in a cluster without kubelets would make
kubectl do (exit status and a piece of output). The run records per command whether it `works` (as kube),
`differs` (same exit status, other output) or `fails` (other exit status, or no answer), writes
docs/kubectl-compatibility.md, and fails if an entry without `needs` does not work. `needs` names the
later work (a later issue) the entry waits for; drop it once that work has landed.
"""

from __future__ import annotations

import base64
import json
import os
import shlex
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.helpers import KUBECTL, ServerProcess, write_tls_pair

ROOT = Path(__file__).resolve().parents[2]
TABLE = ROOT / "docs" / "kubectl-compatibility.md"
NS = "battery"
NODE = "battery-node"
#: the node's kubelet address is a closed loopback port: the API server dials it and says why it could not
NO_KUBELET = "dial tcp 127.0.0.1:1: connect: connection refused"
NODE_STATUS = (
    '{{"status": {{"addresses": [{{"type": "InternalIP", "address": "127.0.0.1"}}],'
    ' "daemonEndpoints": {{"kubeletEndpoint": {{"Port": 1}}}}}}}}'
)


@dataclass(frozen=True)
class Entry:
    """One command. `ok` is kube's exit status being 0; `shows` a text kube's answer contains (stdout+stderr).

    `needs`: the later work the command waits for (its failure does not fail the test, the table shows it).
    """

    command: str
    ok: bool = True
    shows: str = ""
    stdin: str = ""
    needs: str = ""
    note: str = ""
    env: tuple[tuple[str, str], ...] = ()
    timeout: float = 30.0

    def shown(self, *, workdir: str = "<dir>") -> str:
        """The command line as typed (files under the battery's working directory)."""
        return self.command.format(ns=NS, dir=workdir, node=NODE)


@dataclass
class Result:
    entry: Entry
    outcome: str  # works | differs | fails
    why: str = ""


@dataclass
class Battery:
    server: ServerProcess
    workdir: Path
    results: list[Result] = field(default_factory=list)

    def env(self, extra: tuple[tuple[str, str], ...] = ()) -> dict[str, str]:
        return {
            **os.environ,
            "KUBECONFIG": str(self.server.kubeconfig),
            "HOME": str(self.workdir),
            "KUBECTL_BATTERY_DIR": str(self.workdir),
            **dict(extra),
        }

    def run(self, entry: Entry) -> Result:
        args = shlex.split(entry.shown(workdir=str(self.workdir)))
        try:
            proc = subprocess.run(
                [KUBECTL, *args],
                input=entry.stdin or None,
                capture_output=True,
                text=True,
                env=self.env(entry.env),
                timeout=entry.timeout,
                cwd=self.workdir,
                check=False,
            )
        except subprocess.TimeoutExpired:
            result = Result(entry, "fails", f"no answer within {entry.timeout:.0f} s")
        else:
            result = _judge(entry, proc.returncode, proc.stdout + proc.stderr)
        self.results.append(result)
        return result


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip() and "panic" not in line]
    crashed = "panic:" in text
    line = lines[0] if lines else ""
    line = line[:140] + ("..." if len(line) > 140 else "")
    return ("kubectl panicked; " if crashed else "") + line


def _judge(entry: Entry, code: int, output: str) -> Result:
    if "panic:" in output:
        return Result(entry, "fails", "kubectl panicked")
    if (code == 0) != entry.ok:
        return Result(entry, "fails", f"exit {code}: {_first_line(output)}")
    if entry.shows and entry.shows not in output:
        return Result(entry, "differs", f"no `{entry.shows}` in: {_first_line(output)}")
    return Result(entry, "works")


# ---- files the commands read ----

DEPLOYMENT = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: applied
  namespace: battery
  labels: {app: applied}
spec:
  replicas: 1
  selector: {matchLabels: {app: applied}}
  template:
    metadata: {labels: {app: applied}}
    spec:
      containers: [{name: app, image: nginx:1.27}]
"""

BUNDLE = """apiVersion: v1
kind: Service
metadata: {name: bundle-svc, namespace: battery, labels: {set: bundle}}
spec:
  selector: {app: web}
  ports: [{port: 80}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: bundle-cm, namespace: battery, labels: {set: bundle}}
data: {a: "1"}
---
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: bundle-np, namespace: battery, labels: {set: bundle}}
spec:
  podSelector: {matchLabels: {app: web}}
  policyTypes: [Ingress]
---
apiVersion: v1
kind: LimitRange
metadata: {name: bundle-lr, namespace: battery, labels: {set: bundle}}
spec:
  limits: [{type: Container, default: {cpu: 200m}}]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: bundle-es, namespace: battery, labels: {set: bundle, kubernetes.io/service-name: c1}}
addressType: IPv4
endpoints: [{addresses: [10.0.0.9]}]
ports: [{port: 80, protocol: TCP}]
---
apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata: {name: bundle-hpa, namespace: battery, labels: {set: bundle}}
spec:
  scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}
  minReplicas: 1
  maxReplicas: 3
"""

PRUNED = """apiVersion: v1
kind: ConfigMap
metadata: {name: bundle-cm, namespace: battery, labels: {set: bundle}}
data: {a: "2"}
"""

NODE_YAML = f"""apiVersion: v1
kind: Node
metadata: {{name: {NODE}, labels: {{kubernetes.io/hostname: {NODE}}}}}
"""

PLACED_POD = f"""apiVersion: v1
kind: Pod
metadata: {{name: placed, namespace: battery}}
spec:
  nodeName: {NODE}
  containers: [{{name: app, image: nginx:1.27}}]
"""

TYPO = """apiVersion: apps/v1
kind: Deployment
metadata: {name: typo, namespace: battery}
spec:
  replica: 3
  selector: {matchLabels: {app: typo}}
  template:
    metadata: {labels: {app: typo}}
    spec:
      containers: [{name: app, image: nginx}]
"""

MISMATCH = """apiVersion: apps/v1
kind: Deployment
metadata: {name: mismatch, namespace: battery}
spec:
  selector: {matchLabels: {app: one}}
  template:
    metadata: {labels: {app: other}}
    spec:
      containers: [{name: app, image: nginx}]
"""

RBAC = """apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reconciled, namespace: battery}
rules: [{apiGroups: [""], resources: [configmaps], verbs: [get, list]}]
"""

KUSTOMIZATION = """namespace: battery
namePrefix: k-
resources: [cm.yaml]
"""

KUSTOMIZED_CM = """apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: fast}
"""


def _csr(name: str) -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    request = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .sign(key, hashes.SHA256())
    )
    pem = base64.b64encode(request.public_bytes(serialization.Encoding.PEM)).decode()
    return (
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n"
        f"metadata: {{name: {name}}}\nspec:\n  request: {pem}\n"
        "  signerName: example.com/battery\n  usages: [client auth]\n"
    )


def _write_files(workdir: Path) -> None:
    files = {
        "deployment.yaml": DEPLOYMENT,
        "bundle.yaml": BUNDLE,
        "pruned.yaml": PRUNED,
        "node.yaml": NODE_YAML,
        "placed.yaml": PLACED_POD,
        "typo.yaml": TYPO,
        "mismatch.yaml": MISMATCH,
        "rbac.yaml": RBAC,
        "csr-a.yaml": _csr("battery-a"),
        "csr-d.yaml": _csr("battery-d"),
        "kust/kustomization.yaml": KUSTOMIZATION,
        "kust/cm.yaml": KUSTOMIZED_CM,
    }
    for name, text in files.items():
        (workdir / name).parent.mkdir(parents=True, exist_ok=True)
        (workdir / name).write_text(text)
    (workdir / "changed.yaml").write_text(DEPLOYMENT.replace("nginx:1.27", "nginx:1.28"))
    write_tls_pair(workdir, common_name="battery.example.com")


# ---- the commands, in the order a user would type them (later ones use what earlier ones made) ----

E = Entry
CONTROLLERS = "controller-manager (later issue)"
KUBELETS = "kubelets (later issue)"
EDIT = "sed -i s/value-1/value-2/"

ENTRIES: tuple[Entry, ...] = (
    # discovery and the cluster
    E("version", shows="Server Version: v1.32"),
    E("api-resources", shows="deployments"),
    E("api-resources --api-group=apps -o name", shows="deployments.apps"),
    E("api-versions", shows="apps/v1"),
    E("cluster-info", shows="Kubernetes control plane is running at"),
    E("get --raw /healthz", shows="ok"),
    E("cluster-info dump -n default", shows='"kind": "PodList"'),
    E("get --raw /version", shows='"gitVersion"'),
    E("get --raw /openapi/v2", shows='"swagger"'),
    E("get componentstatuses", shows="etcd"),
    E("get priorityclasses", shows="system-node-critical"),
    E("get service kubernetes -n default", shows="kubernetes"),
    E("explain pods", shows="KIND:"),
    E("explain deployment.spec.template.spec.containers.resources.limits", shows="Limits describes"),
    E("explain cronjob.spec.jobTemplate --recursive", shows="FIELDS:"),
    E("top nodes", ok=False, shows="Metrics API not available"),
    E("top pods -n {ns}", ok=False, shows="Metrics API not available"),
    E("auth whoami", shows="system:admin"),
    E("auth can-i create pods -n {ns}", shows="yes"),
    E("auth can-i --list -n {ns}", shows="Resources"),
    E("auth can-i get secrets --as=nobody -n {ns}", ok=False, shows="no"),
    E("get secrets -n default --as=nobody", ok=False, shows="Forbidden"),
    # generators
    E("create namespace {ns}", shows="namespace/battery created"),
    E("create deployment web --image=nginx:1.27 --replicas=2 -n {ns}", shows="deployment.apps/web created"),
    E("create service clusterip c1 --tcp=80:8080 -n {ns}", shows="service/c1 created"),
    E("create service nodeport np1 --tcp=80:8080 -n {ns}", shows="service/np1 created"),
    E("create service loadbalancer lb1 --tcp=80:8080 -n {ns}", shows="service/lb1 created"),
    E("create service externalname ext1 --external-name=example.com -n {ns}", shows="service/ext1 created"),
    E("create configmap cm1 --from-literal=key=value-1 -n {ns}", shows="configmap/cm1 created"),
    E("create secret generic s1 --from-literal=a=b -n {ns}", shows="secret/s1 created"),
    E(
        "create secret docker-registry reg1 --docker-server=r.example.com --docker-username=u --docker-password=p "
        "-n {ns}",
        shows="secret/reg1 created",
    ),
    E("create secret tls tls1 --cert={dir}/tls.crt --key={dir}/tls.key -n {ns}", shows="secret/tls1 created"),
    E("create serviceaccount sa1 -n {ns}", shows="serviceaccount/sa1 created"),
    E("create role r1 --verb=get --resource=pods -n {ns}", shows="role.rbac.authorization.k8s.io/r1 created"),
    E("create rolebinding rb1 --role=r1 --serviceaccount={ns}:sa1 -n {ns}", shows="rolebinding"),
    E("create clusterrole battery-cr --verb=get --resource=nodes", shows="clusterrole"),
    E("create clusterrolebinding battery-crb --clusterrole=battery-cr --user=jane", shows="clusterrolebinding"),
    E("create job j1 --image=busybox -n {ns}", shows="job.batch/j1 created"),
    E("create cronjob cj1 --image=busybox --schedule='*/5 * * * *' -n {ns}", shows="cronjob.batch/cj1 created"),
    E("create job j2 --from=cronjob/cj1 -n {ns}", shows="job.batch/j2 created"),
    E("create ingress ing1 --rule=example.com/=c1:80 -n {ns}", shows="ingress.networking.k8s.io/ing1 created"),
    E("create poddisruptionbudget pdb1 --selector=app=web --min-available=1 -n {ns}", shows="pdb1 created"),
    E("create priorityclass battery-pc --value=1000", shows="priorityclass.scheduling.k8s.io/battery-pc created"),
    E("create quota q1 --hard=pods=10 -n {ns}", shows="resourcequota/q1 created"),
    E("create token sa1 -n {ns}", shows="eyJ"),
    E("create deployment Bad_Name --image=nginx -n {ns}", ok=False, shows="Invalid value"),
    E("create configmap cm1 -n {ns}", ok=False, shows='configmaps "cm1" already exists'),
    # reading
    E("get all -n {ns}", shows="deployment.apps/web"),
    E("get deploy web -n {ns} -o yaml", shows="kind: Deployment"),
    E("get deploy web -n {ns} -o json", shows='"kind": "Deployment"'),
    E("get deploy web -n {ns} -o jsonpath={{.spec.replicas}}", shows="2"),
    E("get deploy -n {ns} -o custom-columns=NAME:.metadata.name,REPLICAS:.spec.replicas", shows="web"),
    E("get deploy -n {ns} -o wide", shows="SELECTOR"),
    E("get deploy,svc -n {ns} -o name", shows="service/c1"),
    E("get deploy web -n {ns} -o jsonpath={{.spec.strategy.type}}", shows="RollingUpdate"),
    E("get svc np1 -n {ns} -o jsonpath={{.spec.ports[0].nodePort}}", shows="3"),
    E("get svc c1 -n {ns} -o jsonpath={{.spec.clusterIP}}", shows="10."),
    E("get cm -n {ns} --watch --request-timeout=2s", shows="cm1", timeout=20),
    E("get cm -n {ns} -l nothing=here", shows="No resources found"),
    E("get nosuchkind", ok=False, shows="doesn't have a resource type"),
    E("get cm missing -n {ns}", ok=False, shows='configmaps "missing" not found'),
    E("describe deployment web -n {ns}", shows="Name:"),
    E("describe service c1 -n {ns}", shows="Endpoints:"),
    E("describe configmap cm1 -n {ns}", shows="value-1"),
    E("describe namespace {ns}", shows="Status:"),
    E("get events -n {ns}", ok=True),
    E("events -n {ns}", ok=True),
    # writing
    E("apply -f {dir}/deployment.yaml", shows="deployment.apps/applied created"),
    E("apply -f {dir}/deployment.yaml", shows="deployment.apps/applied unchanged"),
    E("diff -f {dir}/changed.yaml", ok=False, shows="nginx:1.28", note="exit 1 means: differences found"),
    E("apply -f {dir}/changed.yaml --dry-run=server", shows="(server dry run)"),
    E("apply -f {dir}/changed.yaml --server-side", shows="serverside-applied"),
    E("apply -f {dir}/bundle.yaml", shows="horizontalpodautoscaler.autoscaling/bundle-hpa created"),
    E(
        "apply -f {dir}/pruned.yaml --prune -l set=bundle -n {ns}",
        shows="service/bundle-svc pruned",
        note="kubectl's default prune list leaves NetworkPolicy, LimitRange, EndpointSlice and HPA alone",
    ),
    E("apply -f {dir}/typo.yaml", ok=False, shows='unknown field "spec.replica"'),
    E("apply -f {dir}/mismatch.yaml", ok=False, shows="`selector` does not match template `labels`"),
    E("create -f {dir}/deployment.yaml --dry-run=client -o yaml", shows="kind: Deployment"),
    E("create configmap dry --from-literal=a=b --dry-run=server -n {ns}", shows="(server dry run)"),
    E("replace -f {dir}/deployment.yaml", shows="deployment.apps/applied replaced"),
    E("replace --force -f {dir}/deployment.yaml", shows="deployment.apps/applied replaced", timeout=60),
    E("edit configmap cm1 -n {ns}", shows="configmap/cm1 edited", env=(("KUBE_EDITOR", EDIT),)),
    E('patch configmap cm1 -n {ns} --type=merge -p \'{{"data":{{"m":"1"}}}}\'', shows="patched"),
    E(
        'patch configmap cm1 -n {ns} --type=json -p \'[{{"op":"add","path":"/data/j","value":"2"}}]\'',
        shows="patched",
    ),
    E(
        "patch deployment web -n {ns} -p "
        '\'{{"spec":{{"template":{{"spec":{{"containers":[{{"name":"nginx","image":"nginx:1.28"}}]}}}}}}}}\'',
        shows="patched",
    ),
    E(
        'patch deployment web -n {ns} -p \'{{"spec":{{"selector":{{"matchLabels":{{"app":"x"}}}}}}}}\'',
        ok=False,
        shows="field is immutable",
    ),
    E("label configmap cm1 tier=front -n {ns}", shows="labeled"),
    E("label configmap cm1 tier=back --overwrite -n {ns}", shows="labeled"),
    E("annotate configmap cm1 note=hi -n {ns}", shows="annotated"),
    E("scale deployment web --replicas=3 -n {ns}", shows="scaled"),
    E("autoscale deployment web --max=5 -n {ns}", shows="autoscaled"),
    E("set image deployment/web nginx=nginx:1.29 -n {ns}", shows="image updated"),
    E("set env deployment/web MODE=fast -n {ns}", shows="env updated"),
    E("set resources deployment/web --limits=cpu=200m -n {ns}", shows="resource requirements updated"),
    E("set selector service c1 app=web -n {ns}", shows="selector updated"),
    E("set serviceaccount deployment web sa1 -n {ns}", shows="serviceaccount updated"),
    E("expose deployment web --port=80 --name=web-svc -n {ns}", shows="service/web-svc exposed"),
    E("rollout restart deployment web -n {ns}", shows="restarted"),
    E("rollout pause deployment web -n {ns}", shows="paused"),
    E("rollout resume deployment web -n {ns}", shows="resumed"),
    E(
        "rollout status deployment web -n {ns} --timeout=2s",
        ok=False,
        shows="timed out",
        note="no pod ever runs without kubelets",
    ),
    E("rollout history deployment web -n {ns}", shows="REVISION", needs=CONTROLLERS),
    E("rollout undo deployment web -n {ns}", shows="rolled back", needs=CONTROLLERS),
    E("wait --for=condition=Available deployment/web -n {ns} --timeout=2s", ok=False, shows="timed out"),
    E("wait --for=jsonpath={{.spec.replicas}}=3 deployment/web -n {ns} --timeout=5s", shows="condition met"),
    # pods, nodes and streams
    E("apply -f {dir}/node.yaml", shows=f"node/{NODE} created"),
    E(f"patch node {{node}} --subresource=status --type=merge -p '{NODE_STATUS}'", shows="patched"),
    E("get nodes", shows=NODE),
    E("describe node {node}", shows="Name:"),
    E("cordon {node}", shows="cordoned"),
    E("uncordon {node}", shows="uncordoned"),
    E("taint nodes {node} dedicated=battery:NoSchedule", shows="tainted"),
    E("drain {node} --ignore-daemonsets --timeout=10s", shows="drained"),
    E("uncordon {node}", shows="uncordoned"),
    E("run pod1 --image=nginx:1.27 -n {ns}", shows="pod/pod1 created"),
    E("run pod2 --image=nginx -n {ns} --dry-run=server", shows="(server dry run)"),
    E("apply -f {dir}/placed.yaml", shows="pod/placed created"),
    E("get pods -n {ns} -o wide", shows="NOMINATED NODE"),
    E("describe pod pod1 -n {ns}", shows="Containers:"),
    E("logs pod1 -n {ns}", note="a pod no node runs has no log: empty, exit 0"),
    E("logs placed -n {ns}", ok=False, shows=NO_KUBELET, note="the node's kubelet is unreachable"),
    E(
        "logs -f placed -n {ns} --pod-running-timeout=2s",
        ok=False,
        shows=NO_KUBELET,
        note="kubectl 1.37 polls each second until --pod-running-timeout, for any error",
    ),
    E("exec pod1 -n {ns} -- ls", ok=False, shows="pod pod1 does not have a host assigned"),
    E("exec placed -n {ns} -- ls", ok=False, shows=NO_KUBELET),
    E("attach placed -n {ns}", ok=False, shows=NO_KUBELET),
    E(
        "port-forward pod/pod1 18080:80 -n {ns}",
        ok=False,
        shows="pod is not running",
        note="kubectl checks the pod phase first",
    ),
    E("cp {ns}/placed:/etc/hosts {dir}/hosts", ok=False, shows=NO_KUBELET),
    E("cluster-info dump -n {ns}", shows="==== START logs for container app of pod battery/placed ===="),
    E("debug pod/missing -n {ns} --image=busybox", ok=False, shows='pods "missing" not found'),
    E("debug node/missing --image=busybox", ok=False, shows='nodes "missing" not found'),
    E("debug -it pod/missing -n {ns} --image=busybox", ok=False, shows='pods "missing" not found'),
    E("debug pod/pod1 -n {ns} --image=busybox", shows="Defaulting debug container name"),
    E("debug pod/pod1 -n {ns} --image=busybox --copy-to=pod1-copy", shows="debug"),
    E("debug node/{node} --image=busybox -n {ns}", shows="Creating debugging pod"),
    # certificates
    E("apply -f {dir}/csr-a.yaml", shows="certificatesigningrequest.certificates.k8s.io/battery-a created"),
    E("apply -f {dir}/csr-d.yaml", shows="certificatesigningrequest.certificates.k8s.io/battery-d created"),
    E("certificate approve battery-a", shows="approved"),
    E("certificate deny battery-d", shows="denied"),
    E("get csr", shows="Approved"),
    # rbac and kustomize
    E("auth reconcile -f {dir}/rbac.yaml", shows="reconciled"),
    E("kustomize {dir}/kust", shows="name: k-settings"),
    E("apply -k {dir}/kust", shows="configmap/k-settings created"),
    E("get -k {dir}/kust", shows="k-settings"),
    E("delete -k {dir}/kust", shows="deleted"),
    # deleting
    E("delete configmap cm1 -n {ns}", shows='configmap "cm1" deleted'),
    E("wait --for=delete configmap/cm1 -n {ns} --timeout=5s", ok=True),
    E("delete -f {dir}/deployment.yaml", shows="deleted"),
    E("delete secret -l nothing=here -n {ns}", shows="No resources found"),
    E("delete job j1 -n {ns} --dry-run=server", shows="(server dry run)"),
    E("delete secret --all -n {ns}", shows="deleted"),
    E("delete pod pod1 -n {ns} --grace-period=0 --force", shows="deleted", timeout=60),
    E(
        "delete pods --all -n {ns} --grace-period=0 --force",
        shows="deleted",
        note="bound pods (placed, node debugger) wait for a kubelet to stop them; without one they must be forced",
    ),
    E("delete clusterrolebinding battery-crb", shows="deleted"),
    E("delete namespace {ns} --timeout=60s", shows='namespace "battery" deleted', timeout=90),
)


# ---- the proxy: a long-running command ----


def _proxy(battery: Battery) -> Result:
    entry = Entry("proxy --port=0 (then GET /version through it)", shows="gitVersion")
    proc = subprocess.Popen(
        [KUBECTL, "proxy", "--port=0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=battery.env(),
        cwd=battery.workdir,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "Starting to serve on" not in line:
            result = Result(entry, "fails", _first_line(line))
        else:
            address = line.strip().rsplit(" ", 1)[1]
            with urllib.request.urlopen(f"http://{address}/version", timeout=10) as response:
                body = response.read().decode()
            result = _judge(entry, 0, body)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stdout is not None:
            proc.stdout.close()
    battery.results.append(result)
    return result


# ---- the table ----


def _api_resources(battery: Battery) -> list[tuple[str, str, str, str]]:
    proc = subprocess.run(
        [KUBECTL, "api-resources"], capture_output=True, text=True, env=battery.env(), timeout=30, check=False
    )
    lines = proc.stdout.splitlines()
    if not lines:
        return []
    header = lines[0]
    cols = [header.index(name) for name in ("NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND")]
    rows = []
    for line in lines[1:]:
        name = line[cols[0] : cols[1]].strip()
        version = line[cols[2] : cols[3]].strip()
        namespaced = line[cols[3] : cols[4]].strip()
        kind = line[cols[4] :].strip()
        rows.append((version, name, namespaced, kind))
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def write_table(battery: Battery) -> str:
    counts = {o: sum(r.outcome == o for r in battery.results) for o in ("works", "differs", "fails")}
    lines = [
        "# kubectl compatibility",
        "",
        "Generated by `tests/e2e/test_kubectl_battery.py` on every run (do not edit by hand): kubectl "
        f"{_kubectl_version()} against the embedded API server, which serves the Kubernetes 1.32 API.",
        "",
        "Each command is compared with what kube-apiserver 1.32 in a cluster without kubelets makes kubectl do:",
        "`works` (same exit status and output), `differs` (same exit status, other output), `fails` (other exit",
        "status, no answer, or a crash). `needs` names the part of the work the command waits for.",
        "",
        f"**{len(battery.results)} commands: {counts['works']} work, {counts['differs']} differ, "
        f"{counts['fails']} fail.**",
        "",
        "| command | kube 1.32 | outcome | needs | note |",
        "|---|---|---|---|---|",
    ]
    for r in battery.results:
        e = r.entry
        kube = ("exit 0" if e.ok else "error") + (f": `{_cell(e.shows)}`" if e.shows else "")
        note = "; ".join(x for x in (r.why, e.note) if x)
        lines.append(f"| `kubectl {_cell(e.shown())}` | {kube} | {r.outcome} | {e.needs} | {_cell(note)} |")
    rows = _api_resources(battery)
    groups: dict[str, list[str]] = {}
    for version, name, _namespaced, _kind in rows:
        groups.setdefault(version, []).append(name)
    lines += [
        "",
        "## `kubectl api-resources`",
        "",
        f"{len(rows)} resources in {len(groups)} group versions.",
        "",
        "| group version | resources |",
        "|---|---|",
    ]
    lines += [f"| {gv} | {', '.join(sorted(names))} |" for gv, names in sorted(groups.items())]
    text = "\n".join(lines) + "\n"
    TABLE.write_text(text)
    return text


def _kubectl_version() -> str:
    proc = subprocess.run([KUBECTL, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False)
    try:
        return str(json.loads(proc.stdout)["clientVersion"]["gitVersion"])
    except (ValueError, KeyError):
        return "(unknown)"


# ---- the test ----


@pytest.fixture(scope="module")
def battery(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Battery]:
    server = ServerProcess(data_dir=tmp_path_factory.mktemp("battery-apiserver")).start()
    workdir = tmp_path_factory.mktemp("battery")
    _write_files(workdir)
    yield Battery(server=server, workdir=workdir)
    server.stop()


def test_kubectl_battery(battery: Battery) -> None:
    started = time.monotonic()
    for entry in ENTRIES:
        battery.run(entry)
        if entry.command.startswith("create namespace"):
            _proxy(battery)
    write_table(battery)
    broken = [
        f"kubectl {r.entry.shown()}: {r.outcome}: {r.why}"
        for r in battery.results
        if not r.entry.needs and r.outcome != "works"
    ]
    assert not broken, "\n".join(broken) + f"\n({time.monotonic() - started:.0f} s)"
    assert len(battery.results) >= 120
