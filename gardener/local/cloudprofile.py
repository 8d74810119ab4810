"""The CloudProfile `local` that `gardener local up` installs, so a shoot can be created right away.

It lives in the package because a non-editable install has no `hack/`; `hack/examples/10-cloudprofile-local.yaml`
shows the same object (tests/e2e/test_local_cli.py keeps the two identical). It is created with kubectl's
last-applied annotation, as `kubectl apply` of that file would leave it, so applying the example afterwards
reports `unchanged` instead of warning about a missing annotation.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

NAME = "local"
PATH = "/apis/core.gardener.cloud/v1beta1/cloudprofiles"
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"

CLOUDPROFILE: dict[str, Any] = {
    "apiVersion": "core.gardener.cloud/v1beta1",
    "kind": "CloudProfile",
    "metadata": {"name": NAME},
    "spec": {
        "type": "local",
        "kubernetes": {
            "versions": [
                {"version": "1.32.2"},
                {"version": "1.32.0", "classification": "supported"},
                {"version": "1.31.6"},
                {"version": "1.31.1", "classification": "deprecated", "expirationDate": "2027-06-30T23:59:59Z"},
            ]
        },
        "machineImages": [{"name": "local", "versions": [{"version": "1.0.0", "cri": [{"name": "containerd"}]}]}],
        "machineTypes": [
            {"name": "local-small", "cpu": "2", "gpu": "0", "memory": "4Gi", "usable": True},
            {"name": "local-large", "cpu": "8", "gpu": "0", "memory": "32Gi", "usable": True},
        ],
        "volumeTypes": [{"name": "default", "class": "standard", "usable": True}],
        "regions": [
            {
                "name": "local",
                "zones": [{"name": "local-a"}, {"name": "local-b", "unavailableMachineTypes": ["local-large"]}],
            }
        ],
    },
}


def manifest() -> dict[str, Any]:
    """The object to create: CLOUDPROFILE with the annotation kubectl would write (its JSON, keys sorted, compact)."""
    applied = copy.deepcopy(CLOUDPROFILE)
    applied["metadata"]["annotations"] = {}
    obj = copy.deepcopy(CLOUDPROFILE)
    obj["metadata"]["annotations"] = {LAST_APPLIED: json.dumps(applied, sort_keys=True, separators=(",", ":")) + "\n"}
    return obj


def install(kubeconfig: Path) -> bool:
    """Create the CloudProfile unless one of that name exists (a changed one is the operator's); True if created."""
    from gardener.runtime.errors import AlreadyExists
    from gardener.runtime.kube import Kube

    kube = Kube.from_kubeconfig(kubeconfig)
    if kube.raw("GET", f"{PATH}/{NAME}") is not None:
        return False
    try:
        kube.raw("POST", PATH, manifest())
    except AlreadyExists:
        return False
    return True
