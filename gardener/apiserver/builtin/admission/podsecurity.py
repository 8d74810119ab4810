"""kube's PodSecurity admission: the Pod Security Standards a namespace asks for with its labels
`pod-security.kubernetes.io/enforce` (refuse), `warn` (Warning headers) and `audit`; a namespace without
labels is `privileged`, where everything goes.

The checks and their wording follow kube's pod-security-admission `policy` package (the baseline level
and the restricted level's additions); every level is evaluated as `latest`.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from typing import Any

from gardener.apiserver.builtin.admission.common import forbidden, get_object, is_kind
from gardener.apiserver.controllers.informer import LocalIndex
from gardener.apiserver.rest import AdmissionRequest, ObjectStore

LABEL = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
BASELINE_CAPABILITIES = frozenset(
    {
        "AUDIT_WRITE",
        "CHOWN",
        "DAC_OVERRIDE",
        "FOWNER",
        "FSETID",
        "KILL",
        "MKNOD",
        "NET_BIND_SERVICE",
        "SETFCAP",
        "SETGID",
        "SETPCAP",
        "SETUID",
        "SYS_CHROOT",
    }
)
SAFE_SYSCTLS = frozenset(
    {
        "kernel.shm_rmid_forced",
        "net.ipv4.ip_local_port_range",
        "net.ipv4.ip_unprivileged_port_start",
        "net.ipv4.tcp_syncookies",
        "net.ipv4.ping_group_range",
        "net.ipv4.ip_local_reserved_ports",
        "net.ipv4.tcp_keepalive_time",
        "net.ipv4.tcp_fin_timeout",
        "net.ipv4.tcp_keepalive_intvl",
        "net.ipv4.tcp_keepalive_probes",
    }
)
RESTRICTED_VOLUMES = frozenset(
    {
        "configMap",
        "csi",
        "downwardAPI",
        "emptyDir",
        "ephemeral",
        "persistentVolumeClaim",
        "projected",
        "secret",
    }
)

Containers = list[dict[str, Any]]


def _containers(spec: dict[str, Any]) -> Containers:
    return [
        c
        for key in ("initContainers", "containers", "ephemeralContainers")
        for c in spec.get(key) or []
        if isinstance(c, dict)
    ]


def _names(kind: str, names: list[str]) -> str:
    quoted = ", ".join(f'"{n}"' for n in names)
    return f"{kind if len(names) == 1 else kind + 's'} {quoted}"


def _sc(obj: dict[str, Any]) -> dict[str, Any]:
    sc = obj.get("securityContext")
    return sc if isinstance(sc, dict) else {}


def _offending(containers: Containers, bad: Callable[[dict[str, Any]], bool]) -> list[str]:
    return [str(c.get("name") or "") for c in containers if bad(c)]


# ---- baseline ----


def _host_namespaces(spec: dict[str, Any], containers: Containers) -> str:
    flags = [f"{key}=true" for key in ("hostNetwork", "hostPID", "hostIPC") if spec.get(key) is True]
    return f"host namespaces ({', '.join(flags)})" if flags else ""


def _privileged(spec: dict[str, Any], containers: Containers) -> str:
    names = _offending(containers, lambda c: _sc(c).get("privileged") is True)
    return f"privileged ({_names('container', names)} must not set securityContext.privileged=true)" if names else ""


def _added_capabilities(containers: Containers, allowed: Collection[str]) -> list[str]:
    """One detail per container that adds capabilities beyond `allowed`, naming them."""
    details = []
    for c in containers:
        added = [str(cap) for cap in (_sc(c).get("capabilities") or {}).get("add") or [] if cap not in allowed]
        if added:
            caps = ", ".join(f'"{cap}"' for cap in added)
            details.append(
                f'container "{c.get("name", "")}" must not include {caps} in securityContext.capabilities.add'
            )
    return details


def _capabilities_baseline(spec: dict[str, Any], containers: Containers) -> str:
    details = _added_capabilities(containers, BASELINE_CAPABILITIES)
    return f"non-default capabilities ({'; '.join(details)})" if details else ""


def _host_path(spec: dict[str, Any], containers: Containers) -> str:
    names = [str(v.get("name") or "") for v in spec.get("volumes") or [] if isinstance(v, dict) and "hostPath" in v]
    return f"hostPath volumes ({_names('volume', names)})" if names else ""


def _host_ports(spec: dict[str, Any], containers: Containers) -> str:
    details = []
    for c in containers:
        ports = [str(p["hostPort"]) for p in c.get("ports") or [] if isinstance(p, dict) and p.get("hostPort")]
        if ports:
            word = "hostPort" if len(ports) == 1 else "hostPorts"
            details.append(f'container "{c.get("name", "")}" uses {word} {", ".join(ports)}')
    return f"hostPort ({'; '.join(details)})" if details else ""


def _proc_mount(spec: dict[str, Any], containers: Containers) -> str:
    names = _offending(containers, lambda c: _sc(c).get("procMount") not in (None, "Default"))
    return (
        f'procMount ({_names("container", names)} must not set securityContext.procMount to "Unmasked")'
        if names
        else ""
    )


def _seccomp_baseline(spec: dict[str, Any], containers: Containers) -> str:
    bad = []
    if (_sc(spec).get("seccompProfile") or {}).get("type") == "Unconfined":
        bad.append('pod must not set securityContext.seccompProfile.type to "Unconfined"')
    names = _offending(containers, lambda c: (_sc(c).get("seccompProfile") or {}).get("type") == "Unconfined")
    if names:
        bad.append(f'{_names("container", names)} must not set securityContext.seccompProfile.type to "Unconfined"')
    return f"seccompProfile ({'; '.join(bad)})" if bad else ""


def _sysctls(spec: dict[str, Any], containers: Containers) -> str:
    names = [
        str(s.get("name") or "")
        for s in _sc(spec).get("sysctls") or []
        if isinstance(s, dict) and s.get("name") not in SAFE_SYSCTLS
    ]
    return f"forbidden sysctls ({', '.join(names)})" if names else ""


BASELINE: tuple[Callable[[dict[str, Any], Containers], str], ...] = (
    _capabilities_baseline,
    _host_namespaces,
    _host_path,
    _host_ports,
    _privileged,
    _proc_mount,
    _seccomp_baseline,
    _sysctls,
)

# ---- restricted ----


def _allow_privilege_escalation(spec: dict[str, Any], containers: Containers) -> str:
    names = _offending(containers, lambda c: _sc(c).get("allowPrivilegeEscalation") is not False)
    if not names:
        return ""
    return (
        f"allowPrivilegeEscalation != false ({_names('container', names)} must set "
        "securityContext.allowPrivilegeEscalation=false)"
    )


def _capabilities_restricted(spec: dict[str, Any], containers: Containers) -> str:
    details = []
    no_drop = _offending(containers, lambda c: "ALL" not in ((_sc(c).get("capabilities") or {}).get("drop") or []))
    if no_drop:
        details.append(f'{_names("container", no_drop)} must set securityContext.capabilities.drop=["ALL"]')
    details += _added_capabilities(containers, ("NET_BIND_SERVICE",))
    return f"unrestricted capabilities ({'; '.join(details)})" if details else ""


def _restricted_volumes(spec: dict[str, Any], containers: Containers) -> str:
    details = []
    for v in spec.get("volumes") or []:
        if not isinstance(v, dict):
            continue
        kinds = [k for k in v if k != "name" and k not in RESTRICTED_VOLUMES]
        if kinds and "hostPath" not in kinds:
            details.append(f'volume "{v.get("name", "")}" uses restricted volume type "{kinds[0]}"')
        elif "hostPath" in kinds:
            details.append(f'volume "{v.get("name", "")}" uses restricted volume type "hostPath"')
    return f"restricted volume types ({'; '.join(details)})" if details else ""


def _run_as_non_root(spec: dict[str, Any], containers: Containers) -> str:
    pod_value = _sc(spec).get("runAsNonRoot")
    explicit_false = _offending(containers, lambda c: _sc(c).get("runAsNonRoot") is False)
    unset = _offending(containers, lambda c: _sc(c).get("runAsNonRoot") is None)
    details = []
    if pod_value is False:
        details.append("pod must not set securityContext.runAsNonRoot=false")
    if explicit_false:
        details.append(f"{_names('container', explicit_false)} must not set securityContext.runAsNonRoot=false")
    if pod_value is None and unset:
        details.append(f"pod or {_names('container', unset)} must set securityContext.runAsNonRoot=true")
    return f"runAsNonRoot != true ({'; '.join(details)})" if details else ""


def _run_as_user(spec: dict[str, Any], containers: Containers) -> str:
    details = []
    if _sc(spec).get("runAsUser") == 0:
        details.append("pod must not set runAsUser=0")
    names = _offending(containers, lambda c: _sc(c).get("runAsUser") == 0)
    if names:
        details.append(f"{_names('container', names)} must not set runAsUser=0")
    return f"runAsUser=0 ({'; '.join(details)})" if details else ""


def _seccomp_restricted(spec: dict[str, Any], containers: Containers) -> str:
    allowed = ("RuntimeDefault", "Localhost")
    pod_type = (_sc(spec).get("seccompProfile") or {}).get("type")
    details = []
    if pod_type is not None and pod_type not in allowed:
        details.append(f'pod must not set securityContext.seccompProfile.type to "{pod_type}"')
    explicit = [c for c in containers if (_sc(c).get("seccompProfile") or {}).get("type") not in (None, *allowed)]
    for c in explicit:
        kind = (_sc(c).get("seccompProfile") or {}).get("type")
        details.append(f'container "{c.get("name", "")}" must not set securityContext.seccompProfile.type to "{kind}"')
    if pod_type is None:
        unset = _offending(containers, lambda c: (_sc(c).get("seccompProfile") or {}).get("type") is None)
        if unset:
            details.append(
                f"pod or {_names('container', unset)} must set securityContext.seccompProfile.type to "
                '"RuntimeDefault" or "Localhost"'
            )
    return f"seccompProfile ({'; '.join(details)})" if details else ""


#: kube's restricted checks override the baseline ones on capabilities, seccomp and hostPath volumes
RESTRICTED: tuple[Callable[[dict[str, Any], Containers], str], ...] = (
    _allow_privilege_escalation,
    _capabilities_restricted,
    _host_namespaces,
    _host_ports,
    _privileged,
    _proc_mount,
    _restricted_volumes,
    _run_as_non_root,
    _run_as_user,
    _seccomp_restricted,
    _sysctls,
)


def violations(level: str, pod_spec: dict[str, Any]) -> list[str]:
    """What `pod_spec` does that `level` forbids, in kube's words ([] when it conforms)."""
    checks = {"baseline": BASELINE, "restricted": RESTRICTED}.get(level, ())
    containers = _containers(pod_spec)
    return [r for r in (check(pod_spec, containers) for check in checks) if r]


