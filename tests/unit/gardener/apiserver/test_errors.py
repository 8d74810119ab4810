"""Status errors shaped as kube-apiserver's (k8s.io/apimachinery/pkg/api/errors)."""

from __future__ import annotations

import pytest

from gardener.apiserver import errors
from gardener.apiserver.errors import FieldCause

REQUIRED = FieldCause("FieldValueRequired", "Required value", "spec.user")
BAD_NAME = FieldCause("FieldValueInvalid", 'Invalid value: "A": must be lowercase', "metadata.name")
NO_FIELD = FieldCause("FieldValueForbidden", "Forbidden: at most one of `sinceTime` or `sinceSeconds`", "")


@pytest.mark.parametrize(
    ("kind", "group", "name", "causes", "message"),
    [
        ("Deployment", "apps", "web", [REQUIRED], 'Deployment.apps "web" is invalid: spec.user: Required value'),
        (
            "ConfigMap",
            "",
            "c",
            [BAD_NAME],
            'ConfigMap "c" is invalid: metadata.name: Invalid value: "A": must be lowercase',
        ),
        (
            "SubjectAccessReview",
            "authorization.k8s.io",
            "",
            [REQUIRED, BAD_NAME],
            'SubjectAccessReview.authorization.k8s.io "" is invalid: '
            '[spec.user: Required value, metadata.name: Invalid value: "A": must be lowercase]',
        ),
        # ToAggregate drops repeated messages; one left means no brackets
        ("Pod", "", "p", [REQUIRED, REQUIRED], 'Pod "p" is invalid: spec.user: Required value'),
        # field.Error prints "<field>: <body>" even when the field is empty
        ("PodLogOptions", "", "p", [NO_FIELD], f'PodLogOptions "p" is invalid: : {NO_FIELD.message}'),
        ("Pod", "", 'a"b', [], 'Pod "a\\"b" is invalid'),
    ],
)
def test_invalid_message(kind: str, group: str, name: str, causes: list[FieldCause], message: str) -> None:
    err = errors.invalid(kind=kind, group=group, name=name, causes=causes)
    assert (err.code, err.reason, err.message) == (422, "Invalid", message)
    status = err.to_status()
    assert status["details"].get("causes", []) == [c.to_dict() for c in causes]
    assert status["details"]["kind"] == kind and status["details"]["group"] == group
