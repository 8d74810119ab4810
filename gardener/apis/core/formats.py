"""Parsers for the string formats of the garden API, shared by admission and controllers.

Kubernetes quantities (`4Gi`, `500m`), semantic versions (Masterminds-style, as Gardener uses them),
cron specs of hibernation schedules (robfig/cron `ParseStandard`: five fields or `@daily`-style
descriptors), maintenance time windows (`HHMMSS+ZZZZ`), RFC 3339 timestamps, CIDRs and
DNS-1123 names. Parsers return None or raise ValueError with a message fit for a field error.
"""

from __future__ import annotations

import ipaddress
import random
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import total_ordering
from typing import Any

# ---- quantities ----

QUANTITY_PATTERN = r"^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"
_QUANTITY = re.compile(QUANTITY_PATTERN)
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")
_BINARY_SUFFIXES = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL_SUFFIXES = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}


def parse_quantity(value: Any) -> Decimal | None:
    """The value of a resource.Quantity (`2`, `4Gi`, `100m`, `1e3`), or None if it is not one."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(str(value))
    if not isinstance(value, str):
        return None
    m = _QUANTITY.match(value)
    if not m or not _NUMBER.match(m.group(1)):
        return None
    try:
        number = Decimal(m.group(1))
    except InvalidOperation:  # pragma: no cover - guarded by _NUMBER
        return None
    suffix = m.group(2)
    if suffix in _BINARY_SUFFIXES:
        return number * (Decimal(1024) ** _BINARY_SUFFIXES[suffix])
    if suffix in _DECIMAL_SUFFIXES:
        return number.scaleb(_DECIMAL_SUFFIXES[suffix])
    exp = re.fullmatch(r"[eE]([-+]?\d+)", suffix)
    if exp:
        return number.scaleb(int(exp.group(1)))
    return None


# ---- semantic versions ----

_LENIENT_VERSION = re.compile(
    r"^v?(0|[1-9]\d*)(?:\.(0|[1-9]\d*))?(?:\.(0|[1-9]\d*))?"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?$"
)
#: What CloudProfiles demand of Kubernetes versions.
KUBERNETES_VERSION_PATTERN = r"^([0-9]+\.){2}[0-9]+$"
_KUBERNETES_VERSION = re.compile(KUBERNETES_VERSION_PATTERN)


@total_ordering
@dataclass(frozen=True)
class Version:
    """A semantic version; build metadata is ignored for ordering and equality, as semver says."""

    major: int
    minor: int
    patch: int
    prerelease: tuple[str, ...] = ()

    def _key(self) -> tuple[Any, ...]:
        pre = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._key() < other._key()

    def __str__(self) -> str:
        base = f"{self.major}.{self.minor}.{self.patch}"
        return f"{base}-{'.'.join(self.prerelease)}" if self.prerelease else base


def parse_version(value: Any) -> Version | None:
    """A version as Masterminds/semver reads it (`1.2.3`, `v1.2`, `1.0.0-rc.1`), or None."""
    if not isinstance(value, str):
        return None
    m = _LENIENT_VERSION.match(value)
    if not m:
        return None
    pre = tuple(m.group(4).split(".")) if m.group(4) else ()
    return Version(int(m.group(1)), int(m.group(2) or 0), int(m.group(3) or 0), pre)


def is_kubernetes_version(value: Any) -> bool:
    """Whether the value is a full `X.Y.Z` version as CloudProfiles list them."""
    return isinstance(value, str) and bool(_KUBERNETES_VERSION.match(value))


# ---- time ----

_RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp with time zone (`2027-06-30T23:59:59Z`), or None."""
    if not isinstance(value, str) or not _RFC3339.match(value):
        return None
    text = value.replace("z", "Z").replace("t", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        return None


def go_duration(seconds: int) -> str:
    """A whole number of seconds as Go prints a time.Duration: `6h0m0s`, `30m0s`, `45s`."""
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    if seconds == 0:
        return "0s"
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    if h:
        return f"{sign}{h}h{m}m{s}s"
    if m:
        return f"{sign}{m}m{s}s"
    return f"{sign}{s}s"


# ---- maintenance time windows ----

DAY = 24 * 3600
_MAINTENANCE_TIME = re.compile(r"^(\d{2})(\d{2})(\d{2})([+-])(\d{2})(\d{2})$")


def parse_maintenance_time(value: Any) -> int:
    """Seconds after midnight UTC of a maintenance time `HHMMSS+ZZZZ` (e.g. `220000+0100`); ValueError if bad."""
    m = _MAINTENANCE_TIME.match(value) if isinstance(value, str) else None
    if not m:
        raise ValueError("must be a time in the format HHMMSS+ZZZZ (e.g. 220000+0100)")
    hh, mm, ss, sign, oh, om = m.groups()
    if int(hh) > 23 or int(mm) > 59 or int(ss) > 59 or int(oh) > 23 or int(om) > 59:
        raise ValueError("must be a time in the format HHMMSS+ZZZZ (e.g. 220000+0100)")
    offset = (int(oh) * 3600 + int(om) * 60) * (1 if sign == "+" else -1)
    return (int(hh) * 3600 + int(mm) * 60 + int(ss) - offset) % DAY


def maintenance_window_duration(begin: str, end: str) -> int:
    """Length in seconds of the window from begin to end, wrapping midnight; ValueError if either is bad."""
    return (parse_maintenance_time(end) - parse_maintenance_time(begin)) % DAY


def in_maintenance_window(begin: str, end: str, when: datetime) -> bool:
    """Whether the (time-zone aware) instant lies in the daily window [begin, end)."""
    start = parse_maintenance_time(begin)
    length = maintenance_window_duration(begin, end)
    utc = when.utcoffset() or timedelta()
    local = when.replace(tzinfo=None) - utc
    seconds = local.hour * 3600 + local.minute * 60 + local.second
    return (seconds - start) % DAY < length


def format_maintenance_time(hour: int, minute: int = 0, second: int = 0) -> str:
    """A UTC maintenance time as Gardener writes it: `HHMMSS+0000`."""
    return f"{hour % 24:02d}{minute:02d}{second:02d}+0000"


def random_maintenance_window(rng: random.Random | None = None) -> tuple[str, str]:
    """A random one-hour window starting at a full hour, like Gardener's `RandomMaintenanceTimeWindow`."""
    hour = (rng or random.Random()).randrange(24)
    return format_maintenance_time(hour), format_maintenance_time(hour + 1)


# ---- cron (robfig/cron ParseStandard) ----

_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTH_NAMES = {
    n: i + 1 for i, n in enumerate(["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"])
}
_DOW_NAMES = {n: i for i, n in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}


@dataclass(frozen=True)
class CronSchedule:
    """A parsed five-field cron spec; times are matched on the wall clock of their own time zone."""

    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]
    dom_star: bool
    dow_star: bool

    def _day_matches(self, day: date) -> bool:
        dom = day.day in self.days_of_month
        dow = (day.weekday() + 1) % 7 in self.days_of_week
        if self.dom_star or self.dow_star:
            return dom and dow
        return dom or dow

    def matches(self, when: datetime) -> bool:
        return (
            when.minute in self.minutes
            and when.hour in self.hours
            and when.month in self.months
            and self._day_matches(when.date())
        )

    def next_after(self, when: datetime) -> datetime | None:
        """The first matching minute strictly after `when`, searching five years ahead."""
        start = when.replace(second=0, microsecond=0) + timedelta(minutes=1)
        day = start.date()
        for _ in range(5 * 366):
            if day.month in self.months and self._day_matches(day):
                first = day == start.date()
                for h in sorted(self.hours):
                    if first and h < start.hour:
                        continue
                    for minute in sorted(self.minutes):
                        if first and h == start.hour and minute < start.minute:
                            continue
                        return datetime(day.year, day.month, day.day, h, minute, tzinfo=when.tzinfo)
            day += timedelta(days=1)
        return None


