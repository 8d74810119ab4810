"""coordination.k8s.io/v1 Lease (ValidateLeaseSpec)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation.fields import Reader, invalid, nonnegative
from gardener.apiserver.errors import FieldCause


def validate_lease(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    spec = r.obj(obj, "spec", "spec") or {}
    duration = r.integer(spec, "leaseDurationSeconds", "spec.leaseDurationSeconds")
    if duration is not None and duration <= 0:
        r.add([invalid("spec.leaseDurationSeconds", duration, "must be greater than 0")])
    nonnegative(r, spec, "leaseTransitions", "spec.leaseTransitions")
    r.text(spec, "holderIdentity", "spec.holderIdentity")
    return r.causes
