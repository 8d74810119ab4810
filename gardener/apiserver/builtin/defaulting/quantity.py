"""resource.Quantity in its canonical form, as kube re-encodes every quantity it decodes.

kube answers `cpu: 0.5` as `500m` and `memory: 1024Mi` as `1Gi`; resource lists are also rounded up to
milli-units (`SetDefaults_ResourceList`). The rules follow apimachinery's quantity.go: the format
(binary, decimal SI, decimal exponent) comes from the suffix written; binary falls back to decimal SI below
1024 or for fractions; decimal forms use the largest exponent that is a multiple of three.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any

_NUMBER = re.compile(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?(.*)$")
_EXPONENT = re.compile(r"^[eE]([+-]?[0-9]+)$")
_BINARY = {"Ki": 10, "Mi": 20, "Gi": 30, "Ti": 40, "Pi": 50, "Ei": 60}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_SI_SUFFIX = {exp: suffix for suffix, exp in _DECIMAL.items()}
_BINARY_SUFFIX = {bits: suffix for suffix, bits in _BINARY.items()}


def parse(text: str) -> tuple[Fraction, str] | None:
    """The exact value and format ("binary", "si" or "exponent") of a quantity string; None if malformed."""
    match = _NUMBER.match(text.strip()) if text.strip() == text else None
    if match is None:
        return None
    sign, whole, frac, suffix = match.groups()
    if not whole and not frac:
        return None
    value = Fraction(int(whole or "0")) + (Fraction(int(frac), 10 ** len(frac)) if frac else 0)
    if sign == "-":
        value = -value
    if suffix in _BINARY:
        return value * (2 ** _BINARY[suffix]), "binary"
    if suffix in _DECIMAL:
        return value * Fraction(10) ** _DECIMAL[suffix], "si"
    exponent = _EXPONENT.match(suffix)
    if exponent is None or abs(int(exponent.group(1))) > 100:
        return None
    return value * Fraction(10) ** int(exponent.group(1)), "exponent"


def _round_up_milli(value: Fraction) -> Fraction:
    """Round away from zero to a multiple of 1/1000, as Quantity.RoundUp(-3) does."""
    scaled = value * 1000
    if scaled.denominator == 1:
        return value
    rounded = math.ceil(scaled) if scaled > 0 else math.floor(scaled)
    return Fraction(rounded, 1000)


def _decimal(value: Fraction, fmt: str) -> str:
    if value == 0:
        return "0"
    # the smallest exponent (a multiple of 3, down to nano) that makes the mantissa an integer
    exponent = -9
    while (value / Fraction(10) ** exponent).denominator != 1 and exponent > -30:
        exponent -= 3
    mantissa = value / Fraction(10) ** exponent
    if mantissa.denominator != 1:  # finer than kube keeps: round up to the last unit, as kube does
        mantissa = Fraction(math.ceil(mantissa) if mantissa > 0 else math.floor(mantissa))
    number = int(mantissa)
    while number % 1000 == 0 and exponent < 18 and (fmt == "exponent" or exponent + 3 in _SI_SUFFIX):
        number //= 1000
        exponent += 3
    if fmt == "exponent":
        return f"{number}e{exponent}" if exponent else str(number)
    if exponent not in _SI_SUFFIX:
        return f"{number}e{exponent}"
    return f"{number}{_SI_SUFFIX[exponent]}"


def canonical(value: Any, *, round_milli: bool = False) -> Any:
    """A quantity in kube's canonical spelling; anything unreadable comes back unchanged for validation."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return value
    parsed = parse(value if isinstance(value, str) else repr(value))
    if parsed is None:
        return value
    amount, fmt = parsed
    if round_milli:
        amount = _round_up_milli(amount)
    if fmt == "binary":
        if -1024 < amount < 1024 or amount.denominator != 1:
            return _decimal(amount, "si")
        number, bits = int(amount), 0
        while number % 1024 == 0 and bits < 60:
            number //= 1024
            bits += 10
        return f"{number}{_BINARY_SUFFIX.get(bits, '')}"
    return _decimal(amount, fmt)


def canonical_list(obj: Any, key: str) -> None:
    """SetDefaults_ResourceList on `obj[key]`: every quantity rounded up to milli-units and re-spelled."""
    if not isinstance(obj, dict):
        return
    resources = obj.get(key)
    if isinstance(resources, dict):
        for name, amount in list(resources.items()):
            resources[name] = canonical(amount, round_milli=True)
