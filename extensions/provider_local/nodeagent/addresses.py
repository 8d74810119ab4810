"""Loopback address pools for pods, cluster IPs and load balancers.

Any address in 127.0.0.0/8 binds without set-up, so every pod gets its own and standard ports
never clash. Allocations are saved in the data dir and are sticky: a key (a pod's namespace/name)
that comes back gets its previous address when it is still free, so a StatefulSet pod keeps its
IP across restarts. The API stays the source of truth: addresses seen there are reserved on start.
"""

from __future__ import annotations

import ipaddress
import json
import os
from collections.abc import Iterator
from pathlib import Path

REMEMBERED = 4096


class PoolExhausted(Exception):
    pass


class AddressPool:
    def __init__(self, network: str, *, state_file: Path | None = None) -> None:
        self.network = ipaddress.IPv4Network(network)
        self._state_file = state_file
        self._allocated: dict[str, str] = {}
        self._previous: dict[str, str] = {}
        self._cursor = 0
        if state_file is not None and state_file.exists():
            doc = json.loads(state_file.read_text())
            self._allocated = {k: v for k, v in doc.get("allocated", {}).items() if self.contains(v)}
            self._previous = {k: v for k, v in doc.get("previous", {}).items() if self.contains(v)}
            self._cursor = int(doc.get("cursor", 0))

    def contains(self, ip: str) -> bool:
        try:
            return ipaddress.IPv4Address(ip) in self.network
        except ValueError:
            return False

    def get(self, key: str) -> str | None:
        return self._allocated.get(key)

    def owner(self, ip: str) -> str | None:
        for key, value in self._allocated.items():
            if value == ip:
                return key
        return None

    def allocate(self, key: str, *, preferred: str | None = None) -> str:
        """The key's address: its current one, `preferred` or its previous one when free, else a fresh one."""
        if key in self._allocated:
            return self._allocated[key]
        in_use = set(self._allocated.values())
        for candidate in (preferred, self._previous.get(key)):
            if candidate and self.contains(candidate) and candidate not in in_use:
                return self._take(key, candidate)
        remembered = set(self._previous.values())
        fallback: str | None = None
        for ip in self._scan():
            if ip in in_use:
                continue
            if ip not in remembered:
                return self._take(key, ip)
            fallback = fallback or ip
        if fallback is None:
            raise PoolExhausted(f"no free address in {self.network}")
        return self._take(key, fallback)

    def reserve(self, key: str, ip: str) -> bool:
        """Record an address seen in the API; False when it is outside the pool or taken by another key."""
        if not self.contains(ip):
            return False
        owner = self.owner(ip)
        if owner is not None and owner != key:
            return False
        if self._allocated.get(key) != ip:
            self._take(key, ip)
        return True

    def release(self, key: str) -> None:
        ip = self._allocated.pop(key, None)
        if ip is None:
            return
        self._previous.pop(key, None)
        self._previous[key] = ip
        while len(self._previous) > REMEMBERED:
            del self._previous[next(iter(self._previous))]
        self._save()

    def allocated_keys(self) -> list[str]:
        return list(self._allocated)

    def _take(self, key: str, ip: str) -> str:
        for other, value in list(self._previous.items()):
            if value == ip and other != key:
                del self._previous[other]
        self._allocated[key] = ip
        self._save()
        return ip

    def _scan(self) -> Iterator[str]:
        """All usable addresses, starting after the last one handed out (network and broadcast excluded)."""
        size = self.network.num_addresses - 2
        base = int(self.network.network_address) + 1
        start = self._cursor % size
        for i in range(size):
            index = (start + i) % size
            self._cursor = (index + 1) % size
            yield str(ipaddress.IPv4Address(base + index))

    def _save(self) -> None:
        if self._state_file is None:
            return
        doc = {"allocated": self._allocated, "previous": self._previous, "cursor": self._cursor}
        tmp = self._state_file.with_name(f".{self._state_file.name}.tmp")
        tmp.write_text(json.dumps(doc, sort_keys=True))
        os.replace(tmp, self._state_file)
