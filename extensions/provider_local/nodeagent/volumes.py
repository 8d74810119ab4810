"""Pod volumes as host directories, and container paths rewritten to them.

Without a mount namespace a container cannot see `/etc/config` as its ConfigMap. Each volume
therefore becomes a directory (under the pod dir, or `<data-dir>/pvc/<namespace>/<claim>` for a
claim), and every mount path that appears in a container's command, args, env values or
workingDir is rewritten to that directory. Secret and ConfigMap payloads are swapped atomically
through a `..data` symlink, like the kubelet's AtomicWriter, so readers never see half an update.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from extensions.provider_local.nodeagent.expand import ConfigError, PodFields, field_value

Obj = dict[str, Any]
Lookup = Callable[[str], Obj | None]
Payload = dict[str, tuple[bytes, int]]

DATA = "..data"


@dataclass(frozen=True)
class Mount:
    container_path: str
    host_path: str


def pvc_dir(pvc_root: Path, namespace: str, claim: str) -> Path:
    return pvc_root / namespace / claim


def _source_payload(source: Mapping[str, Any], obj: Obj | None, *, secret: bool, what: str) -> Payload:
    if obj is None:
        if source.get("optional"):
            return {}
        raise ConfigError(f"{what} {source.get('name') or source.get('secretName')!r} not found")
    default_mode = int(source.get("defaultMode", 0o644))
    data: dict[str, bytes] = {}
    for key, value in (obj.get("data") or {}).items():
        data[key] = base64.b64decode(value) if secret else str(value).encode()
    for key, value in (obj.get("binaryData") or {}).items():
        data[key] = base64.b64decode(value)
    payload: Payload = {}
    items = source.get("items")
    if items:
        for item in items:
            key = str(item.get("key", ""))
            if key not in data:
                if source.get("optional"):
                    continue
                raise ConfigError(f"key {key!r} not found in {what} {obj['metadata']['name']!r}")
            payload[str(item.get("path") or key)] = (data[key], int(item.get("mode", default_mode)))
    else:
        payload = {key: (value, default_mode) for key, value in data.items()}
    if secret:
        # No user separation here: keep secrets readable by the agent's user only.
        payload = {path: (value, mode & 0o700) for path, (value, mode) in payload.items()}
    return payload


def _downward_payload(source: Mapping[str, Any], pod: PodFields) -> Payload:
    mode = int(source.get("defaultMode", 0o644))
    payload: Payload = {}
    for item in source.get("items") or []:
        if "fieldRef" in item:
            value = field_value(str(item["fieldRef"].get("fieldPath", "")), pod)
            payload[str(item["path"])] = (value.encode(), int(item.get("mode", mode)))
    return payload


def volume_payload(
    volume: Mapping[str, Any],
    *,
    pod: PodFields,
    secret: Lookup,
    configmap: Lookup,
    token: Callable[[str, int], str | None] = lambda audience, expiration: None,
) -> Payload | None:
    """Files of a Secret, ConfigMap, downwardAPI or projected volume; None for other kinds. `token` gives the
    service-account token for a projected source's (audience, expirationSeconds), None while there is none."""
    if "secret" in volume:
        src = volume["secret"] or {}
        return _source_payload(src, secret(str(src.get("secretName", ""))), secret=True, what="secret")
    if "configMap" in volume:
        src = volume["configMap"] or {}
        return _source_payload(src, configmap(str(src.get("name", ""))), secret=False, what="configmap")
    if "downwardAPI" in volume:
        return _downward_payload(volume["downwardAPI"] or {}, pod)
    if "projected" in volume:
        projected = volume["projected"] or {}
        mode = int(projected.get("defaultMode", 0o644))
        payload: Payload = {}
        for src in projected.get("sources") or []:
            if "secret" in src:
                s = {"defaultMode": mode, **src["secret"]}
                payload |= _source_payload(s, secret(str(s.get("name", ""))), secret=True, what="secret")
            elif "configMap" in src:
                c = {"defaultMode": mode, **src["configMap"]}
                payload |= _source_payload(c, configmap(str(c.get("name", ""))), secret=False, what="configmap")
            elif "downwardAPI" in src:
                payload |= _downward_payload({"defaultMode": mode, **src["downwardAPI"]}, pod)
            elif "serviceAccountToken" in src:
                spec = src["serviceAccountToken"] or {}
                audience = str(spec.get("audience") or "")
                value = token(audience, int(spec.get("expirationSeconds") or 3600))
                if value is None:
                    raise ConfigError("service account token is not available yet")
                payload[str(spec.get("path") or "token")] = (value.encode(), mode)
        return payload
    return None


