"""resource.Quantity parsing and the ResourceRequirements checks kube applies to containers and claims."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

from gardener.apiserver.builtin.validation.fields import Reader, invalid

_SUFFIX = {
    "": Fraction(1),
    "n": Fraction(1, 10**9),
    "u": Fraction(1, 10**6),
    "m": Fraction(1, 1000),
    "k": Fraction(10**3),
    "M": Fraction(10**6),
    "G": Fraction(10**9),
    "T": Fraction(10**12),
    "P": Fraction(10**15),
    "E": Fraction(10**18),
    "Ki": Fraction(2**10),
    "Mi": Fraction(2**20),
    "Gi": Fraction(2**30),
    "Ti": Fraction(2**40),
    "Pi": Fraction(2**50),
    "Ei": Fraction(2**60),
}
QUANTITY_ERROR = "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"


def parse(value: Any) -> Fraction | None:
    """A quantity's value (JSON numbers are quantities too); None when it does not parse."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Fraction(value)
    if not isinstance(value, str) or not value:
        return None
    text = value.strip()
    number_end = len(text)
    for suffix in sorted(_SUFFIX, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            number_end = len(text) - len(suffix)
            break
    number, suffix = text[:number_end], text[number_end:]
    exponent = 0
    if not suffix:
        for marker in ("e", "E"):
            if marker in number:
                number, _, exp = number.partition(marker)
                try:
                    exponent = int(exp)
                except ValueError:
                    return None
    try:
        base = Fraction(number)
    except (ValueError, ZeroDivisionError):
        return None
    return base * _SUFFIX[suffix] * Fraction(10) ** exponent


def validate_requirements(r: Reader, resources: dict[str, Any], path: str) -> None:
    """Quantities parse and are not negative; a request is not above its limit."""
    parsed: dict[str, dict[str, Fraction]] = {}
    for part in ("limits", "requests"):
        values = r.obj(resources, part, f"{path}.{part}") or {}
        parsed[part] = {}
        for name, raw in values.items():
            at = f"{path}.{part}[{name}]"
            amount = parse(raw)
            if amount is None:
                r.add([invalid(at, raw, QUANTITY_ERROR)])
                continue
            if amount < 0:
                r.add([invalid(at, str(raw), "must be greater than or equal to 0")])
            parsed[part][name] = amount
    for name, amount in parsed["requests"].items():
        limit = parsed["limits"].get(name)
        if limit is not None and amount > limit:
            raw_limit = (resources.get("limits") or {}).get(name)
            r.add(
                [
                    invalid(
                        f"{path}.requests[{name}]",
                        str((resources.get("requests") or {}).get(name)),
                        f"must be less than or equal to {name} limit of {raw_limit}",
                    )
                ]
            )
