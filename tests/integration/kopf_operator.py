"""A small kopf operator run by tests/integration/test_kopf.py as a real subprocess.

Run as `python -m kopf run --standalone --all-namespaces tests/integration/kopf_operator.py` with KUBECONFIG
pointing at the server's admin kubeconfig. It serves `kopfexamples.kopf.gardener.test/v1`:

- create: posts an Event (kopf.info) and returns a value, which kopf stores in `status.create_fn`;
- update: writes `status.updateSeen` through kopf's patch (spec changes only: kopf diffs the spec);
- delete: runs behind kopf's finalizer and blocks until the test drops a release file named after the
  object into $KOPF_TEST_GATE_DIR (bounded), so the test can observe the object held by the finalizer.

KOPF_TEST_INITIAL_STREAMING=1 makes kopf start its watches with sendInitialEvents=true instead of a LIST.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any

import kopf

GROUP = "kopf.gardener.test"
VERSION = "v1"
PLURAL = "kopfexamples"
GATE_TIMEOUT = 60.0


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    # Fail fast instead of waiting through kopf's long default back-offs when the server is briefly away.
    settings.networking.error_backoffs = [0.5, 1, 1, 2, 2, 3, 5]
    settings.watching.reconnect_backoff = 0.5
    # Also post kopf's own per-object log lines ("Handler 'create_fn' succeeded.") as Events.
    settings.posting.loggers = True
    # WATCH with sendInitialEvents=true instead of LIST + WATCH, when the test asks for it.
    settings.watching.initial_streaming = os.environ.get("KOPF_TEST_INITIAL_STREAMING") == "1"


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    # Read KUBECONFIG only (client certificate and key as inline data), never an in-cluster service account.
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.create(GROUP, VERSION, PLURAL)
def create_fn(spec: kopf.Spec, body: kopf.Body, **_: Any) -> dict[str, Any]:
    kopf.info(body, reason="Greeting", message=f"created with field={spec.get('field')}")
    return {"message": f"hello {spec.get('field')}"}


@kopf.on.update(GROUP, VERSION, PLURAL)
def update_fn(spec: kopf.Spec, patch: kopf.Patch, **_: Any) -> None:
    patch.status["updateSeen"] = spec.get("field")


@kopf.on.delete(GROUP, VERSION, PLURAL)
async def delete_fn(name: str | None, logger: kopf.Logger, **_: Any) -> None:
    gate_dir = os.environ.get("KOPF_TEST_GATE_DIR")
    if not gate_dir or not name:
        return
    release = Path(gate_dir) / f"{name}.release"
    deadline = asyncio.get_running_loop().time() + GATE_TIMEOUT
    while not release.exists():
        if asyncio.get_running_loop().time() > deadline:
            raise kopf.PermanentError(f"no release file {release} within {GATE_TIMEOUT}s")
        await asyncio.sleep(0.1)
    logger.info(f"released {name}")
