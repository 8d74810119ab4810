"""Rarely needed modules stay out of a fresh API server process until a request needs them (idle RSS)."""

from __future__ import annotations

import subprocess
import sys

from gardener.apis.core import admission
from gardener.apiserver import gardenadmission

#: imported on the first request that needs them, never at startup
LAZY = (
    "gardener.apis.core.admission",  # the first core.gardener.cloud object admitted
    "gardener.apis.core.v1beta1",
    "gardener.apis.core.validation",
    "gardener.apiserver.protobuf",  # the first protobuf body
    "gardener.apiserver.tables",  # the first `Accept: ...;as=Table`
)


def test_garden_admission_knows_the_groups_without_importing_admission() -> None:
    assert gardenadmission.GROUPS == admission.GROUPS


def test_server_modules_leave_rarely_used_ones_unimported() -> None:
    code = f"import sys\nimport gardener.apiserver.main\nprint(','.join(m for m in {LAZY!r} if m in sys.modules))\n"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""
