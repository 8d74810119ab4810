"""Object names checked with kube's ValidateNameFunc of each kind, in apimachinery's wording."""

from __future__ import annotations

import pytest

from gardener.apiserver import meta

SUBDOMAIN = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start "
    "and end with an alphanumeric character (e.g. 'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end "
    "with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, "
    "and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is "
    "'[a-z]([-a-z0-9]*[a-z0-9])?')"
)


@pytest.mark.parametrize(
    ("name", "rule", "messages"),
    [
        ("web.example", "subdomain", []),
        ("Bad_Name", "subdomain", [f'Invalid value: "Bad_Name": {SUBDOMAIN}']),
        ("a" * 254, "subdomain", [f'Invalid value: "{"a" * 254}": must be no more than 253 characters']),
        ("x.y", "label", [f'Invalid value: "x.y": {LABEL}']),
        ("1web", "label", []),
        ("1web", "dns1035", [f'Invalid value: "1web": {DNS1035}']),
        ("system:admin", "path", []),
        ("..", "path", ["Invalid value: \"..\": may not be '..'"]),
        (
            "a/b%c",
            "path",
            ["Invalid value: \"a/b%c\": may not contain '/'", "Invalid value: \"a/b%c\": may not contain '%'"],
        ),
    ],
)
def test_validate_name(name: str, rule: str, messages: list[str]) -> None:
    causes = meta.validate_name(name, field="metadata.name", rule=rule)
    assert [c.message for c in causes] == messages
    assert all((c.reason, c.field) == ("FieldValueInvalid", "metadata.name") for c in causes)
