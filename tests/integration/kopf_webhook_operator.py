"""A kopf operator with one validating admission handler, run by tests/integration/test_webhooks.py.

Run as `python -m kopf run --standalone --all-namespaces tests/integration/kopf_webhook_operator.py` with KUBECONFIG
pointing at the server's admin kubeconfig and these variables set by the test:

- KOPF_WEBHOOK_PORT: where kopf's own HTTPS webhook server listens on 127.0.0.1;
- KOPF_WEBHOOK_CERT, KOPF_WEBHOOK_KEY, KOPF_WEBHOOK_CA: its serving certificate, key and the CA that signed them
  (kopf can only make a self-signed certificate with its optional `certbuilder` extra, not installed here).

kopf manages the ValidatingWebhookConfiguration `validating.example.com` itself: it creates it and patches in one
webhook per handler, pointing at its server with the CA as caBundle. The handler rejects gizmos whose
`spec.size` is above 10.
"""

from __future__ import annotations

import os
from typing import Any

import kopf

GROUP = "webhooks.gardener.test"
VERSION = "v1"
PLURAL = "gizmos"
MAX_SIZE = 10


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.networking.error_backoffs = [0.5, 1, 1, 2, 2, 3, 5]
    settings.admission.server = kopf.WebhookServer(
        addr="127.0.0.1",
        port=int(os.environ["KOPF_WEBHOOK_PORT"]),
        host="127.0.0.1",
        certfile=os.environ["KOPF_WEBHOOK_CERT"],
        pkeyfile=os.environ["KOPF_WEBHOOK_KEY"],
        cafile=os.environ["KOPF_WEBHOOK_CA"],
    )
    settings.admission.managed = "validating.example.com"


@kopf.on.login()
def login(**kwargs: Any) -> kopf.ConnectionInfo | None:
    return kopf.login_with_kubeconfig(**kwargs)


@kopf.on.validate(GROUP, VERSION, PLURAL)
def check_size(spec: kopf.Spec, **_: Any) -> None:
    size = spec.get("size", 0)
    if size > MAX_SIZE:
        raise kopf.AdmissionError(f"size {size} is too big: at most {MAX_SIZE} please", code=422)
