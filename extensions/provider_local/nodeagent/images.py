"""Which host program a container image stands for: the image table.

There are no images on a local seed. Each rule names image patterns and says how the container's
argv (its command and args, or the image's ENTRYPOINT and CMD) becomes a host argv: programs map
the in-image executable to a host argv prefix, flags may be kept, rewritten or dropped, and extra
arguments and environment variables are added. Templates may use `{python}`, `{pod_ip}`,
`{host_ip}`, `{pod_dir}`, `{pod_name}`, `{namespace}`, `{node_name}` and `{data_dir}`; flag
templates also `{value}` and `{arg}`. Flags are recognised in the `--flag=value` form (as
Gardener's charts write them) and as bare `--flag`. The first matching rule wins; rules from
`--image-config` come before the built-in ones.
"""

from __future__ import annotations

import fnmatch
import os
import shutil
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

KEEP: tuple[str, ...] = ("{arg}",)


class ImageError(Exception):
    """The image cannot be run here (no rule, or nothing to run)."""


@dataclass(frozen=True)
class ImageRule:
    name: str
    match: tuple[str, ...]
    #: the image's ENTRYPOINT, used when the container has no command
    entrypoint: tuple[str, ...] = ()
    #: the image's CMD, used when the container has neither command nor args
    cmd: tuple[str, ...] = ()
    #: in-image executable (path or base name, glob allowed) -> host argv prefix
    programs: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: `--flag` -> replacement templates; () drops it
    flags: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    #: "keep" or "drop" flags that `flags` does not name
    unknown_flags: str = "keep"
    extra_args: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    #: a program that reads flags from `<PREFIX><FLAG_NAME>` variables too: such an `env` entry is left out when
    #: the argv gives the flag (etcd refuses to start when both are set)
    env_flag_prefix: str = ""

    def matches(self, image: str) -> bool:
        return any(fnmatch.fnmatchcase(image, pattern) for pattern in self.match)


