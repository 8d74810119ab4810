"""Pod specs as core validation checks them (ValidatePodSpec, ValidatePodTemplateSpec, ValidatePodUpdate).

Pod templates of workloads, Jobs and ReplicationControllers reuse these checks under their own paths.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gardener.apiserver.builtin.schemas import VOLUME_SOURCES
from gardener.apiserver.builtin.validation import formats, labels, quantities
from gardener.apiserver.builtin.validation.fields import (
    Reader,
    forbidden,
    invalid,
    not_found,
    not_supported,
    one_of,
    required,
    sub,
)
from gardener.apiserver.errors import FieldCause

RESTART_POLICIES = ("Always", "Never", "OnFailure")
_DNS_POLICIES = ("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None")
_PULL_POLICIES = ("Always", "IfNotPresent", "Never")
_MESSAGE_POLICIES = ("FallbackToLogsOnError", "File")
PROTOCOLS = ("SCTP", "TCP", "UDP")
_TAINT_EFFECTS = ("NoExecute", "NoSchedule", "PreferNoSchedule")
_MAX_INT32 = 2**31 - 1
#: the fields ValidatePodUpdate lets a user change (1.32, InPlacePodVerticalScaling off)
POD_UPDATE_MESSAGE = "pod updates may not change fields other than " + ",".join(
    (
        "`spec.containers[*].image`",
        "`spec.initContainers[*].image`",
        "`spec.activeDeadlineSeconds`",
        "`spec.tolerations` (only additions to existing tolerations)",
        "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
    )
)


def _volumes(r: Reader, spec: dict[str, Any], path: str) -> set[str]:
    names: set[str] = set()
    for i, volume in r.objects(spec, "volumes", f"{path}.volumes"):
        at = f"{path}.volumes[{i}]"
        name = r.text(volume, "name", f"{at}.name")
        if not name:
            r.add([required(f"{at}.name")])
        else:
            r.add(formats.unique_name(f"{at}.name", name, names, formats.dns1123_label(name)))
        if not any(k in VOLUME_SOURCES and volume[k] is not None for k in volume):
            r.add([required(at, "must specify a volume type")])
    return names


def _ports(r: Reader, container: dict[str, Any], path: str) -> None:
    names: set[str] = set()
    for i, port in r.objects(container, "ports", f"{path}.ports"):
        at = f"{path}.ports[{i}]"
        name = r.text(port, "name", f"{at}.name")
        if name:
            r.add(formats.unique_name(f"{at}.name", name, names, formats.port_name(name)))
        number = r.integer(port, "containerPort", f"{at}.containerPort")
        if not number:
            r.add([required(f"{at}.containerPort")])
        else:
            r.add(formats.check(f"{at}.containerPort", number, formats.port_number(number)))
        host = r.integer(port, "hostPort", f"{at}.hostPort")
        if host:
            r.add(formats.check(f"{at}.hostPort", host, formats.port_number(host)))
        one_of(r, port, "protocol", f"{at}.protocol", PROTOCOLS, need=True)


def _env(r: Reader, container: dict[str, Any], path: str) -> None:
    for i, env in r.objects(container, "env", f"{path}.env"):
        at = f"{path}.env[{i}].name"
        name = r.text(env, "name", at)
        if not name:
            r.add([required(at)])
        else:
            r.add(formats.check(at, name, formats.env_var_name(name)))


def _mounts(r: Reader, container: dict[str, Any], path: str, volumes: set[str]) -> None:
    seen: set[str] = set()
    for i, mount in r.objects(container, "volumeMounts", f"{path}.volumeMounts"):
        at = f"{path}.volumeMounts[{i}]"
        name = r.text(mount, "name", f"{at}.name")
        if not name:
            r.add([required(f"{at}.name")])
        elif name not in volumes:
            r.add([not_found(f"{at}.name", name)])
        mount_path = r.text(mount, "mountPath", f"{at}.mountPath")
        if not mount_path:
            r.add([required(f"{at}.mountPath")])
        elif mount_path in seen:
            r.add([invalid(f"{at}.mountPath", mount_path, "must be unique")])
        else:
            seen.add(mount_path)


def _containers(r: Reader, spec: dict[str, Any], key: str, path: str, volumes: set[str], names: set[str]) -> None:
    for i, container in r.objects(spec, key, f"{path}.{key}"):
        at = f"{path}.{key}[{i}]"
        name = r.text(container, "name", f"{at}.name")
        if not name:
            r.add([required(f"{at}.name")])
        else:
            r.add(formats.unique_name(f"{at}.name", name, names, formats.dns1123_label(name)))
        image = r.text(container, "image", f"{at}.image")
        if not image:
            if key != "ephemeralContainers":
                r.add([required(f"{at}.image")])
        elif image != image.strip():
            r.add([invalid(f"{at}.image", image, "must not have leading or trailing whitespace")])
        _ports(r, container, at)
        _env(r, container, at)
        _mounts(r, container, at, volumes)
        resources = r.obj(container, "resources", f"{at}.resources")
        if resources is not None:
            quantities.validate_requirements(r, resources, f"{at}.resources")
        one_of(r, container, "imagePullPolicy", f"{at}.imagePullPolicy", _PULL_POLICIES, need=True)
        one_of(r, container, "terminationMessagePolicy", f"{at}.terminationMessagePolicy", _MESSAGE_POLICIES, need=True)


def _tolerations(r: Reader, spec: dict[str, Any], path: str) -> None:
    for i, toleration in r.objects(spec, "tolerations", f"{path}.tolerations"):
        at = f"{path}.tolerations[{i}]"
        key = r.text(toleration, "key", f"{at}.key")
        if key:
            r.add(formats.check(f"{at}.key", key, formats.qualified_name(key)))
        operator = r.text(toleration, "operator", f"{at}.operator")
        value = r.text(toleration, "value", f"{at}.value")
        if not key and operator != "Exists":
            r.add(
                [
                    invalid(
                        f"{at}.operator",
                        operator or "",
                        'operator must be Exists when `key` is empty, which means "match all values and all keys"',
                    )
                ]
            )
        if operator == "Exists" and value:
            r.add([invalid(f"{at}.operator", toleration, "value must be empty when `operator` is 'Exists'")])
        elif operator not in (None, "", "Equal", "Exists"):
            r.add([not_supported(f"{at}.operator", operator, ("Equal", "Exists"))])
        effect = r.text(toleration, "effect", f"{at}.effect")
        if effect and effect not in _TAINT_EFFECTS:
            r.add([not_supported(f"{at}.effect", effect, _TAINT_EFFECTS)])


def validate_pod_spec(r: Reader, spec: dict[str, Any], path: str) -> None:
    """ValidatePodSpec (the parts users meet)."""
    volumes = _volumes(r, spec, path)
    if not r.array(spec, "containers", f"{path}.containers"):
        r.add([required(f"{path}.containers")])
    names: set[str] = set()
    _containers(r, spec, "containers", path, volumes, names)
    _containers(r, spec, "initContainers", path, volumes, names)
    _containers(r, spec, "ephemeralContainers", path, volumes, names)
    one_of(r, spec, "restartPolicy", f"{path}.restartPolicy", RESTART_POLICIES, need=True)
    one_of(r, spec, "dnsPolicy", f"{path}.dnsPolicy", _DNS_POLICIES, need=True)
    selector = r.string_map(spec, "nodeSelector", f"{path}.nodeSelector")
    r.add(labels.validate_labels(selector, f"{path}.nodeSelector"))
    for key, check in (
        ("serviceAccountName", formats.dns1123_subdomain),
        ("nodeName", formats.dns1123_subdomain),
        ("hostname", formats.dns1123_label),
        ("subdomain", formats.dns1123_label),
        ("priorityClassName", formats.dns1123_subdomain),
    ):
        value = r.text(spec, key, f"{path}.{key}")
        if value:
            r.add(formats.check(f"{path}.{key}", value, check(value)))
    deadline = r.integer(spec, "activeDeadlineSeconds", f"{path}.activeDeadlineSeconds")
    if deadline is not None and not 1 <= deadline <= _MAX_INT32:
        r.add([invalid(f"{path}.activeDeadlineSeconds", deadline, f"must be between 1 and {_MAX_INT32}, inclusive")])
    _tolerations(r, spec, path)


def validate_template(r: Reader, template: dict[str, Any] | None, path: str) -> None:
    """ValidatePodTemplateSpec: the template's labels and annotations, then its pod spec."""
    template = template or {}  # a struct in Go: an absent template is an empty one
    metadata = r.obj(template, "metadata", f"{path}.metadata") or {}
    r.add(labels.validate_labels(r.string_map(metadata, "labels", f"{path}.labels"), f"{path}.labels"))
    spec = r.obj(template, "spec", f"{path}.spec") or {}
    validate_pod_spec(r, spec, f"{path}.spec")
    if spec.get("ephemeralContainers"):
        r.add([forbidden(f"{path}.spec.ephemeralContainers", "ephemeral containers not allowed in pod template")])


