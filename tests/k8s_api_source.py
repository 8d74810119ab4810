"""The Kubernetes 1.32 API as its Python client 32.0.1 describes it: unpacked by `make` under .venv/share.

The runtime's installed `kubernetes` client is newer (it describes another release), so tests that compare what
we serve with upstream's 1.32 read this copy as text instead.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parents[1] / ".venv" / "share" / "kubernetes-client-32.0.1" / "kubernetes"


def package_dir() -> Path:
    """The `kubernetes` package directory of client 32.0.1; fails clearly when `make` has not unpacked it."""
    assert (PACKAGE_DIR / "client" / "api").is_dir(), f"{PACKAGE_DIR} is missing: run `make` (it unpacks it)"
    return PACKAGE_DIR