def _cron_int(text: str, names: dict[str, int], expr: str) -> int:
    if text.lower() in names:
        return names[text.lower()]
    if not text.isdigit():
        raise ValueError(f"Failed to parse int from {text}: {expr}")
    return int(text)


def _cron_field(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[frozenset[int], bool]:
    values: set[int] = set()
    star = False
    for part in expr.split(","):
        range_and_step = part.split("/")
        if len(range_and_step) > 2:
            raise ValueError(f"Too many slashes: {part}")
        bounds = range_and_step[0].split("-")
        if len(bounds) > 2:
            raise ValueError(f"Too many hyphens: {part}")
        if bounds[0] in ("*", "?"):
            if len(bounds) > 1:
                raise ValueError(f"Too many hyphens: {part}")
            start, end = low, high
        else:
            start = _cron_int(bounds[0], names, part)
            end = _cron_int(bounds[1], names, part) if len(bounds) == 2 else start
        step = 1
        if len(range_and_step) == 2:
            step = _cron_int(range_and_step[1], {}, part)
            if step <= 0:
                raise ValueError(f"Step of range should be a positive number: {part}")
            if len(bounds) == 1 and bounds[0] not in ("*", "?"):
                end = high
        if bounds[0] in ("*", "?") and step == 1:
            star = True
        if start < low:
            raise ValueError(f"Beginning of range ({start}) below minimum ({low}): {part}")
        if end > high:
            raise ValueError(f"End of range ({end}) above maximum ({high}): {part}")
        if start > end:
            raise ValueError(f"Beginning of range ({start}) beyond end of range ({end}): {part}")
        values.update(range(start, end + 1, step))
    return frozenset(values), star


def parse_cron(spec: Any) -> CronSchedule:
    """Parse a cron spec like robfig/cron's `ParseStandard`; ValueError with robfig's wording if bad.

    `@every <duration>` is not accepted: a hibernation schedule needs fixed times of day.
    """
    if not isinstance(spec, str):
        raise ValueError("Empty spec string")
    text = spec.strip()
    if not text:
        raise ValueError("Empty spec string")
    if text.startswith("@"):
        if text not in _DESCRIPTORS:
            raise ValueError(f"Unrecognized descriptor: {text}")
        text = _DESCRIPTORS[text]
    fields = text.split()
    if len(fields) != 5:
        raise ValueError(f"Expected exactly 5 fields, found {len(fields)}: {spec}")
    minutes, _ = _cron_field(fields[0], 0, 59, {})
    hours, _ = _cron_field(fields[1], 0, 23, {})
    dom, dom_star = _cron_field(fields[2], 1, 31, {})
    months, _ = _cron_field(fields[3], 1, 12, _MONTH_NAMES)
    dow, dow_star = _cron_field(fields[4], 0, 6, _DOW_NAMES)
    return CronSchedule(minutes, hours, dom, months, dow, dom_star, dow_star)


# ---- networks ----

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_cidr(value: Any) -> IPNetwork:
    """The network of a CIDR such as `10.0.0.0/16`; ValueError with Go's message if it is none."""
    if not isinstance(value, str) or "/" not in value:
        raise ValueError(f"invalid CIDR address: {value}")
    try:
        return ipaddress.ip_interface(value).network
    except ValueError:
        raise ValueError(f"invalid CIDR address: {value}") from None


def is_canonical_cidr(value: str) -> bool:
    """Whether the address part is the network address (`10.0.0.0/8`, not `10.1.2.3/8`)."""
    iface = ipaddress.ip_interface(value)
    return iface.ip == iface.network.network_address


# ---- names ----

DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + r"(\." + DNS1123_LABEL_FMT + ")*"
_DNS1123_LABEL = re.compile(f"^{DNS1123_LABEL_FMT}$")
_DNS1123_SUBDOMAIN = re.compile(f"^{DNS1123_SUBDOMAIN_FMT}$")
_QUALIFIED_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_QUALIFIED_NAME = re.compile(f"^{_QUALIFIED_NAME_FMT}$")
_LABEL_VALUE_FMT = f"({_QUALIFIED_NAME_FMT})?"
_LABEL_VALUE = re.compile(f"^{_LABEL_VALUE_FMT}$")


def dns_label_errors(value: str) -> list[str]:
    """kube's `IsDNS1123Label` messages."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _DNS1123_LABEL.match(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
            "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
            f"validation is '{DNS1123_LABEL_FMT}')"
        )
    return errs


def dns_subdomain_errors(value: str) -> list[str]:
    """kube's `IsDNS1123Subdomain` messages."""
    errs = []
    if len(value) > 253:
        errs.append("must be no more than 253 characters")
    if not _DNS1123_SUBDOMAIN.match(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            f"validation is '{DNS1123_SUBDOMAIN_FMT}')"
        )
    return errs


def qualified_name_errors(value: str) -> list[str]:
    """kube's `IsQualifiedName` messages (label keys, taint keys): `[prefix/]name`."""
    parts = value.split("/")
    if len(parts) > 2:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
            "with an alphanumeric character, with an optional DNS subdomain prefix and '/'"
        ]
    errs = []
    name = parts[-1]
    if len(parts) == 2:
        if not parts[0]:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend(f"prefix part {m}" for m in dns_subdomain_errors(parts[0]))
    if not name:
        errs.append("name part must be non-empty")
    elif len(name) > 63:
        errs.append("name part must be no more than 63 characters")
    if name and not _QUALIFIED_NAME.match(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            f"an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation "
            f"is '{_QUALIFIED_NAME_FMT}')"
        )
    return errs


def label_value_errors(value: str) -> list[str]:
    """kube's `IsValidLabelValue` messages."""
    errs = []
    if len(value) > 63:
        errs.append("must be no more than 63 characters")
    if not _LABEL_VALUE.match(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and "
            "must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', "
            f"regex used for validation is '{_LABEL_VALUE_FMT}')"
        )
    return errs
