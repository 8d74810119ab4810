"""Request bodies are reduced to bounded JSON values before anything else sees them (bodies.decode_body).

These are the decoding rules and bounds on their own; tests/integration/test_hardening_transport.py sends the
same shapes to real servers.
"""

from __future__ import annotations

import orjson
import pytest

from gardener.apiserver import bodies, httputil
from gardener.apiserver.errors import StatusError

YAML = "application/yaml"
JSON = "application/json"

#: 350 bytes whose aliases reference 10**7 strings (the "billion laughs" shape)
BILLION_LAUGHS = b"".join(
    [b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n']
    + [
        f"{name}: &{name} [{', '.join(['*' + prev] * 10)}]\n".encode()
        for prev, name in zip("abcdef", "bcdefg", strict=True)
    ]
)


def refused(raw: bytes, media: str = YAML) -> StatusError:
    with pytest.raises(StatusError) as info:
        bodies.decode_body(raw, media)
    return info.value


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


# ---- YAML: what JSON cannot hold ----


def test_binary_is_refused_naming_the_tag() -> None:
    exc = refused(b"metadata: {name: bin}\ndata: {a: !!binary aGVsbG8=}")
    assert (exc.code, exc.reason) == (400, "BadRequest")
    assert "!!binary" in exc.message


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (b"a: !!set {x, y}", "!!set"),
        (b"a: !!omap [{x: 1}]", "!!omap"),
        (b"a: !!python/object:os.system x", "!!python/object:os.system"),
        (b"a: !custom x", "!custom"),
    ],
)
def test_tags_without_a_json_equivalent_are_refused(body: bytes, named: str) -> None:
    exc = refused(body)
    assert exc.code == 400 and named in exc.message


@pytest.mark.parametrize("body", [b"a: .inf", b"a: -.inf", b"a: .nan"])
def test_numbers_json_cannot_represent_are_refused(body: bytes) -> None:
    assert refused(body).code == 400


def test_null_and_complex_keys_are_refused() -> None:
    assert "null mapping key" in refused(b"~: 1").message
    assert "not a string" in refused(b"? [a, b]\n: 1").message


def test_timestamps_stay_the_strings_they_were_written_as() -> None:
    body = b"date: 2001-12-14\nmoment: 2001-12-14t21:59:43.10-05:00\nsexagesimal: 1:30"
    assert bodies.decode_body(body, YAML) == {
        "date": "2001-12-14",
        "moment": "2001-12-14t21:59:43.10-05:00",
        "sexagesimal": "1:30",
    }


def test_scalar_keys_become_strings_as_sigs_k8s_io_yaml_writes_them() -> None:
    body = b"1: a\n0x10: b\n1.5: c\n2.0: d\ntrue: e\nno: f\n2001-12-14: g\n"
    assert bodies.decode_body(body, YAML) == {
        "1": "a",
        "16": "b",
        "1.5": "c",
        "2": "d",
        "true": "e",
        "false": "f",
        "2001-12-14": "g",
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.5, "1.5"), (0.1, "0.1"), (100.0, "100"), (1234567.0, "1.234567e+06"), (1e-05, "1e-05"), (-0.0, "-0")],
)
def test_float_keys_print_like_go_formatfloat_g_32(value: float, text: str) -> None:
    assert bodies.go_float32_key(value) == text


def test_integers_past_64_bits_become_floats_like_json_bodies() -> None:
    big = 123456789012345678901234567890
    from_yaml = bodies.decode_body(f"n: {big}".encode(), YAML)
    from_json = bodies.decode_body(f'{{"n": {big}}}'.encode(), JSON)
    assert from_yaml == from_json == {"n": float(big)}


def test_invalid_utf8_in_a_string_is_refused() -> None:
    assert refused(b'a: "\\ud800"').code == 400


# ---- YAML aliases: expanded into copies, within a budget ----


def test_billion_laughs_is_refused_before_expansion() -> None:
    assert len(BILLION_LAUGHS) < 600
    exc = refused(BILLION_LAUGHS)
    assert exc.code == 400 and "aliases" in exc.message


def test_aliases_expand_into_independent_copies() -> None:
    body = bodies.decode_body(b"a: &x {k: [1, 2]}\nb: *x\n", YAML)
    assert body == {"a": {"k": [1, 2]}, "b": {"k": [1, 2]}}
    body["a"]["k"].append(3)
    assert body["b"] == {"k": [1, 2]}