def _level(labels: Mapping[str, Any], mode: str) -> str:
    value = labels.get(LABEL + mode)
    return str(value) if value in LEVELS else ("privileged" if value is None else "restricted")


class PodSecurity:
    def __init__(self, *, store: ObjectStore, labels: LocalIndex[Mapping[str, Any]] | None = None) -> None:
        self._store = store
        #: each Namespace's Pod Security labels as the event window has them; a miss reads storage
        self._labels = labels

    async def _namespace_labels(self, namespace: str) -> Mapping[str, Any]:
        cached = self._labels.namespace("") if self._labels is not None else None
        found = cached.get(namespace) if cached is not None else None
        if found is not None:
            return found
        # kube reads storage when its cache has no such namespace: the cache may lag behind
        ns = await get_object(self._store, group="", plural="namespaces", namespace="", name=namespace)
        labels = ((ns or {}).get("metadata") or {}).get("labels") or {}
        return labels if isinstance(labels, dict) else {}

    async def __call__(self, req: AdmissionRequest) -> None:
        if req.obj is None or req.subresource or req.operation not in ("CREATE", "UPDATE"):
            return
        template = _pod_template(req)
        if template is not None:
            await self._warn_for_template(req, template)
            return
        if not is_kind(req, group="", plural="pods"):
            return
        if req.operation != "CREATE" and not (req.operation == "UPDATE" and _spec_changed(req)):
            return
        labels = await self._namespace_labels(req.namespace)
        spec = req.obj.get("spec") or {}
        enforce = _level(labels, "enforce")
        problems = violations(enforce, spec)
        if problems:
            raise forbidden(req, f'violates PodSecurity "{enforce}:latest": {"; ".join(problems)}')
        warn = _level(labels, "warn")
        problems = violations(warn, spec)
        if problems:
            req.warnings.append(f'would violate PodSecurity "{warn}:latest": {"; ".join(problems)}')

    async def _warn_for_template(self, req: AdmissionRequest, spec: dict[str, Any]) -> None:
        """Workloads are never refused, but warned about what their pods would be refused for (kube does so)."""
        labels = await self._namespace_labels(req.namespace)
        warned: set[str] = set()
        for mode in ("enforce", "warn"):
            level = _level(labels, mode)
            problems = violations(level, spec)
            if problems and level not in warned:
                warned.add(level)
                req.warnings.append(f'would violate PodSecurity "{level}:latest": {"; ".join(problems)}')


