"""Loopback ranges of a local garden, so that several gardens share one machine without colliding.

A local seed's node agent gives every pod, cluster IP and load balancer an address of its own on loopback,
and shoot control planes listen on fixed ports there (etcd on 2379, the API server's load balancer on 443).
Two gardens on the same ranges would fight over the same sockets, so each garden claims three /16 ranges:
a claim file in a machine-wide registry names the data dir that holds them, and the data dir records its
choice so that a garden keeps its addresses across `down` and `up`. A claim counts while its garden has a
live process (or the `up` that wrote it is still running); ranges where something else already listens
(a node agent started by hand or by a test) are skipped as well.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import json
import os
import socket
import struct
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

#: 127.1-127.3 are the node agent's defaults, used by anything started without flags; gardens start above the
#: ranges the test suite picks for its own node agents (127.11-127.13) and end below 127.254
FIRST_BASE = 20
LAST_BASE = 251
#: what a data dir used before gardens had ranges of their own
LEGACY_BASE = 1
RECORD = "networks.json"


class NoFreeNetworks(Exception):
    """Every range set is held by another garden or in use; the message names the gardens."""


@dataclass(frozen=True)
class Networks:
    """Three consecutive /16 ranges of 127.0.0.0/8: pods, cluster IPs, load balancers."""

    base: int

    @property
    def pods(self) -> str:
        return f"127.{self.base}.0.0/16"

    @property
    def services(self) -> str:
        return f"127.{self.base + 1}.0.0/16"

    @property
    def load_balancers(self) -> str:
        return f"127.{self.base + 2}.0.0/16"

    @property
    def load_balancer_addresses(self) -> str:
        """The lower half of the load balancer range: what the seed's kubelet hands out to LoadBalancer Services."""
        return f"127.{self.base + 2}.0.0/17"

    @property
    def machines(self) -> str:
        """The upper half: the local machines' node IPs and pod ranges (a /24 each)."""
        return f"127.{self.base + 2}.128.0/17"

    def contains(self, address: str) -> bool:
        ip = ipaddress.IPv4Address(address)
        return any(ip in ipaddress.IPv4Network(n) for n in (self.pods, self.services, self.load_balancers))

    def describe(self) -> str:
        return f"pods {self.pods}, services {self.services}, load balancers {self.load_balancers}"

    def as_dict(self) -> dict[str, str]:
        return {"pods": self.pods, "services": self.services, "loadBalancers": self.load_balancers}


def candidates() -> list[Networks]:
    return [Networks(base) for base in range(FIRST_BASE, LAST_BASE + 1, 3)]


def registry_dir() -> Path:
    """Machine-wide for root (only root binds port 443, so only root runs shoots); per user otherwise."""
    if os.geteuid() == 0:
        return Path("/run/gardener-py")
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return Path(runtime) / "gardener-py"
    return Path(tempfile.gettempdir()) / f"gardener-py-{os.getuid()}"


def recorded(data_dir: Path) -> Networks | None:
    """The ranges a data dir used last time, if it says."""
    try:
        doc = json.loads((data_dir / RECORD).read_text())
        return Networks(int(doc["base"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def listening_addresses() -> set[str]:
    """IPv4 addresses with a listening TCP socket in this network namespace."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) > 3 and fields[3] == "0A":  # TCP_LISTEN
            hex_ip = fields[1].split(":")[0]
            found.add(socket.inet_ntoa(struct.pack("=I", int(hex_ip, 16))))
    return found


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _claim_file(registry: Path, networks: Networks) -> Path:
    return registry / f"127.{networks.base}.json"


def _read_claim(path: Path) -> tuple[Path, int] | None:
    try:
        doc = json.loads(path.read_text())
        return Path(doc["dataDir"]), int(doc.get("pid") or 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def garden_running(data_dir: Path) -> bool:
    """Whether any process of the garden in `data_dir` is alive, by its pid files (read only)."""
    run = data_dir / "run"
    if not run.is_dir():
        return False
    for pid_file in run.glob("*.pid"):
        with contextlib.suppress(OSError, ValueError):
            if _alive(int(pid_file.read_text().strip())):
                return True
    return False


def claim(
    data_dir: Path,
    *,
    registry: Path | None = None,
    listening: Callable[[], set[str]] = listening_addresses,
) -> Networks:
    """The ranges of the garden in `data_dir`: its recorded ones when nobody else took them, else the first free set.

    Claimed in the registry and recorded in the data dir before returning, under a registry-wide lock, so two
    `gardener local up` at once never pick the same ranges.
    """
    registry = registry or registry_dir()
    registry.mkdir(mode=0o755, parents=True, exist_ok=True)
    with _locked(registry / "lock"):
        previous = recorded(data_dir)
        if previous is None and (data_dir / "seed" / "node").exists():
            previous = Networks(LEGACY_BASE)  # a data dir from before: its Services already have those addresses
        order = [previous] if previous else []
        order += [n for n in candidates() if n != previous]
        busy: set[str] | None = None
        others: dict[Path, Networks] = {}
        for networks in order:
            holder = _read_claim(_claim_file(registry, networks))
            if holder is not None and holder[0] != data_dir:
                if _alive(holder[1]) or garden_running(holder[0]):
                    others[holder[0]] = networks
                    continue
            elif holder is not None or (networks == previous and garden_running(data_dir)):
                return _take(registry, data_dir, networks)  # ours already: what listens there is ours
            if busy is None:
                busy = listening()
            if any(networks.contains(ip) for ip in busy):
                continue
            return _take(registry, data_dir, networks)
    if others:
        held = ", ".join(str(d) for d in others)
        raise NoFreeNetworks(
            f"no free loopback ranges for another garden: {len(others)} gardens run on this machine ({held}); "
            "stop one with `gardener local down --data-dir DIR`"
        )
    raise NoFreeNetworks("no free loopback ranges for another garden: something listens in every one of them")


def _take(registry: Path, data_dir: Path, networks: Networks) -> Networks:
    for path in registry.glob("127.*.json"):
        owner = _read_claim(path)
        if owner is not None and owner[0] == data_dir and path != _claim_file(registry, networks):
            path.unlink(missing_ok=True)
    _write(_claim_file(registry, networks), {"dataDir": str(data_dir), "pid": os.getpid()})
    data_dir.mkdir(parents=True, exist_ok=True)
    _write(data_dir / RECORD, {"base": networks.base, **networks.as_dict()})
    return networks


def _write(path: Path, doc: dict[str, object]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(doc, indent=2) + "\n")
    os.replace(tmp, path)


def release(data_dir: Path, *, registry: Path | None = None) -> None:
    """Drop the garden's claim (its record stays, so the next `up` tries the same ranges first)."""
    registry = registry or registry_dir()
    if not registry.is_dir():
        return
    with _locked(registry / "lock"):
        for path in registry.glob("127.*.json"):
            owner = _read_claim(path)
            if owner is not None and owner[0] == data_dir:
                path.unlink(missing_ok=True)
