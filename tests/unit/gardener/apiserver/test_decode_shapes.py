"""The decode step in front of every write: JSON types as kube's Go decoder enforces them, nulls as zero values."""

from __future__ import annotations

import re
from typing import Any

import pytest

from gardener.apiserver import meta, strategies


def test_nulls_decode_to_zero_values() -> None:
    obj: dict[str, Any] = {
        "metadata": {
            "name": "x",
            "namespace": None,
            "generation": None,
            "labels": {"a": None, "b": "c"},
            "finalizers": [None, "f"],
            "ownerReferences": None,
        }
    }
    m = meta.decode_object_meta(obj, kind="ConfigMap")
    assert m == {"name": "x", "labels": {"a": "", "b": "c"}, "finalizers": ["", "f"]}
    empty: dict[str, Any] = {"metadata": None}
    assert meta.decode_object_meta(empty, kind="ConfigMap") == {} and empty == {"metadata": {}}


@pytest.mark.parametrize(
    ("metadata", "message"),
    [
        ([], "json: cannot unmarshal array into Go struct field Pod.metadata of type v1.ObjectMeta"),
        ({"uid": 1}, "json: cannot unmarshal number into Go struct field ObjectMeta.metadata.uid of type types.UID"),
        (
            {"generation": True},
            "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        (
            {"generation": 2**63},
            f"json: cannot unmarshal number {2**63} into Go struct field ObjectMeta.metadata.generation of type int64",
        ),
        ({"creationTimestamp": 5}, "json: cannot unmarshal number into Go value of type string"),
        (
            {"ownerReferences": [{"controller": "yes"}]},
            "json: cannot unmarshal string into Go struct field OwnerReference.metadata.ownerReferences.controller "
            "of type bool",
        ),
        (
            {"managedFields": [{"fieldsV1": []}]},
            "json: cannot unmarshal array into Go struct field ManagedFieldsEntry.metadata.managedFields.fieldsV1 "
            "of type v1.FieldsV1",
        ),
    ],
)
def test_wrong_types_in_object_meta(metadata: Any, message: str) -> None:
    with pytest.raises(meta.DecodeError) as caught:
        meta.decode_object_meta({"metadata": metadata}, kind="Pod")
    assert str(caught.value) == message


def test_built_in_spec_and_status_are_structs() -> None:
    with pytest.raises(meta.DecodeError, match=re.escape("Go struct field Lease.spec of type v1.LeaseSpec")):
        strategies.decode_shape(group="coordination.k8s.io", version="v1", kind="Lease", obj={"spec": []})
    obj: dict[str, Any] = {"spec": None, "status": {"phase": "Active"}}
    strategies.decode_shape(group="", version="v1", kind="Namespace", obj=obj)
    assert obj == {"status": {"phase": "Active"}}
    with pytest.raises(meta.DecodeError, match=re.escape("NamespaceSpec.spec.finalizers of type v1.FinalizerName")):
        strategies.decode_shape(group="", version="v1", kind="Namespace", obj={"spec": {"finalizers": [1]}})


@pytest.mark.parametrize(("value", "parsed"), [("", 0), ("0", 0), ("17", 17), (str(2**64 - 1), 2**64 - 1)])
def test_resource_versions_kube_accepts(value: str, parsed: int) -> None:
    assert meta.parse_resource_version(value) == parsed


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("abc", "invalid syntax"),
        ("-1", "invalid syntax"),
        ("+1", "invalid syntax"),
        (" 1", "invalid syntax"),
        ("\u0661", "invalid syntax"),  # a digit to str.isdigit, not to Go
        (str(2**64), "value out of range"),
    ],
)
def test_resource_versions_kube_rejects(value: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        meta.parse_resource_version(value)
    quoted = meta.json_string(value)
    assert (
        str(caught.value) == f"resourceVersion: Invalid value: {quoted}: strconv.ParseUint: parsing {quoted}: {problem}"
    )