def write_payload(target: Path, payload: Payload) -> bool:
    """Make `target` hold exactly `payload`, swapping it in at once; False when nothing changed."""
    target.mkdir(mode=0o700, parents=True, exist_ok=True)
    link = target / DATA
    if link.is_symlink() and _read_payload(link) == payload:
        return False
    version = target / f"..{time.strftime('%Y_%m_%d_%H_%M_%S')}.{time.time_ns()}"
    version.mkdir(mode=0o700)
    for rel, (content, mode) in payload.items():
        path = version / rel
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        os.chmod(path, mode)
    old = os.readlink(link) if link.is_symlink() else None
    tmp = target / "..data_tmp"
    tmp.unlink(missing_ok=True)
    os.symlink(version.name, tmp)
    os.replace(tmp, link)
    tops = {rel.split("/", 1)[0] for rel in payload}
    for entry in target.iterdir():
        if entry.name.startswith(".."):
            continue
        if entry.name not in tops and entry.is_symlink():
            entry.unlink()
    for top in tops:
        entry = target / top
        if not entry.is_symlink():
            os.symlink(f"{DATA}/{top}", entry)
    if old and old != version.name:
        shutil.rmtree(target / old, ignore_errors=True)
    return True


def _read_payload(link: Path) -> Payload:
    payload: Payload = {}
    root = link.resolve()
    for path in root.rglob("*"):
        if path.is_file():
            payload[str(path.relative_to(root))] = (path.read_bytes(), path.stat().st_mode & 0o7777)
    return payload


def ensure_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def prepare_volumes(
    pod: Obj,
    *,
    pod_dir: Path,
    pvc_root: Path,
    fields: PodFields,
    secret: Lookup,
    configmap: Lookup,
    token: Callable[[str, int], str | None] = lambda audience, expiration: None,
) -> dict[str, Path]:
    """Create or refresh every volume of the pod; volume name -> host path."""
    namespace = str(pod["metadata"].get("namespace", ""))
    paths: dict[str, Path] = {}
    for volume in (pod.get("spec") or {}).get("volumes") or []:
        name = str(volume.get("name", ""))
        payload = volume_payload(volume, pod=fields, secret=secret, configmap=configmap, token=token)
        if payload is not None:
            target = pod_dir / "volumes" / name
            write_payload(target, payload)
            paths[name] = target
        elif "persistentVolumeClaim" in volume:
            claim = str((volume["persistentVolumeClaim"] or {}).get("claimName", ""))
            paths[name] = ensure_dir(pvc_dir(pvc_root, namespace, claim))
        elif "hostPath" in volume:
            host = Path(str((volume["hostPath"] or {}).get("path", "/")))
            if (volume["hostPath"] or {}).get("type") == "DirectoryOrCreate":
                ensure_dir(host)
            paths[name] = host
        else:
            # emptyDir and anything unknown: a directory that lives as long as the pod.
            paths[name] = ensure_dir(pod_dir / "volumes" / name)
    return paths


def container_mounts(container: Mapping[str, Any], volumes: Mapping[str, Path], env: Mapping[str, str]) -> list[Mount]:
    from extensions.provider_local.nodeagent.expand import expand

    mounts = []
    for mount in container.get("volumeMounts") or []:
        base = volumes.get(str(mount.get("name", "")))
        if base is None:
            raise ConfigError(f"volume {mount.get('name')!r} is not defined")
        sub = str(mount.get("subPath") or "") or expand(str(mount.get("subPathExpr") or ""), env.get)
        host = base / sub if sub else base
        if sub and not host.exists():
            ensure_dir(host)
        mounts.append(Mount(container_path=str(mount.get("mountPath", "")).rstrip("/") or "/", host_path=str(host)))
    return mounts


def rewriter(mounts: Sequence[Mount]) -> Callable[[str], str]:
    """A function that replaces mount paths in a string with their host directories."""
    table = {m.container_path: m.host_path for m in mounts if m.container_path != "/"}
    if not table:
        return lambda text: text
    alternatives = "|".join(re.escape(p) for p in sorted(table, key=len, reverse=True))
    pattern = re.compile(rf"(?<![\w.\-/])({alternatives})(?=$|/|[^\w.\-])")
    return lambda text: pattern.sub(lambda m: table[m.group(1)], text)
