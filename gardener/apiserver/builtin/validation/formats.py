"""String formats of apimachinery's util/validation: each check returns kube's messages (empty when valid).

The messages are what kube prints after `Invalid value: "<value>": `, including the examples and the
regular expression it quotes.
"""

from __future__ import annotations

import ipaddress
import re

from gardener.apiserver.builtin.validation.fields import duplicate, invalid
from gardener.apiserver.errors import FieldCause

_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN = _LABEL + r"(\." + _LABEL + ")*"
_DNS1035 = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED + ")?"
_ENV_VAR = "[-._a-zA-Z][-._a-zA-Z0-9]*"
_PORT_NAME = re.compile(r"^[-a-z0-9]+$")
_HAS_LETTER = re.compile(r"[a-z]")
_QUANTITY = re.compile(r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+|[KMGTPE]i|[numkMGTPE])?$")


def _fmt_error(what: str, regex: str, examples: tuple[str, ...]) -> str:
    shown = ",  or ".join(f"'{e}'" for e in examples)
    return f"{what} (e.g. {shown}, regex used for validation is '{regex}')"


def max_len(limit: int) -> str:
    return f"must be no more than {limit} characters"


def dns1123_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(max_len(63))
    if not re.fullmatch(_LABEL, value):
        out.append(
            _fmt_error(
                "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
                "start and end with an alphanumeric character",
                _LABEL,
                ("my-name", "123-abc"),
            )
        )
    return out


def dns1123_subdomain(value: str) -> list[str]:
    out = []
    if len(value) > 253:
        out.append(max_len(253))
    if not re.fullmatch(_SUBDOMAIN, value):
        out.append(
            _fmt_error(
                "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and "
                "must start and end with an alphanumeric character",
                _SUBDOMAIN,
                ("example.com",),
            )
        )
    return out


def dns1035_label(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(max_len(63))
    if not re.fullmatch(_DNS1035, value):
        out.append(
            _fmt_error(
                "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
                "alphabetic character, and end with an alphanumeric character",
                _DNS1035,
                ("my-name", "abc-123"),
            )
        )
    return out


def qualified_name(value: str) -> list[str]:
    out: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            out.append("prefix part must be non-empty")
        else:
            out += ["prefix part " + m for m in dns1123_subdomain(prefix)]
    else:
        return [
            _fmt_error(
                "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character",
                _QUALIFIED,
                ("MyName", "my.name", "123-abc"),
            )
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        out.append("name part must be non-empty")
    elif len(name) > 63:
        out.append("name part must be no more than 63 characters")
    if not re.fullmatch(_QUALIFIED, name):  # kube reports an empty name part twice
        out.append(
            _fmt_error(
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
                "alphanumeric character",
                _QUALIFIED,
                ("MyName", "my.name", "123-abc"),
            )
        )
    return out


def label_value(value: str) -> list[str]:
    out = []
    if len(value) > 63:
        out.append(max_len(63))
    if not re.fullmatch(_LABEL_VALUE, value):
        out.append(
            _fmt_error(
                "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
                "must start and end with an alphanumeric character",
                _LABEL_VALUE,
                ("MyValue", "my_value", "12345"),
            )
        )
    return out


def port_number(value: int) -> list[str]:
    return [] if 1 <= value <= 65535 else ["must be between 1 and 65535, inclusive"]


def port_name(value: str) -> list[str]:
    """IsValidPortName: an IANA service name."""
    out = []
    if len(value) > 15:
        out.append(max_len(15))
    if not _PORT_NAME.match(value):
        out.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not _HAS_LETTER.search(value):
        out.append("must contain at least one letter (a-z)")
    if "--" in value:
        out.append("must not contain consecutive hyphens")
    if value.startswith("-") or value.endswith("-"):
        out.append("must not begin or end with a hyphen")
    return out


def env_var_name(value: str) -> list[str]:
    """RelaxedEnvironmentVariableValidation (beta, on in 1.32): printable ASCII other than '='."""
    if value and all(" " <= c <= "~" and c != "=" for c in value):
        return []
    return ["a valid environment variable name must consist only of printable ASCII characters other than '='"]


def path_segment(value: str) -> list[str]:
    """IsValidPathSegmentName: a name usable as one segment of a URL path."""
    out = [f"may not be '{value}'"] if value in (".", "..") else []
    return out + [f"may not contain '{c}'" for c in ("/", "%") if c in value]


def is_quantity(value: str) -> bool:
    return bool(_QUANTITY.match(value))


def check(path: str, value: str | int, messages: list[str]) -> list[FieldCause]:
    """One `Invalid value` cause per message, as kube's Validate* wrappers of the Is* checks do."""
    return [invalid(path, value, m) for m in messages]


def port_number_or_name(path: str, value: int | str) -> list[FieldCause]:
    """An IntOrString port (a Service's targetPort, a NetworkPolicy port): a number in range or a port name."""
    if isinstance(value, str):
        return check(path, value, port_name(value))
    return check(path, value, port_number(value))


def unique_name(path: str, name: str, names: set[str], messages: list[str]) -> list[FieldCause]:
    """`check` for the name of a list item, plus a duplicate cause when an earlier item took it.

    `names` collects the names seen so far in the list; the name is added to it.
    """
    causes = check(path, name, messages)
    if name in names:
        causes.append(duplicate(path, name))
    names.add(name)
    return causes


def ip_address(path: str, value: str) -> list[FieldCause]:
    """IsValidIP (1.32 wording)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return [invalid(path, value, "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)")]
    return []


def cidr(path: str, value: str) -> list[FieldCause]:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return [invalid(path, value, "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)")]
    return []
