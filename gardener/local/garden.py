"""Bring-up of the local garden: API server, garden API (CRDs), controller-manager."""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import socket
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from gardener.apis.crds import all_crds
from gardener.local import cloudprofile, networks, processes
from gardener.local.networks import Networks, NoFreeNetworks
from gardener.local.processes import Managed
from gardener.local.seed import SEED_COMPONENTS, extra_kubelets, provider_local_registration, up_seed
from gardener.scheduler import rbac as scheduler_rbac

#: in start order; `down` stops them in reverse
COMPONENTS = ("apiserver", "controller-manager", "scheduler", *SEED_COMPONENTS)


class BringUpError(Exception):
    """Something the operator must look at: the message names the component and its log."""


@dataclass(frozen=True)
class Layout:
    data_dir: Path

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def apiserver_dir(self) -> Path:
        return self.data_dir / "apiserver"

    @property
    def garden_kubeconfig(self) -> Path:
        return self.data_dir / "garden.kubeconfig"

    def component_kubeconfig(self, name: str) -> Path:
        return self.data_dir / "kubeconfigs" / f"{name}.kubeconfig"


@dataclass(frozen=True)
class UpResult:
    """What `up` found and did, for the message that tells the user."""

    data_dir: Path
    #: components that were running before `up` started anything
    already_running: tuple[str, ...]
    started: tuple[str, ...]
    server: str
    kubeconfig: Path
    networks: Networks | None
    cloudprofile_created: bool


def _python() -> str:
    return sys.executable


def running(layout: Layout) -> list[str]:
    return [name for name in COMPONENTS if processes.pid_of(name, run_dir=layout.run_dir) is not None]


@contextlib.contextmanager
def _one_up_at_a_time(layout: Layout) -> Iterator[None]:
    """Two `up` in one data dir at once would start every component twice."""
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(layout.run_dir / "up.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BringUpError(f"another `gardener local up` is running for {layout.data_dir}") from None
        yield
    finally:
        os.close(fd)


def previous_port(kubeconfig: Path) -> int:
    """The port an API server had last time, so a restarted one keeps the address its clients know (0: none)."""
    try:
        server = str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])
        port = int(server.rsplit(":", 1)[1].rstrip("/"))
    except (OSError, ValueError, KeyError, IndexError, TypeError, yaml.YAMLError):
        return 0
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does: TIME_WAIT is no owner
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return 0  # somebody else has it now
    return port


def _server(kubeconfig: Path) -> str:
    return str(yaml.safe_load(kubeconfig.read_text())["clusters"][0]["cluster"]["server"])


def up(
    layout: Layout, *, port: int = 0, timeout: float = 60.0, with_seed: bool = True, seed_nodes: int = 1
) -> UpResult:
    with _one_up_at_a_time(layout):
        before = running(layout)
        nets: Networks | None = None
        if with_seed:
            try:
                nets = networks.claim(layout.data_dir)
            except NoFreeNetworks as exc:
                raise BringUpError(str(exc)) from None
        created = _up(layout, port=port, timeout=timeout, nets=nets, seed_nodes=seed_nodes)
        after = running(layout)
    return UpResult(
        data_dir=layout.data_dir,
        already_running=tuple(before),
        started=tuple(n for n in after if n not in before),
        server=_server(layout.garden_kubeconfig),
        kubeconfig=layout.garden_kubeconfig,
        networks=nets,
        cloudprofile_created=created,
    )


def _up(layout: Layout, *, port: int, timeout: float, nets: Networks | None, seed_nodes: int = 1) -> bool:
    if processes.pid_of("apiserver", run_dir=layout.run_dir) is None:
        admin = layout.apiserver_dir / "admin.kubeconfig"
        port = port or previous_port(layout.garden_kubeconfig)
        admin.unlink(missing_ok=True)
        processes.start(
            Managed(
                "apiserver",
                (
                    _python(),
                    "-m",
                    "gardener.apiserver.main",
                    "--data-dir",
                    str(layout.apiserver_dir),
                    "--secure-port",
                    str(port),
                ),
            ),
            run_dir=layout.run_dir,
            log_dir=layout.log_dir,
        )
        _wait_for_file(admin, component="apiserver", layout=layout, timeout=timeout)
        shutil.copyfile(admin, layout.garden_kubeconfig)
        layout.garden_kubeconfig.chmod(0o600)
    install_garden_api(layout.garden_kubeconfig, timeout=timeout)
    created = cloudprofile.install(layout.garden_kubeconfig)
    _apply(layout.garden_kubeconfig, [provider_local_registration()])
    scheduler_kubeconfig = layout.component_kubeconfig("scheduler")
    _user_kubeconfig(layout, scheduler_kubeconfig, user=scheduler_rbac.USER)
    _apply_rbac(layout.garden_kubeconfig, [scheduler_rbac.cluster_role(), scheduler_rbac.cluster_role_binding()])
    if processes.pid_of("scheduler", run_dir=layout.run_dir) is None:
        processes.start(
            Managed(
                "scheduler", (_python(), "-m", "gardener.scheduler.main", "--kubeconfig", str(scheduler_kubeconfig))
            ),
            run_dir=layout.run_dir,
            log_dir=layout.log_dir,
        )
    if processes.pid_of("controller-manager", run_dir=layout.run_dir) is None:
        processes.start(
            Managed(
                "controller-manager",
                (_python(), "-m", "gardener.controllermanager.main", "--kubeconfig", str(layout.garden_kubeconfig)),
            ),
            run_dir=layout.run_dir,
            log_dir=layout.log_dir,
        )
    if nets is not None:
        up_seed(
            data_dir=layout.data_dir,
            networks=nets,
            garden_kubeconfig=layout.garden_kubeconfig,
            run_dir=layout.run_dir,
            log_dir=layout.log_dir,
            wait_for_file=lambda path, *, component, timeout: _wait_for_file(
                path, component=component, layout=layout, timeout=timeout
            ),
            install_crds=install_crds,
            previous_port=previous_port,
            timeout=timeout,
            nodes=seed_nodes,
        )
    return created


