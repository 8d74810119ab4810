"""Objects in use are protected: admission refuses their deletion (in-process and as webhook, same message),
the controller-manager keeps finalizers until the last user is gone; and the seed's copy of a Shoot is bounded.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from gardener.admissioncontroller.server import review_response
from gardener.apis.core import admission, references
from gardener.apis.core.lookup import MemoryLookup
from gardener.controllermanager.protection import Change, Snapshot, held_secrets, needs_shoots, plan
from gardenlet.botanist.cluster import MAX_METADATA_BYTES, bounded, cluster_copy, gardener_key
from tests.unit.gardener.apis.core.test_garden_admission import QUOTA, admitted, example, make_lookup

Obj = dict[str, Any]
DELETING = "2026-01-01T00:00:00Z"


def _delete(kind: str, obj: Obj, lookup: MemoryLookup) -> list[str]:
    group = "core.gardener.cloud"
    request = admission.Request("DELETE", group, kind, "", None, obj, "alice", ())
    problems = admission.admit(request, lookup=lookup)
    if not problems:
        return []
    name = obj["metadata"]["name"]
    plural = {"CloudProfile": "cloudprofiles", "Seed": "seeds", "SecretBinding": "secretbindings"}.get(kind, "quotas")
    return [admission.deletion_message(resource=plural, group=group, name=name, problems=problems)]


def _binding_with_quota() -> Obj:
    binding = example("SecretBinding", "local")
    binding["quotas"] = [{"name": "trial", "namespace": "garden-dev"}]
    return binding


# ---- admission ----


def test_deleting_a_cloud_profile_in_use_names_the_shoots() -> None:
    lookup = make_lookup(shoots=True)
    assert _delete("CloudProfile", example("CloudProfile", "local"), lookup) == [
        'cloudprofiles.core.gardener.cloud "local" is forbidden: Cannot delete CloudProfile, because the following '
        "Shoots are still referencing it: [garden-dev/apps garden-dev/demo]"
    ]
    assert _delete("CloudProfile", example("CloudProfile", "local"), make_lookup()) == []


def test_deleting_a_secret_binding_in_use_names_the_shoots_of_its_namespace() -> None:
    lookup = make_lookup(shoots=True)
    other = admitted("Shoot", "demo")
    other["metadata"]["namespace"] = "garden-ops"
    lookup.add(other)
    assert _delete("SecretBinding", example("SecretBinding", "local"), lookup) == [
        'secretbindings.core.gardener.cloud "local" is forbidden: Cannot delete SecretBinding, because the following '
        "Shoots are still referencing it: [garden-dev/apps garden-dev/demo]"
    ]
    elsewhere = example("SecretBinding", "local")
    elsewhere["metadata"]["namespace"] = "garden-ops"
    assert _delete("SecretBinding", elsewhere, lookup) == [
        'secretbindings.core.gardener.cloud "local" is forbidden: Cannot delete SecretBinding, because the following '
        "Shoots are still referencing it: [garden-ops/demo]"
    ]


def test_deleting_a_seed_in_use_by_spec_or_status() -> None:
    lookup = make_lookup()
    assert _delete("Seed", example("Seed", "local"), lookup) == []
    scheduled = admitted("Shoot", "demo")
    scheduled["spec"]["seedName"] = "local"
    moving = admitted("Shoot", "apps")
    moving["spec"]["seedName"] = "other"
    moving["status"]["seedName"] = "local"
    lookup.add(scheduled)
    lookup.add(moving)
    assert _delete("Seed", example("Seed", "local"), lookup) == [
        'seeds.core.gardener.cloud "local" is forbidden: cannot delete seed local since it is still used by '
        "shoot(s): [garden-dev/apps garden-dev/demo]"
    ]


def test_deleting_a_quota_in_use_names_the_secret_bindings() -> None:
    lookup = make_lookup(_binding_with_quota(), QUOTA)
    assert _delete("Quota", copy.deepcopy(QUOTA), lookup) == [
        'quotas.core.gardener.cloud "trial" is forbidden: cannot delete Quota, because the following resources are '
        "still referencing it: SecretBindings - [garden-dev/local], CredentialsBindings - []"
    ]
    assert _delete("Quota", copy.deepcopy(QUOTA), make_lookup(QUOTA)) == []


def test_deletion_needs_the_users_only() -> None:
    def needs(kind: str, obj: Obj) -> admission.Needs:
        return admission.needs(admission.Request("DELETE", "core.gardener.cloud", kind, "", None, obj, "u", ()))

    assert needs("CloudProfile", example("CloudProfile", "local")) == admission.Needs(shoots_in="")
    assert needs("Seed", example("Seed", "local")) == admission.Needs(shoots_in="")
    assert needs("SecretBinding", _binding_with_quota()) == admission.Needs(shoots_in="garden-dev")
    assert needs("Quota", QUOTA) == admission.Needs(secret_bindings_all=True)
    assert needs("Shoot", example("Shoot", "demo")) == admission.Needs()


def test_the_finalizer_of_a_secret_binding_in_use_stays() -> None:
    old = example("SecretBinding", "local")
    old["metadata"]["finalizers"] = ["gardener"]
    new = copy.deepcopy(old)
    new["metadata"]["finalizers"] = []
    request = admission.Request("UPDATE", "core.gardener.cloud", "SecretBinding", "", new, old, "alice", ())
    assert admission.needs(request) == admission.Needs(shoots_in="garden-dev")
    assert [e.to_dict() for e in admission.admit(request, lookup=make_lookup(shoots=True))] == [
        {
            "reason": "FieldValueForbidden",
            "message": "Forbidden: finalizer must not be removed - secret binding garden-dev/local is still in use "
            "by at least one shoot",
            "field": "metadata.finalizers",
        }
    ]
    assert admission.admit(request, lookup=make_lookup()) == []
    kept = admission.Request("UPDATE", "core.gardener.cloud", "SecretBinding", "", old, old, "alice", ())
    assert admission.needs(kept) == admission.Needs()


def test_confirmation_refusal_reads_like_gardener() -> None:
    project = admitted("Project", "dev")
    request = admission.Request("DELETE", "core.gardener.cloud", "Project", "", None, project, "alice", ())
    problems = admission.admit(request, lookup=make_lookup())
    assert admission.deletion_message(
        resource="projects", group="core.gardener.cloud", name="dev", problems=problems
    ) == (
        'projects.core.gardener.cloud "dev" is forbidden: must have a "confirmation.gardener.cloud/deletion" '
        "annotation to delete"
    )


def test_long_user_lists_are_cut() -> None:
    users = [f"garden-dev/s{i:02}" for i in range(12)]
    assert references.names(users[:2]) == "[garden-dev/s00 garden-dev/s01]"
    assert references.names(users).endswith("garden-dev/s09 ...and 2 more]")


def test_the_webhook_refuses_with_the_same_message() -> None:
    lookup = make_lookup(shoots=True)
    profile = example("CloudProfile", "local")
    review = {
        "request": {
            "uid": "u1",
            "kind": {"group": "core.gardener.cloud", "version": "v1beta1", "kind": "CloudProfile"},
            "resource": {"group": "core.gardener.cloud", "version": "v1beta1", "resource": "cloudprofiles"},
            "operation": "DELETE",
            "oldObject": profile,
            "userInfo": {"username": "alice"},
        }
    }
    response = review_response(review, lookup=lookup)["response"]
    assert response["allowed"] is False
    assert response["status"] == {
        "code": 403,
        "reason": "Forbidden",
        "message": _delete("CloudProfile", profile, make_lookup(shoots=True))[0],
    }
    assert "patch" not in response
    del review["request"]["oldObject"]
    assert review_response(review, lookup=lookup)["response"] == {"uid": "u1", "allowed": True}


# ---- the controller-manager's finalizers ----


def _obj(kind: str, name: str, namespace: str = "", **meta: Any) -> Obj:
    m: Obj = {"name": name, "resourceVersion": "7", **meta}
    if namespace:
        m["namespace"] = namespace
    return {"kind": kind, "metadata": m}


def _shoot(name: str, **spec: Any) -> Obj:
    return {"kind": "Shoot", "metadata": {"name": name, "namespace": "garden-dev"}, "spec": spec}


def _binding(**meta: Any) -> Obj:
    binding = _obj("SecretBinding", "local", "garden-dev", **meta)
    binding["secretRef"] = {"name": "creds"}
    binding["quotas"] = [{"name": "trial"}]
    return binding


def _snapshot(*objects: Obj, secrets: tuple[Obj, ...] = (), shoots: list[Obj] | None = None) -> Snapshot:
    by_kind: dict[str, list[Obj]] = {}
    for obj in objects:
        by_kind.setdefault(obj["kind"], []).append(obj)
    return Snapshot(objects=by_kind, secrets=list(secrets), shoots=shoots)


def _paths(changes: list[Change]) -> dict[str, tuple[tuple[str, ...], dict[str, str | None]]]:
    return {c.path: (c.finalizers, c.labels) for c in changes}


CORE = "/apis/core.gardener.cloud/v1beta1"


def test_new_objects_get_the_finalizer_and_their_secret_too() -> None:
    secret = _obj("Secret", "creds", "garden-dev", finalizers=["other"])
    snapshot = _snapshot(
        _obj("CloudProfile", "local"),
        _obj("Seed", "local", finalizers=["gardener"]),
        _binding(),
        _obj("Quota", "trial", "garden-dev"),
        secrets=(secret,),
    )
    assert not needs_shoots(snapshot.objects)
    assert _paths(plan(snapshot)) == {
        f"{CORE}/cloudprofiles/local": (("gardener",), {}),
        f"{CORE}/namespaces/garden-dev/secretbindings/local": (("gardener",), {}),
        f"{CORE}/namespaces/garden-dev/quotas/trial": (("gardener",), {}),
        "/api/v1/namespaces/garden-dev/secrets/creds": (
            ("other", "gardener.cloud/secretbinding"),
            {"reference.gardener.cloud/secretbinding": "true"},
        ),
    }
    change = plan(snapshot)[0]
    assert change.body() == {"metadata": {"resourceVersion": "7", "finalizers": ["gardener"]}}


def test_a_deleted_object_keeps_its_finalizer_while_in_use() -> None:
    profile = _obj("CloudProfile", "local", finalizers=["gardener"], deletionTimestamp=DELETING)
    seed = _obj("Seed", "local", finalizers=["gardener"], deletionTimestamp=DELETING)
    binding = _binding(finalizers=["gardener"], deletionTimestamp=DELETING)
    objects = (profile, seed, binding)
    assert needs_shoots(_snapshot(*objects).objects)
    # Shoots not read: nothing is released
    assert plan(_snapshot(*objects)) == []
    users = [_shoot("web", cloudProfileName="local", seedName="local", secretBindingName="local")]
    assert plan(_snapshot(*objects, shoots=users)) == []
    released = _paths(plan(_snapshot(*objects, shoots=[_shoot("web", cloudProfileName="other")])))
    assert released == {
        f"{CORE}/cloudprofiles/local": ((), {}),
        f"{CORE}/seeds/local": ((), {}),
        f"{CORE}/namespaces/garden-dev/secretbindings/local": ((), {}),
    }
    assert plan(_snapshot(*objects, shoots=[]))[0].body()["metadata"]["finalizers"] is None


def test_a_quota_is_kept_while_a_binding_references_it() -> None:
    quota = _obj("Quota", "trial", "garden-dev", finalizers=["gardener"], deletionTimestamp=DELETING)
    binding = _binding(finalizers=["gardener"])
    assert plan(_snapshot(quota, binding)) == []
    assert _paths(plan(_snapshot(quota))) == {f"{CORE}/namespaces/garden-dev/quotas/trial": ((), {})}


def test_a_secret_is_released_when_no_binding_holds_it() -> None:
    protected = _obj(
        "Secret",
        "creds",
        "garden-dev",
        finalizers=["gardener.cloud/secretbinding"],
        labels={"reference.gardener.cloud/secretbinding": "true"},
        deletionTimestamp=DELETING,
    )
    deleting = _binding(finalizers=["gardener"], deletionTimestamp=DELETING)
    in_use = [_shoot("web", secretBindingName="local")]
    assert held_secrets(_snapshot(_binding())) == {("garden-dev", "creds")}
    assert held_secrets(_snapshot(deleting)) == {("garden-dev", "creds")}  # Shoots unknown: still held
    assert plan(_snapshot(deleting, secrets=(protected,), shoots=in_use)) == []
    release = {
        "/api/v1/namespaces/garden-dev/secrets/creds": ((), {"reference.gardener.cloud/secretbinding": None}),
        f"{CORE}/namespaces/garden-dev/secretbindings/local": ((), {}),
    }
    assert _paths(plan(_snapshot(deleting, secrets=(protected,), shoots=[]))) == release
    gone = _paths(plan(_snapshot(secrets=(protected,))))
    assert gone == {
        "/api/v1/namespaces/garden-dev/secrets/creds": release["/api/v1/namespaces/garden-dev/secrets/creds"]
    }


def test_no_finalizer_is_added_to_what_is_being_deleted() -> None:
    secret = _obj("Secret", "creds", "garden-dev", deletionTimestamp=DELETING)
    assert plan(_snapshot(_obj("CloudProfile", "local", deletionTimestamp=DELETING))) == []
    assert [c.path for c in plan(_snapshot(_binding(), secrets=(secret,)))] == [
        f"{CORE}/namespaces/garden-dev/secretbindings/local"
    ]


# ---- the seed's copy of a Shoot ----


def test_the_cluster_copy_keeps_gardener_metadata_only() -> None:
    shoot = admitted("Shoot", "demo")
    shoot["metadata"].update(
        {
            "managedFields": [{"manager": "kubectl"}],
            "labels": {"team": "a", "shoot.gardener.cloud/status": "healthy"},
            "annotations": {
                "kubectl.kubernetes.io/last-applied-configuration": json.dumps(shoot),
                "gardener.cloud/operation": "reconcile",
                "note": "x" * 200_000,
                "big.gardener.cloud/blob": "y" * MAX_METADATA_BYTES,
            },
        }
    )
    before = copy.deepcopy(shoot)
    copied = cluster_copy(shoot)
    assert shoot == before
    assert copied["spec"] == shoot["spec"] and copied["status"] == shoot["status"]
    assert "managedFields" not in copied["metadata"]
    assert copied["metadata"]["labels"] == {"shoot.gardener.cloud/status": "healthy"}
    assert copied["metadata"]["annotations"] == {"gardener.cloud/operation": "reconcile"}
    assert len(json.dumps(copied)) < len(json.dumps(shoot["spec"])) + 4096


def test_metadata_bound_keeps_the_smallest_first() -> None:
    assert gardener_key("shoot.gardener.cloud/x") and gardener_key("gardener.cloud/x")
    assert not gardener_key("gardener.cloud") and not gardener_key("notgardener.cloud/x") and not gardener_key("a")
    entries = {f"a.gardener.cloud/k{i}": "v" * (10 * i) for i in range(1, 6)}
    kept = bounded(entries, budget=120)  # keys are 19 bytes: 29 + 39 + 49 fit, 59 more do not
    assert list(kept) == ["a.gardener.cloud/k1", "a.gardener.cloud/k2", "a.gardener.cloud/k3"]
    assert bounded("nope") == {}
