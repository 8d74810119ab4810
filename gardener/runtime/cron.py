"""Cron schedules as the CronJob controller reads them: robfig/cron v3's standard parser, which upstream uses.

Five fields (minute, hour, day of month, month, day of week) with `*`, `?`, lists, ranges, steps and the names
`jan`-`dec` and `sun`-`sat`; the descriptors `@yearly`/`@annually`, `@monthly`, `@weekly`, `@daily`/`@midnight`,
`@hourly` and `@every <duration>`; an optional `TZ=<zone>` (or `CRON_TZ=`) prefix. When both day fields are
restricted a day matches either (cron's old rule); when one is `*` both must match. Errors are robfig's words,
which the controller puts in its `UnparseableSchedule` events. Without a zone, schedules run in UTC (the clock of
kube's controller-manager images).
"""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo

from gardener.runtime.durations import parse_duration

__all__ = ["CronError", "Schedule", "load_zone", "parse"]

_MONTHS = {
    m: i + 1 for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"))
}
_DAYS = {d: i for i, d in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
#: (low, high, names) of minute, hour, day of month, month, day of week
_FIELDS: tuple[tuple[int, int, dict[str, int]], ...] = (
    (0, 59, {}),
    (0, 23, {}),
    (1, 31, {}),
    (1, 12, _MONTHS),
    (0, 6, _DAYS),
)
_DESCRIPTORS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
#: robfig gives up looking for a match this many years ahead
_YEARS_AHEAD = 5


class CronError(ValueError):
    """A schedule the standard parser refuses; the message is robfig's."""


@dataclass(frozen=True)
class Schedule:
    """When a parsed schedule fires: `next(t)` is the first time strictly after `t`, None if none in 5 years."""

    minutes: frozenset[int] = frozenset()
    hours: frozenset[int] = frozenset()
    days: frozenset[int] = frozenset()
    months: frozenset[int] = frozenset()
    weekdays: frozenset[int] = frozenset()
    #: whether the day-of-month / day-of-week field was `*` or `?` (robfig's star bit)
    any_day: bool = True
    any_weekday: bool = True
    zone: tzinfo = UTC
    #: for `@every`: a constant delay in whole seconds instead of fields
    every: float = 0.0

    def next(self, after: datetime) -> datetime | None:
        if self.every:
            return after.replace(microsecond=0) + timedelta(seconds=self.every)
        local = after.astimezone(self.zone).replace(tzinfo=None)
        t = local.replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = t.year + _YEARS_AHEAD
        while t.year <= limit:
            if t.month not in self.months:
                t = (t.replace(day=1, hour=0, minute=0) + timedelta(days=32)).replace(day=1)
            elif not self._day_matches(t):
                t = t.replace(hour=0, minute=0) + timedelta(days=1)
            elif t.hour not in self.hours:
                t = t.replace(minute=0) + timedelta(hours=1)
            elif t.minute not in self.minutes:
                t += timedelta(minutes=1)
            else:
                found = t.replace(tzinfo=self.zone)
                if found > after:
                    return found.astimezone(after.tzinfo) if after.tzinfo else found
                t += timedelta(minutes=1)
        return None

    def _day_matches(self, t: datetime) -> bool:
        dom = t.day in self.days
        dow = (t.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow


def _number(text: str) -> int:
    try:
        value = int(text, 10) if text.lstrip("+-").isdigit() else int("x")
    except ValueError:
        raise CronError(f'failed to parse int from {text}: strconv.Atoi: parsing "{text}": invalid syntax') from None
    if value < 0:
        raise CronError(f"negative number ({value}) not allowed: {text}")
    return value


def _number_or_name(text: str, names: dict[str, int]) -> int:
    if names and text.lower() in names:
        return names[text.lower()]
    return _number(text)


def _range(expr: str, low: int, high: int, names: dict[str, int]) -> tuple[set[int], bool]:
    """One comma-separated part: the values it selects and whether it was a bare `*`/`?`."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        start, end, star = low, high, True
    else:
        start = _number_or_name(low_and_high[0], names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _number_or_name(low_and_high[1], names)
        else:
            raise CronError(f"too many hyphens: {expr}")
    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _number(range_and_step[1])
        if single:
            end = high
        if step > 1:
            star = False
    else:
        raise CronError(f"too many slashes: {expr}")
    if start < low:
        raise CronError(f"beginning of range ({start}) below minimum ({low}): {expr}")
    if end > high:
        raise CronError(f"end of range ({end}) above maximum ({high}): {expr}")
    if start > end:
        raise CronError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise CronError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _field(text: str, index: int) -> tuple[frozenset[int], bool]:
    low, high, names = _FIELDS[index]
    values: set[int] = set()
    star = False
    for part in text.split(","):
        selected, is_star = _range(part, low, high, names)
        values |= selected
        star = star or is_star
    return frozenset(values), star


def load_zone(name: str) -> tzinfo:
    """A time zone by its IANA name, as Go's time.LoadLocation finds it."""
    if name in ("", "UTC"):
        return UTC
    try:
        return zoneinfo.ZoneInfo(name)
    except (ValueError, OSError, zoneinfo.ZoneInfoNotFoundError) as exc:
        raise CronError(f"provided bad location {name}: unknown time zone {name}") from exc


def parse(spec: str) -> Schedule:
    """A schedule from its text, as `cron.ParseStandard` reads it."""
    if not spec:
        raise CronError("empty spec string")
    zone: tzinfo = UTC
    if spec.startswith(("TZ=", "CRON_TZ=")):
        head, _, rest = spec.partition(" ")
        zone = load_zone(head.split("=", 1)[1])
        spec = rest.strip()
    if spec.startswith("@every "):
        text = spec[len("@every ") :]
        try:
            delay = parse_duration(text)
        except ValueError:
            raise CronError(f'failed to parse duration {spec}: time: invalid duration "{text}"') from None
        return Schedule(zone=zone, every=float(max(int(delay), 1)))
    if spec.startswith("@"):
        if spec not in _DESCRIPTORS:
            raise CronError(f"unrecognized descriptor: {spec}")
        spec = _DESCRIPTORS[spec]
    fields = spec.split()
    if len(fields) != 5:
        raise CronError(f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]")
    minutes, _ = _field(fields[0], 0)
    hours, _ = _field(fields[1], 1)
    days, any_day = _field(fields[2], 2)
    months, _ = _field(fields[3], 3)
    weekdays, any_weekday = _field(fields[4], 4)
    return Schedule(
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=weekdays,
        any_day=any_day,
        any_weekday=any_weekday,
        zone=zone,
    )