@dataclass(frozen=True)
class HostCommand:
    """What to execute on the host for one container, before `$(VAR)` expansion of the args."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    rule: str


def _fmt(template: str, variables: Mapping[str, str]) -> str:
    try:
        return template.format_map(variables)
    except (KeyError, ValueError, IndexError) as exc:
        raise ImageError(f"bad template {template!r}: {exc!r}") from exc


class ImageTable:
    def __init__(self, rules: Sequence[ImageRule]) -> None:
        self.rules = tuple(rules)

    @classmethod
    def load(cls, path: Path | None) -> ImageTable:
        extra = parse_rules(yaml.safe_load(path.read_text()) or {}) if path else ()
        return cls((*extra, *default_rules()))

    def rule_for(self, image: str) -> ImageRule:
        for rule in self.rules:
            if rule.matches(image):
                return rule
        raise ImageError(f"no program is known for image {image!r}")

    def launch(
        self, image: str, *, command: Sequence[str], args: Sequence[str], variables: Mapping[str, str]
    ) -> HostCommand:
        """The host argv and extra environment for a container (Kubernetes command/args semantics first)."""
        rule = self.rule_for(image)
        argv = [*command, *args] if command else [*rule.entrypoint, *(args or rule.cmd)]
        if not argv or not (command or rule.entrypoint or rule.cmd):
            raise ImageError(f"image {image!r} has no entrypoint here: the container must give a command")
        prefix = _program(rule, argv[0])
        program = [_fmt(t, variables) for t in prefix] if prefix is not None else [argv[0]]
        rest: list[str] = []
        for arg in argv[1:]:
            rest += _map_flag(rule, arg, variables)
        final = (*program, *rest, *(_fmt(t, variables) for t in rule.extra_args))
        given = {arg.partition("=")[0] for arg in final if arg.startswith("--")}
        env = {
            k: _fmt(v, variables)
            for k, v in rule.env.items()
            if not (rule.env_flag_prefix and k.startswith(rule.env_flag_prefix) and _flag_of(rule, k) in given)
        }
        return HostCommand(argv=final, env=env, rule=rule.name)

    def helper_argv(self, image: str, command: Sequence[str], variables: Mapping[str, str]) -> list[str]:
        """A side command in the container (an exec probe): named programs map, the rest runs as given."""
        if not command:
            return []
        prefix = _program(self.rule_for(image), command[0], named_only=True)
        if prefix is None:
            return list(command)
        return [*(_fmt(t, variables) for t in prefix), *command[1:]]


def _flag_of(rule: ImageRule, variable: str) -> str:
    return "--" + variable[len(rule.env_flag_prefix) :].lower().replace("_", "-")


def _program(rule: ImageRule, executable: str, *, named_only: bool = False) -> tuple[str, ...] | None:
    base = os.path.basename(executable)
    for pattern, prefix in rule.programs.items():
        if named_only and pattern == "*":
            continue
        if fnmatch.fnmatchcase(executable, pattern) or fnmatch.fnmatchcase(base, pattern):
            return prefix
    return None


def _map_flag(rule: ImageRule, arg: str, variables: Mapping[str, str]) -> list[str]:
    if not arg.startswith("-") or arg == "-" or arg == "--":
        return [arg]
    flag, eq, value = arg.partition("=")
    if flag in rule.flags:
        templates = rule.flags[flag]
    elif rule.unknown_flags == "drop":
        return []
    else:
        return [arg]
    local = {**variables, "value": value if eq else "", "arg": arg}
    return [_fmt(t, local) for t in templates]


def _strings(value: Any, what: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str) or not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{what} must be a list of strings")
    return tuple(value)


def parse_rules(doc: Mapping[str, Any]) -> tuple[ImageRule, ...]:
    """Rules from a config document: `images: [{name, match, entrypoint, cmd, programs, flags, ...}]`."""
    rules = []
    for i, item in enumerate(doc.get("images") or []):
        where = f"images[{i}]"
        if not isinstance(item, dict) or not item.get("match"):
            raise ValueError(f"{where} needs a match list")
        flags: dict[str, tuple[str, ...]] = {}
        for flag, spec in (item.get("flags") or {}).items():
            flags[str(flag)] = KEEP if spec == "keep" else () if spec == "drop" else _strings(spec, f"{where}.flags")
        unknown = item.get("unknownFlags", "keep")
        if unknown not in ("keep", "drop"):
            raise ValueError(f"{where}.unknownFlags must be keep or drop")
        rules.append(
            ImageRule(
                name=str(item.get("name") or f"config-{i}"),
                match=_strings(item["match"], f"{where}.match"),
                entrypoint=_strings(item.get("entrypoint"), f"{where}.entrypoint"),
                cmd=_strings(item.get("cmd"), f"{where}.cmd"),
                programs={str(k): _strings(v, f"{where}.programs") for k, v in (item.get("programs") or {}).items()},
                flags=flags,
                unknown_flags=unknown,
                extra_args=_strings(item.get("extraArgs"), f"{where}.extraArgs"),
                env={str(k): str(v) for k, v in (item.get("env") or {}).items()},
                env_flag_prefix=str(item.get("envFlagPrefix") or ""),
            )
        )
    return tuple(rules)


def etcd_binary() -> str:
    return "/usr/bin/etcd" if os.path.exists("/usr/bin/etcd") else (shutil.which("etcd") or "/usr/bin/etcd")


def terraform_path() -> str:
    """This host's PATH with the directory of its Terraform first (/usr/local/bin where Terraform installs)."""
    found = shutil.which("terraform") or "/usr/local/bin/terraform"
    dirs = [os.path.dirname(found), *os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin").split(os.pathsep)]
    # braces would read as template fields
    return os.pathsep.join(d for d in dict.fromkeys(dirs) if d and "{" not in d and "}" not in d)


def default_rules() -> tuple[ImageRule, ...]:
    python = {"python": ("{python}",), "python3": ("{python}",), "python3.*": ("{python}",)}
    return (
        ImageRule(
            name="etcd",
            match=("*etcd*",),
            entrypoint=("/usr/local/bin/etcd",),
            programs={"etcd": (etcd_binary(),)},
            # Client and peer listeners default to localhost, shared by every pod: default them to the pod's own
            # address instead. Flags given by the manifest win over these variables.
            env_flag_prefix="ETCD_",
            env={
                "ETCD_LISTEN_CLIENT_URLS": "http://{pod_ip}:2379",
                "ETCD_ADVERTISE_CLIENT_URLS": "http://{pod_ip}:2379",
                "ETCD_LISTEN_PEER_URLS": "http://{pod_ip}:2380",
            },
        ),
        ImageRule(
            name="kube-apiserver",
            match=("*kube-apiserver*",),
            entrypoint=("/usr/local/bin/kube-apiserver",),
            programs={"*": ("{python}", "-m", "gardener.apiserver.main")},
            flags={
                "--etcd-servers": ("--storage=etcd", "--etcd-servers={value}"),
                "--secure-port": KEEP,
                "--service-cluster-ip-range": KEEP,
                "--service-node-port-range": KEEP,
                "--encryption-provider-config": KEEP,
                "--token-auth-file": KEEP,
                "--tls-san": KEEP,
                "--advertise-address": ("--tls-san={value}",),
                # Certificates a gardenlet manages for a shoot; the CA key because the server signs CSRs itself.
                "--client-ca-file": KEEP,
                "--cluster-signing-key-file": KEEP,
                "--tls-cert-file": KEEP,
                "--tls-private-key-file": KEEP,
                "--service-account-signing-key-file": KEEP,
            },
            unknown_flags="drop",
            extra_args=("--data-dir={pod_dir}/apiserver", "--bind-address={pod_ip}", "--tls-san={pod_ip}"),
        ),
        ImageRule(
            name="kube-controller-manager",
            match=("*kube-controller-manager*",),
            entrypoint=("/usr/local/bin/kube-controller-manager",),
            programs={"*": ("{python}", "-m", "gardener.kube_controller_manager.main")},
            flags={
                "--kubeconfig": KEEP,
                # upstream names our manager lacks (bootstrapsigner, tokencleaner ...) are accepted and reported
                "--controllers": KEEP,
                "--use-service-account-credentials": KEEP,
                "--leader-elect": KEEP,
                "--leader-elect-lease-duration": KEEP,
                "--leader-elect-renew-deadline": KEEP,
                "--leader-elect-retry-period": KEEP,
                "--leader-elect-resource-namespace": KEEP,
                "--leader-elect-resource-name": KEEP,
                "--node-monitor-period": KEEP,
                "--node-monitor-grace-period": KEEP,
                "--node-startup-grace-period": KEEP,
                "--terminated-pod-gc-threshold": KEEP,
                "--horizontal-pod-autoscaler-sync-period": KEEP,
                "--secure-port": KEEP,
                "--tls-cert-file": KEEP,
                "--tls-private-key-file": KEEP,
            },
            unknown_flags="drop",
            extra_args=("--bind-address={pod_ip}",),
        ),
        ImageRule(
            name="kube-scheduler",
            match=("*kube-scheduler*",),
            entrypoint=("/usr/local/bin/kube-scheduler",),
            programs={"*": ("{python}", "-m", "gardener.kube_scheduler.main")},
            flags={
                # The configuration file names the kubeconfig by its path in the container, and only paths in the
                # argv are rewritten to the pod's directories: the client takes the kubeconfig Gardener's command
                # line gives for delegated authentication (the same file) instead, with the defaults of the file.
                "--config": (),
                "--authentication-kubeconfig": ("--kubeconfig={value}", "--authentication-kubeconfig={value}"),
                "--authorization-kubeconfig": KEEP,
                "--kubeconfig": KEEP,
                "--leader-elect": KEEP,
                "--leader-elect-lease-duration": KEEP,
                "--leader-elect-renew-deadline": KEEP,
                "--leader-elect-retry-period": KEEP,
                "--leader-elect-resource-namespace": KEEP,
                "--leader-elect-resource-name": KEEP,
                "--secure-port": KEEP,
            },
            unknown_flags="drop",
            extra_args=("--bind-address={pod_ip}",),
        ),
        ImageRule(
            name="terraformer",
            # gardener/terraformer and its provider variants (terraformer-aws ...), from any registry
            match=tuple(
                p
                for image in ("terraformer", "terraformer-*")
                for p in (image, f"{image}:*", f"{image}@*", f"*/{image}", f"*/{image}:*", f"*/{image}@*")
            ),
            entrypoint=("/terraformer",),
            programs={"terraformer": ("{python}", "-m", "extensions.terraformer.main")},
            # Terraform found on PATH; its work directories live (and go) with the pod
            env={"PATH": terraform_path(), "TMPDIR": "{pod_dir}"},
        ),
        ImageRule(
            name="python",
            match=("python", "python:*", "*/python", "*/python:*", "*/python@*", "python@*"),
            cmd=("python3",),
            programs=python,
        ),
        ImageRule(
            name="shell",
            match=tuple(
                p
                for image in ("busybox", "alpine", "debian", "ubuntu")
                for p in (image, f"{image}:*", f"{image}@*", f"*/{image}", f"*/{image}:*", f"*/{image}@*")
            ),
            cmd=("sh",),
            programs=python,
        ),
        # Anything else runs its command as given, when it gives one.
        ImageRule(name="command", match=("*",)),
    )


def base_variables(*, data_dir: Path, node_name: str) -> dict[str, str]:
    return {"python": sys.executable, "data_dir": str(data_dir), "node_name": node_name}
