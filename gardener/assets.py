"""Where the charts and Terraform modules are, in a source tree and in an installed wheel.

A checkout (or an editable install) reads `charts/` and `terraform/` at the top of the tree; a
non-editable install has them as data files under `<prefix>/share/gardener-py/` (see
`[tool.setuptools.data-files]` in pyproject.toml). Any package may import this module: it depends on
nothing of ours.
"""

from __future__ import annotations

import sysconfig
from pathlib import Path

_SOURCE_ROOT = Path(__file__).resolve().parent.parent
_INSTALLED_ROOT = Path(sysconfig.get_path("data")) / "share" / "gardener-py"


def _asset_dir(name: str) -> Path:
    for root in (_SOURCE_ROOT, _INSTALLED_ROOT):
        candidate = root / name
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{name}/ is neither in the source tree ({_SOURCE_ROOT}) nor installed ({_INSTALLED_ROOT})")


def charts_dir() -> Path:
    """The directory holding one folder of jinja2 templates per chart."""
    return _asset_dir("charts")


def terraform_dir() -> Path:
    """The directory holding one Terraform module per provider."""
    return _asset_dir("terraform")
