"""storage.k8s.io/v1 StorageClass (ValidateStorageClass, ValidateStorageClassUpdate)."""

from __future__ import annotations

from typing import Any

from gardener.apiserver.builtin.validation import formats
from gardener.apiserver.builtin.validation.fields import Reader, forbidden, immutable, one_of, required, too_long
from gardener.apiserver.errors import FieldCause

_MAX_PROVISIONER = 63


def validate_storageclass(obj: dict[str, Any], old: dict[str, Any] | None) -> list[FieldCause]:
    r = Reader()
    provisioner = r.text(obj, "provisioner", "provisioner")
    if not provisioner:
        r.add([required("provisioner")])
    elif len(provisioner) > _MAX_PROVISIONER:
        r.add([too_long("provisioner", _MAX_PROVISIONER)])
    else:
        r.add(formats.check("provisioner", provisioner, formats.qualified_name(provisioner.lower())))
    r.string_map(obj, "parameters", "parameters")
    one_of(r, obj, "reclaimPolicy", "reclaimPolicy", ("Delete", "Retain"), need=True)
    one_of(r, obj, "volumeBindingMode", "volumeBindingMode", ("Immediate", "WaitForFirstConsumer"), need=True)
    if old is not None:
        if (obj.get("parameters") or {}) != (old.get("parameters") or {}):
            r.add([forbidden("parameters", "updates to parameters are forbidden.")])
        if provisioner != old.get("provisioner"):
            r.add([forbidden("provisioner", "updates to provisioner are forbidden.")])
        if obj.get("reclaimPolicy") != old.get("reclaimPolicy"):
            r.add([forbidden("reclaimPolicy", "updates to reclaimPolicy are forbidden.")])
        if obj.get("volumeBindingMode") != old.get("volumeBindingMode"):
            r.add([immutable("volumeBindingMode", obj.get("volumeBindingMode"))])
    return r.causes