def restart_always(r: Reader, template: dict[str, Any]) -> dict[str, Any]:
    """Controllers that keep pods running accept only restartPolicy Always; returns the template's pod spec."""
    pod = sub(template, "spec")
    policy = pod.get("restartPolicy")
    if isinstance(policy, str) and policy and policy != "Always":
        r.add([not_supported("spec.template.spec.restartPolicy", policy, ("Always",))])
    return pod


def replica_template(r: Reader, template: dict[str, Any], *, kind: str) -> None:
    """ValidatePodTemplateSpecForReplicaSet (Deployments use it too) and ...ForReplicationController:
    pods that are kept running, so restartPolicy Always and no activeDeadlineSeconds."""
    if restart_always(r, template).get("activeDeadlineSeconds") is not None:
        r.add(
            [forbidden("spec.template.spec.activeDeadlineSeconds", f"activeDeadlineSeconds in {kind} is not Supported")]
        )


def validate_pod(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    validate_pod_spec(r, spec, "spec")
    if old is not None:
        r.add(_pod_update(spec, sub(old, "spec")))
    return r.causes


def _images(containers: Any, old: Any) -> None:
    """Copy the old images into `containers` (matched by position, as kube's update check does)."""
    if not isinstance(containers, list) or not isinstance(old, list) or len(containers) != len(old):
        return
    for new_c, old_c in zip(containers, old, strict=True):
        if isinstance(new_c, dict) and isinstance(old_c, dict):
            if "image" in old_c:
                new_c["image"] = old_c["image"]
            else:
                new_c.pop("image", None)


def _container_counts(spec: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
    """ValidateContainerUpdates: containers are neither added nor removed, and keep an image."""
    for key in ("containers", "initContainers"):
        new_list, old_list = spec.get(key) or [], old.get(key) or []
        if not isinstance(new_list, list) or not isinstance(old_list, list):
            continue
        if len(new_list) != len(old_list):
            return [forbidden(f"spec.{key}", "pod updates may not add or remove containers")]
    return []


def _toleration_key(toleration: Any) -> Any:
    if not isinstance(toleration, dict):
        return toleration
    return {k: v for k, v in toleration.items() if k != "tolerationSeconds"}


def _pod_update(spec: dict[str, Any], old: dict[str, Any]) -> list[FieldCause]:
    """ValidatePodUpdate: only images, activeDeadlineSeconds, added tolerations, removed scheduling gates and a
    negative grace period set to 1 may change."""
    stop = _container_counts(spec, old)
    if stop:
        return stop
    causes: list[FieldCause] = []
    new_deadline, old_deadline = spec.get("activeDeadlineSeconds"), old.get("activeDeadlineSeconds")
    if isinstance(new_deadline, int) and not 0 <= new_deadline <= _MAX_INT32:
        return [invalid("spec.activeDeadlineSeconds", new_deadline, f"must be between 0 and {_MAX_INT32}, inclusive")]
    if isinstance(old_deadline, int):
        if new_deadline is None:
            causes.append(
                invalid("spec.activeDeadlineSeconds", None, "must not update from a positive integer to nil value")
            )
        elif isinstance(new_deadline, int) and new_deadline > old_deadline:
            return [invalid("spec.activeDeadlineSeconds", new_deadline, "must be less than or equal to previous value")]
    new_tolerations = [_toleration_key(t) for t in spec.get("tolerations") or []]
    for i, toleration in enumerate(old.get("tolerations") or []):
        if _toleration_key(toleration) not in new_tolerations:
            causes.append(
                forbidden(
                    f"spec.tolerations[{i}]", "existing toleration can not be modified except its tolerationSeconds"
                )
            )
    old_gates = [g.get("name") for g in old.get("schedulingGates") or [] if isinstance(g, dict)]
    for i, gate in enumerate(spec.get("schedulingGates") or []):
        name = gate.get("name") if isinstance(gate, dict) else gate
        if name not in old_gates:
            causes.append(
                forbidden(
                    f"spec.schedulingGates[{i}].name",
                    f"only deletion is allowed, but found new scheduling gate '{name}'",
                )
            )
    munged = copy.deepcopy(spec)
    _images(munged.get("containers"), old.get("containers"))
    _images(munged.get("initContainers"), old.get("initContainers"))
    for key in ("activeDeadlineSeconds", "schedulingGates", "tolerations"):
        _restore(munged, old, key)
    grace, old_grace = munged.get("terminationGracePeriodSeconds"), old.get("terminationGracePeriodSeconds")
    if isinstance(old_grace, int) and old_grace < 0 and grace == 1:
        munged["terminationGracePeriodSeconds"] = old_grace
    if munged != old:
        causes.append(forbidden("spec", POD_UPDATE_MESSAGE + "\n" + _diff(old, munged).rstrip("\n")))
    return causes


def _restore(munged: dict[str, Any], old: dict[str, Any], key: str) -> None:
    if key in old:
        munged[key] = old[key]
    else:
        munged.pop(key, None)


def _diff(old: Any, new: Any, path: str = "") -> str:
    """A short `-`/`+` listing of what differs (kube prints a Go struct diff there, which nobody parses)."""
    if isinstance(old, dict) and isinstance(new, dict):
        parts = [_diff(old.get(k), new.get(k), f"{path}.{k}" if path else k) for k in sorted(set(old) | set(new))]
        return "".join(p for p in parts if p)
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return "".join(_diff(o, n, f"{path}[{i}]") for i, (o, n) in enumerate(zip(old, new, strict=True)))
    if old == new:
        return ""
    lines = ""
    if old is not None:
        lines += f"- {path}: {json.dumps(old, sort_keys=True)}\n"
    if new is not None:
        lines += f"+ {path}: {json.dumps(new, sort_keys=True)}\n"
    return lines
