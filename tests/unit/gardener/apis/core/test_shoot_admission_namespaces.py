"""Shoots only in project namespaces, with Gardener's message, the same in-process and through the webhook.

Gardener finds the Project of a Shoot's namespace in its first mutating plugins (ShootTolerationRestriction,
ShootDNS); without one it answers `could not find referenced project: Project.core.gardener.cloud "<unknown>"
not found` before any other check, so that is all a Shoot in `default` is told. SecretBindings and Quotas are
not tied to projects by Gardener's admission and stay accepted anywhere.
"""

from __future__ import annotations

import copy
from typing import Any

from gardener.admissioncontroller.server import review_response
from gardener.apis.core import admission
from gardener.apis.core.errors import FORBIDDEN, FieldError
from gardener.apis.core.lookup import MemoryLookup
from gardener.apis.core.validation import NO_PROJECT
from tests.unit.gardener.apis.core.test_garden_admission import QUOTA, admitted, example, make_lookup

Obj = dict[str, Any]
REFUSED = [FieldError(FORBIDDEN, f"Forbidden: {NO_PROJECT}", "metadata.namespace")]
MESSAGE = (
    'Shoot.core.gardener.cloud "demo" is invalid: metadata.namespace: Forbidden: could not find referenced project: '
    'Project.core.gardener.cloud "<unknown>" not found'
)


def in_default(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    obj["metadata"]["namespace"] = "default"
    if obj.get("secretRef"):
        obj["secretRef"]["namespace"] = "default"
    return obj


def lookup_with_binding_in_default() -> MemoryLookup:
    """The examples plus a SecretBinding in `default`: the way a Shoot used to get accepted there."""
    return make_lookup(in_default(example("SecretBinding", "local")))


def request(obj: Obj, old: Obj | None = None) -> admission.Request:
    return admission.Request(
        operation="CREATE" if old is None else "UPDATE",
        group="core.gardener.cloud",
        kind=obj["kind"],
        subresource="",
        obj=obj,
        old=old,
        username="alice",
        groups=("system:authenticated",),
    )


def test_shoot_in_a_namespace_without_project_is_refused_for_that_alone() -> None:
    assert admission.admit(request(in_default(example("Shoot", "demo"))), lookup=lookup_with_binding_in_default()) == (
        REFUSED
    )
    # without the SecretBinding it still names the project, not `spec.secretBindingName: Not found`
    assert admission.admit(request(in_default(example("Shoot", "demo"))), lookup=make_lookup()) == REFUSED


def test_shoot_in_a_project_namespace_is_admitted() -> None:
    assert admission.admit(request(example("Shoot", "demo")), lookup=make_lookup()) == []


def test_spec_changes_are_refused_but_metadata_stays_writable_without_project() -> None:
    old = in_default(admitted("Shoot", "demo"))
    lookup = lookup_with_binding_in_default()
    finalizers = copy.deepcopy(old)
    finalizers["metadata"]["finalizers"] = []
    assert admission.admit(request(finalizers, old), lookup=lookup) == []
    changed = copy.deepcopy(old)
    changed["spec"]["hibernation"] = {"enabled": True}
    assert admission.admit(request(changed, old), lookup=lookup) == REFUSED


def test_secret_bindings_and_quotas_are_not_tied_to_projects() -> None:
    lookup = make_lookup()
    assert admission.admit(request(in_default(example("SecretBinding", "local"))), lookup=lookup) == []
    assert admission.admit(request(in_default(QUOTA)), lookup=lookup) == []


def test_webhook_gives_the_same_message() -> None:
    shoot = in_default(example("Shoot", "demo"))
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "1",
            "kind": {"group": "core.gardener.cloud", "version": "v1beta1", "kind": "Shoot"},
            "resource": {"group": "core.gardener.cloud", "version": "v1beta1", "resource": "shoots"},
            "operation": "CREATE",
            "object": shoot,
            "userInfo": {"username": "alice", "groups": ["system:authenticated"]},
        },
    }
    response = review_response(review, lookup=lookup_with_binding_in_default())["response"]
    assert response["allowed"] is False
    assert response["status"]["message"] == MESSAGE
    assert response["status"]["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": f"Forbidden: {NO_PROJECT}", "field": "metadata.namespace"}
    ]
