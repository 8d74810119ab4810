"""Access to the shoot (the MCM's target cluster) of a seed namespace, from a well-known Secret there."""

from __future__ import annotations

import threading
from typing import Any

from gardener.apis.extensions.machine import SHOOT_ACCESS_KEY, SHOOT_ACCESS_SECRET
from gardener.runtime.kube import NODES, SECRETS, Kube, secret_data


class ShootClients:
    """One client per shoot namespace, rebuilt when the Secret changes."""

    def __init__(self, seed: Kube) -> None:
        self.seed = seed
        self._clients: dict[str, tuple[str, Kube]] = {}
        self._lock = threading.Lock()

    def get(self, namespace: str) -> Kube | None:
        secret = self.seed.get(SECRETS.path(namespace, SHOOT_ACCESS_SECRET))
        if secret is None:
            return None
        rv = str(secret["metadata"].get("resourceVersion"))
        with self._lock:
            cached = self._clients.get(namespace)
            if cached and cached[0] == rv:
                return cached[1]
        kubeconfig = secret_data(secret).get(SHOOT_ACCESS_KEY)
        if not kubeconfig:
            return None
        client = Kube.from_kubeconfig_text(kubeconfig.decode())
        with self._lock:
            old = self._clients.get(namespace)
            self._clients[namespace] = (rv, client)
        if old:
            old[1].close()
        return client

    def node(self, namespace: str, name: str) -> dict[str, Any] | None:
        shoot = self.get(namespace)
        return shoot.get(NODES.path(name=name)) if shoot else None

    def close(self) -> None:
        with self._lock:
            for _, client in self._clients.values():
                client.close()
            self._clients.clear()