#: (group, plural) of the kinds whose pods come from `spec.template`
_WORKLOADS = frozenset(
    {
        ("", "replicationcontrollers"),
        ("", "podtemplates"),
        ("apps", "deployments"),
        ("apps", "replicasets"),
        ("apps", "statefulsets"),
        ("apps", "daemonsets"),
        ("batch", "jobs"),
    }
)


def _pod_template(req: AdmissionRequest) -> dict[str, Any] | None:
    """The pod spec a workload would create pods from, or None when `req` is not about a workload."""
    key = (req.info.group, req.info.plural)
    obj = req.obj or {}
    if key == ("batch", "cronjobs"):
        template = (((obj.get("spec") or {}).get("jobTemplate") or {}).get("spec") or {}).get("template")
    elif key == ("", "podtemplates"):
        template = obj.get("template")
    elif key in _WORKLOADS:
        template = (obj.get("spec") or {}).get("template")
    else:
        return None
    spec = (template or {}).get("spec") if isinstance(template, dict) else None
    return spec if isinstance(spec, dict) else {}


def _spec_changed(req: AdmissionRequest) -> bool:
    """kube re-checks a pod on update only when more than its image or metadata changed."""
    old_spec = dict((req.old or {}).get("spec") or {})
    new_spec = dict((req.obj or {}).get("spec") or {})
    for s in (old_spec, new_spec):
        for key in ("initContainers", "containers"):
            s[key] = [{k: v for k, v in c.items() if k != "image"} for c in s.get(key) or [] if isinstance(c, dict)]
    return old_spec != new_spec
