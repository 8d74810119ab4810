"""`terraform.tfvars` as the Terraformer's variables Secret carries it: plain values written and read back.

Gardener keeps a configuration's variables in the Secret `<name>.<purpose>.tf-vars` under `terraform.tfvars`,
in Terraform's native syntax. `render` writes such a file from plain values and `parse` reads the literal part
of the language back (strings, numbers, bools, null, lists and objects, comments), which is everything a
variables file holds; expressions and templates are refused rather than guessed at. Credentials are never
written here: they reach Terraform as `TF_VAR_` environment variables.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", '"': '"', "\\": "\\"}


def render(variables: Mapping[str, Any]) -> str:
    """One `name = value` line per variable, in a stable order."""
    lines = []
    for name in sorted(variables):
        if not _IDENT.fullmatch(name):
            raise ValueError(f"{name!r} is not a valid Terraform variable name")
        lines.append(f"{name} = {_value(variables[name])}")
    return "".join(line + "\n" for line in lines)


def _value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} has no Terraform literal")
        return json.dumps(value)
    if isinstance(value, str):
        return _string(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_string(str(k))} = {_value(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise ValueError(f"a {type(value).__name__} has no Terraform literal")


def _string(text: str) -> str:
    out = []
    for ch in text:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    # `${` and `%{` open templates; doubling the sign makes them literal
    return '"' + "".join(out).replace("${", "$${").replace("%{", "%%{") + '"'


def parse(text: str) -> dict[str, Any]:
    """The variables of a `.tfvars` file; ValueError (with a line number) on anything but literals."""
    return _Parser(text).document()


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def fail(self, what: str) -> ValueError:
        line = self.text.count("\n", 0, self.pos) + 1
        return ValueError(f"terraform.tfvars line {line}: {what}")

    def skip(self, *, newlines: bool = True) -> None:
        while self.pos < len(self.text):
            ch = self.text[self.pos]
            if ch in " \t\r" or (newlines and ch == "\n"):
                self.pos += 1
            elif ch == "#" or self.text.startswith("//", self.pos):
                end = self.text.find("\n", self.pos)
                self.pos = len(self.text) if end < 0 else end
            elif self.text.startswith("/*", self.pos):
                end = self.text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated comment")
                self.pos = end + 2
            else:
                return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def expect(self, ch: str) -> None:
        if self.peek() != ch:
            raise self.fail(f"expected {ch!r}, found {self.peek() or 'the end'!r}")
        self.pos += 1

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self.skip()
        while self.pos < len(self.text):
            match = _IDENT.match(self.text, self.pos)
            if match is None:
                raise self.fail("expected a variable name")
            self.pos = match.end()
            self.skip(newlines=False)
            self.expect("=")
            self.skip(newlines=False)
            if match.group() in out:
                raise self.fail(f"variable {match.group()!r} is set twice")
            out[match.group()] = self.value()
            self.skip(newlines=False)
            if self.peek() not in ("\n", ""):
                raise self.fail("expected the end of the line after a value")
            self.skip()
        return out

    def value(self) -> Any:
        ch = self.peek()
        if ch == '"':
            return self.string()
        if ch == "[":
            return self.items("[", "]")
        if ch == "{":
            return self.items("{", "}")
        if ch == "<":
            raise self.fail("heredoc strings are not supported; use a quoted string")
        number = _NUMBER.match(self.text, self.pos)
        if number is not None:
            self.pos = number.end()
            literal = number.group()
            return float(literal) if number.group(1) or number.group(2) else int(literal)
        word = _IDENT.match(self.text, self.pos)
        keywords: dict[str, Any] = {"true": True, "false": False, "null": None}
        if word is not None and word.group() in keywords:
            self.pos = word.end()
            return keywords[word.group()]
        raise self.fail("only literal values are supported (strings, numbers, bools, null, lists, objects)")

    def string(self) -> str:
        self.expect('"')
        out: list[str] = []
        while True:
            if self.pos >= len(self.text) or self.text[self.pos] == "\n":
                raise self.fail("unterminated string")
            ch = self.text[self.pos]
            if ch == '"':
                self.pos += 1
                return "".join(out)
            if ch == "\\":
                out.append(self.escape())
                continue
            if self.text.startswith(("$${", "%%{"), self.pos):
                out.append(ch + "{")
                self.pos += 3
                continue
            if self.text.startswith(("${", "%{"), self.pos):
                raise self.fail("templates are not supported in variable values")
            out.append(ch)
            self.pos += 1

    def escape(self) -> str:
        kind = self.text[self.pos + 1 : self.pos + 2]
        if kind in _ESCAPES:
            self.pos += 2
            return _ESCAPES[kind]
        width = {"u": 4, "U": 8}.get(kind)
        digits = self.text[self.pos + 2 : self.pos + 2 + (width or 0)]
        if width is None or not re.fullmatch(rf"[0-9A-Fa-f]{{{width}}}", digits):
            raise self.fail(f"invalid escape sequence \\{kind}")
        self.pos += 2 + width
        return chr(int(digits, 16))

    def items(self, opening: str, closing: str) -> Any:
        self.expect(opening)
        is_object = opening == "{"
        values: list[Any] = []
        fields: dict[str, Any] = {}
        while True:
            self.skip()
            if self.peek() == closing:
                self.pos += 1
                return fields if is_object else values
            if is_object:
                key = self.key()
                self.skip(newlines=False)
                if self.peek() not in ("=", ":"):
                    raise self.fail("expected '=' or ':' after an object key")
                self.pos += 1
                self.skip(newlines=False)
                fields[key] = self.value()
            else:
                values.append(self.value())
            self.skip(newlines=not is_object)
            if self.peek() == ",":
                self.pos += 1
            elif self.peek() == "\n" and is_object:
                continue
            elif self.peek() != closing:
                raise self.fail(f"expected ',' or {closing!r}")

    def key(self) -> str:
        if self.peek() == '"':
            return self.string()
        match = _IDENT.match(self.text, self.pos)
        if match is None:
            raise self.fail("expected an object key")
        self.pos = match.end()
        return match.group()