def test_merge_keys_apply_with_the_mappings_own_keys_winning() -> None:
    body = b"base: &b {x: 1, y: 2}\nc:\n  <<: *b\n  y: 3\nd:\n  <<: [{x: 1}, {x: 2, z: 3}]\n"
    decoded = bodies.decode_body(body, YAML)
    assert decoded["c"] == {"x": 1, "y": 3}
    assert decoded["d"] == {"x": 1, "z": 3}


@pytest.mark.parametrize("body", [b"a: &a [*a]", b"a: &a {<<: *a}", b"a: &a {b: *a}"])
def test_recursive_aliases_are_too_deep(body: bytes) -> None:
    assert "levels deep" in refused(body).message


# ---- nesting and sizes ----


@pytest.mark.parametrize("media", [JSON, YAML])
def test_nesting_up_to_the_bound_decodes(media: str) -> None:
    assert bodies.decode_body(nested(bodies.MAX_DEPTH), media) is not None


@pytest.mark.parametrize("depth", [bodies.MAX_DEPTH + 1, 300, 1025, 10_000])
@pytest.mark.parametrize("media", [JSON, YAML, "application/merge-patch+json", "application/apply-patch+yaml"])
def test_nesting_past_the_bound_is_a_400(media: str, depth: int) -> None:
    exc = refused(nested(depth), media)
    assert (exc.code, exc.reason) == (400, "BadRequest")
    assert f"more than {bodies.MAX_DEPTH} levels" in exc.message


def test_the_depth_bound_leaves_room_for_what_the_server_wraps_around_a_body() -> None:
    """A body at the bound, inside a list inside a table, still serialises (orjson stops at 254 levels)."""
    body = bodies.decode_body(nested(bodies.MAX_DEPTH), JSON)
    wrapped = {"items": [{"rows": [{"object": {"metadata": {"managedFields": [{"fieldsV1": body}]}}}]}]}
    assert orjson.dumps(wrapped)


def test_a_depth_bomb_in_a_protobuf_raw_extension_is_a_400() -> None:
    deep_fields = nested(300)
    managed = _lfield(17, _lfield(7, _lfield(1, deep_fields)))
    configmap = _lfield(1, _lfield(1, b"cm") + managed)
    exc = refused(_envelope(b"v1", b"ConfigMap", configmap), bodies.PROTOBUF)
    assert exc.code == 400 and "protobuf" in exc.message


def test_protobuf_raw_extension_json_is_plain_json() -> None:
    managed = _lfield(17, _lfield(7, _lfield(1, b'{"f:data": {}}')))
    body = bodies.decode_body(
        _envelope(b"v1", b"ConfigMap", _lfield(1, _lfield(1, b"cm") + managed)), "application/vnd.kubernetes.protobuf"
    )
    assert body["metadata"]["managedFields"] == [{"fieldsV1": {"f:data": {}}}]
    nan = _lfield(17, _lfield(7, _lfield(1, b'{"x": NaN}')))
    assert refused(_envelope(b"v1", b"ConfigMap", _lfield(1, _lfield(1, b"cm") + nan)), bodies.PROTOBUF).code == 400


# ---- media types ----


@pytest.mark.parametrize("media", ["text/plain", "application/x-www-form-urlencoded", "application/cbor"])
def test_unknown_media_types_are_a_415_listing_the_accepted_ones(media: str) -> None:
    exc = refused(b"{}", media)
    assert (exc.code, exc.reason) == (415, "UnsupportedMediaType")
    assert exc.message.endswith(
        "accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf"
    )


# ---- warnings ----


def test_warning_headers_never_carry_line_breaks() -> None:
    (header,) = httputil.warning_headers(['unknown field "a\r\nb\x00"'])
    assert header == '299 - "unknown field \\"a\\\\r\\\\nb\\\\x00\\""'
    assert header.isprintable()


def test_warning_headers_are_deduplicated_and_bounded_like_kubes() -> None:
    assert httputil.warning_headers(["same", "same", "other"]) == ['299 - "same"', '299 - "other"']
    many = [f"{i} " + "x" * 1000 for i in range(40)]
    headers = httputil.warning_headers(many)
    assert sum(len(h) for h in headers) <= 4096
    assert all(len(h) <= 256 + len('299 - ""') for h in headers)
    assert headers[0].startswith('299 - "0 x')


# ---- a minimal protobuf encoder ----


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if not value:
            out.append(byte)
            return bytes(out)
        out.append(byte | 0x80)


def _lfield(number: int, data: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(data)) + data


def _envelope(api_version: bytes, kind: bytes, raw: bytes) -> bytes:
    return b"k8s\x00" + _lfield(1, _lfield(1, api_version) + _lfield(2, kind)) + _lfield(2, raw)
