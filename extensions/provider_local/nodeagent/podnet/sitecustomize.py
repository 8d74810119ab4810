"""Loaded by every Python program a local pod runs: a wildcard bind means the pod's own address.

In a real pod `0.0.0.0:8080` is the pod's own network namespace; here every pod shares the host's, so a
program that binds the wildcard would take the port on every pod address at once. The kubelet puts this
directory first on the pod's PYTHONPATH and names the pod's address in GARDENER_LOCAL_POD_IP; a bind to
`0.0.0.0`, `::` or `""` then binds that address (IPv4-mapped on IPv6 sockets). Explicit addresses are kept.
"""

from __future__ import annotations

import os
import socket
from typing import Any

_POD_IP = os.environ.get("GARDENER_LOCAL_POD_IP", "")
_WILDCARDS = ("", "0.0.0.0", "::")

if _POD_IP:
    _bind = socket.socket.bind

    def _pod_bind(self: socket.socket, address: Any) -> None:
        if isinstance(address, tuple) and address and address[0] in _WILDCARDS:
            if self.family == socket.AF_INET:
                address = (_POD_IP, *address[1:])
            elif self.family == socket.AF_INET6:
                address = (f"::ffff:{_POD_IP}", *address[1:])
        _bind(self, address)

    socket.socket.bind = _pod_bind  # type: ignore[method-assign,assignment]