def _user_kubeconfig(layout: Layout, path: Path, *, user: str, groups: tuple[str, ...] = ()) -> None:
    """A client-certificate kubeconfig for a garden component, signed by the local garden's CA."""
    from gardener.apiserver.kubeconfig import build_kubeconfig, write_kubeconfig
    from gardener.runtime.pki import KeyPair, issue_client_cert

    pki = layout.apiserver_dir / "pki"
    ca = KeyPair(cert_pem=(pki / "ca.crt").read_bytes(), key_pem=(pki / "ca.key").read_bytes())
    cert = issue_client_cert(ca, user=user, groups=groups)
    garden = yaml.safe_load(layout.garden_kubeconfig.read_text())
    server = garden["clusters"][0]["cluster"]["server"]
    path.parent.mkdir(parents=True, exist_ok=True)
    write_kubeconfig(
        path,
        build_kubeconfig(
            server=server, ca_pem=ca.cert_pem, user=user, client_cert_pem=cert.cert_pem, client_key_pem=cert.key_pem
        ),
    )


def _apply_rbac(kubeconfig: Path, objects: list[dict[str, Any]]) -> None:
    _apply(kubeconfig, objects)


_COLLECTIONS = {
    "ClusterRole": "/apis/rbac.authorization.k8s.io/v1/clusterroles",
    "ClusterRoleBinding": "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
    "ControllerRegistration": "/apis/core.gardener.cloud/v1beta1/controllerregistrations",
}


def _apply(kubeconfig: Path, objects: list[dict[str, Any]]) -> None:
    """Create or update cluster-scoped garden objects (RBAC, ControllerRegistrations)."""
    from gardener.runtime.kube import Kube

    kube = Kube.from_kubeconfig(kubeconfig)
    for obj in objects:
        kube.apply(_COLLECTIONS[obj["kind"]], obj)


def _wait_for_file(path: Path, *, component: str, layout: Layout, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if processes.pid_of(component, run_dir=layout.run_dir) is None:
            raise BringUpError(f"{component} exited during start-up; see {layout.log_dir / (component + '.log')}")
        if time.monotonic() > deadline:
            raise BringUpError(
                f"{component} not ready after {timeout:.0f}s; see {layout.log_dir / (component + '.log')}"
            )
        time.sleep(0.1)


def install_garden_api(kubeconfig: Path, *, timeout: float) -> None:
    """Create or update the garden CRDs and wait until they are Established."""
    install_crds(kubeconfig, crds=all_crds(), timeout=timeout)


def install_crds(kubeconfig: Path, *, crds: list[dict[str, Any]], timeout: float) -> None:
    """Create or update CRDs and wait until they are Established."""
    from gardener.runtime.kube import Kube

    kube = Kube.from_kubeconfig(kubeconfig)
    path = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    for crd in crds:
        kube.apply(path, crd)
    deadline = time.monotonic() + timeout
    for crd in crds:
        while not _established(kube.raw("GET", f"{path}/{crd['metadata']['name']}")):
            if time.monotonic() > deadline:
                raise BringUpError(f"CRD {crd['metadata']['name']} not Established after {timeout:.0f}s")
            time.sleep(0.05)


def _established(crd: dict[str, Any] | None) -> bool:
    conditions = ((crd or {}).get("status") or {}).get("conditions") or []
    return any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)


def down(layout: Layout) -> list[str]:
    stopped = []
    for name in reversed((*COMPONENTS, *extra_kubelets(layout.run_dir))):
        if processes.stop(name, run_dir=layout.run_dir):
            stopped.append(name)
    # What the components started (control planes of shoots, local machines) goes too.
    if processes.sweep(layout.data_dir):
        stopped.append("shoot processes")
    networks.release(layout.data_dir)
    return stopped


def status(layout: Layout) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in (*COMPONENTS, *extra_kubelets(layout.run_dir)):
        pid = processes.pid_of(name, run_dir=layout.run_dir)
        out[name] = {"running": pid is not None, "pid": pid}
    if layout.garden_kubeconfig.exists():
        out["garden"] = {"server": _server(layout.garden_kubeconfig), "kubeconfig": str(layout.garden_kubeconfig)}
    nets = networks.recorded(layout.data_dir)
    if nets is not None:
        out["networks"] = nets.as_dict()
    return out
