"""Which garden objects are still in use, and what refusing to delete them says.

A Shoot needs its CloudProfile, Seed and SecretBinding (and the Secret behind it) until it is gone; a
SecretBinding needs its Quotas. Gardener protects them twice: the controller-manager keeps a finalizer on each
while anything uses it (pkg/controllermanager/controller/{cloudprofile,secretbinding,quota}; the gardenlet for
Seeds), and admission refuses deleting a Seed still used by Shoots (plugin/pkg/seed/validator). Here admission
refuses deleting any of the four while in use, so a user learns at once which Shoots are in the way, and the
finalizers defer a deletion that slips past admission (a Shoot created meanwhile, admission turned off).
Admission and the controller-manager both decide with these functions, so they cannot disagree.

The messages are Gardener's: its controllers' for CloudProfile, SecretBinding and Quota, its admission
plugin's for Seed (which names no Shoots in Gardener; here the list is appended). Like Gardener's
FinalizerRemoval plugin, admission also keeps the finalizer of a SecretBinding in use from being removed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from gardener.apis.core.errors import FieldError, forbidden
from gardener.apis.core.lookup import Lookup, Object, shoot_cloud_profile_name

#: Gardener's protection finalizer (gardencorev1beta1.GardenerName)
FINALIZER = "gardener"
#: the finalizer on a Secret referenced by a SecretBinding (Gardener's secretbinding controller)
SECRET_FINALIZER = "gardener.cloud/secretbinding"
#: the label marking such a Secret (v1beta1constants.LabelSecretBindingReference)
SECRET_REFERENCE_LABEL = "reference.gardener.cloud/secretbinding"
#: the kinds protected while Shoots (or, for Quotas, SecretBindings) use them
PROTECTED_KINDS = frozenset({"CloudProfile", "Seed", "SecretBinding", "Quota"})
#: at most this many users are named in a message, the rest counted, so a message stays short at any scale
MAX_NAMED = 10


def _d(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _meta(obj: Object) -> dict[str, Any]:
    return _d(obj.get("metadata"))


def key(obj: Object) -> str:
    """`namespace/name`, as Gardener names the users of an object."""
    meta = _meta(obj)
    return f"{meta.get('namespace') or ''}/{meta.get('name') or ''}"


def uses(kind: str, obj: Object, shoot: Object) -> bool:
    """Whether `shoot` needs `obj` (a CloudProfile, Seed or SecretBinding) to exist."""
    name = str(_meta(obj).get("name") or "")
    if not name:
        return False
    spec, status = _d(shoot.get("spec")), _d(shoot.get("status"))
    if kind == "CloudProfile":
        return shoot_cloud_profile_name(shoot) == name
    if kind == "Seed":
        # a Shoot on its way to another Seed still has its control plane on the old one (status.seedName)
        return name in (spec.get("seedName"), status.get("seedName"))
    if kind == "SecretBinding":
        same_namespace = _meta(shoot).get("namespace") == _meta(obj).get("namespace")
        return same_namespace and spec.get("secretBindingName") == name
    return False


def shoots_using(kind: str, obj: Object, shoots: Iterable[Object]) -> list[str]:
    """`namespace/name` of the Shoots using `obj`, sorted."""
    return sorted(key(s) for s in shoots if isinstance(s, dict) and uses(kind, obj, s))


def quota_refs(binding: Object) -> list[tuple[str, str]]:
    """(namespace, name) of the Quotas a SecretBinding references (namespace defaults to the binding's)."""
    namespace = str(_meta(binding).get("namespace") or "")
    refs = binding.get("quotas")
    if not isinstance(refs, list):
        return []
    return [
        (str(r.get("namespace") or namespace), str(r["name"])) for r in refs if isinstance(r, dict) and r.get("name")
    ]


def bindings_using(quota: Object, bindings: Iterable[Object]) -> list[str]:
    """`namespace/name` of the SecretBindings referencing `quota`, sorted."""
    meta = _meta(quota)
    wanted = (str(meta.get("namespace") or ""), str(meta.get("name") or ""))
    return sorted(key(b) for b in bindings if isinstance(b, dict) and wanted in quota_refs(b))


def names(users: list[str]) -> str:
    """Go's `%+v` of a string slice (`[a b]`), the first `MAX_NAMED` only."""
    shown = " ".join(users[:MAX_NAMED])
    more = len(users) - MAX_NAMED
    return f"[{shown} ...and {more} more]" if more > 0 else f"[{shown}]"


def in_use_message(kind: str, name: str, users: list[str]) -> str:
    """Why `kind` `name` may not go while `users` need it (Gardener's wording)."""
    if kind == "Seed":
        return f"cannot delete seed {name} since it is still used by shoot(s): {names(users)}"
    if kind == "Quota":
        return (
            "cannot delete Quota, because the following resources are still referencing it: "
            f"SecretBindings - {names(users)}, CredentialsBindings - []"
        )
    return f"Cannot delete {kind}, because the following Shoots are still referencing it: {names(users)}"


def users_of(kind: str, obj: Object, *, shoots: Iterable[Object], bindings: Iterable[Object]) -> list[str]:
    """Who still needs `obj`: Shoots for CloudProfiles, Seeds and SecretBindings, SecretBindings for Quotas."""
    if kind == "Quota":
        return bindings_using(obj, bindings)
    return shoots_using(kind, obj, shoots)


def deletion_problems(kind: str, obj: Object, *, lookup: Lookup) -> list[FieldError]:
    """Admission of a DELETE: refused while the object is in use."""
    if kind not in PROTECTED_KINDS:
        return []
    if kind == "Quota":
        users = bindings_using(obj, lookup.secret_bindings())
    else:
        namespace = str(_meta(obj).get("namespace") or "") if kind == "SecretBinding" else ""
        users = shoots_using(kind, obj, lookup.shoots(namespace))
    if not users:
        return []
    return [forbidden("", in_use_message(kind, str(_meta(obj).get("name") or ""), users))]


def finalizer_removed(obj: Object | None, old: Object | None) -> bool:
    """Whether an update takes the protection finalizer away."""
    if obj is None or old is None:
        return False
    before, after = _meta(old).get("finalizers"), _meta(obj).get("finalizers")
    return isinstance(before, list) and FINALIZER in before and not (isinstance(after, list) and FINALIZER in after)


def finalizer_removal_problems(obj: Object, old: Object | None, *, lookup: Lookup) -> list[FieldError]:
    """An update of a SecretBinding may not remove its finalizer while Shoots use it (Gardener's FinalizerRemoval)."""
    if not finalizer_removed(obj, old):
        return []
    meta = _meta(obj)
    if not shoots_using("SecretBinding", obj, lookup.shoots(str(meta.get("namespace") or ""))):
        return []
    detail = (
        f"finalizer must not be removed - secret binding {meta.get('namespace')}/{meta.get('name')} "
        "is still in use by at least one shoot"
    )
    return [forbidden("metadata.finalizers", detail)]
