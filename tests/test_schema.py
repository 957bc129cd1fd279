"""The metadata is defined once; everything derived from it is up to date."""

from __future__ import annotations

import subprocess
import sys

import pytest
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from carte_evidence.package.schema import field_metadata, resource_metadata, table_schema, to_pandera
from conftest import ROOT


def test_generated_files_are_up_to_date():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "generate_datapackage.py"), "--check"], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + " (fix: python scripts/generate_datapackage.py)"


def _all_resources():
    meta = resource_metadata()
    return {**meta["resources"], **meta.get("derived_resources", {})}


@pytest.mark.parametrize("resource", sorted(_all_resources()))
def test_resource_fields_are_defined(resource):
    undefined = [f for f in _all_resources()[resource]["fields"] if f not in field_metadata()]
    assert undefined == []


@pytest.mark.parametrize("name", sorted(field_metadata()))
def test_every_field_is_used_and_described(name):
    assert field_metadata()[name]["description"].strip()
    assert any(name in r["fields"] for r in _all_resources().values()), f"{name} is defined but no table uses it"


@pytest.mark.parametrize("resource", sorted(resource_metadata()["resources"]))
def test_pandera_schema_is_derived(resource):
    schema = table_schema(resource)
    pandera = to_pandera(schema)
    assert list(pandera.columns) == [f["name"] for f in schema["fields"]]
    for f in schema["fields"]:
        assert pandera.columns[f["name"]].nullable != bool(f.get("constraints", {}).get("required"))


CONSTRAINT_SAMPLES = [
    ({"minimum": 0}, "Int64"), ({"maximum": 110}, "Int64"), ({"minimum": 0, "maximum": 110}, "Float64"),
    ({"pattern": "[a-z0-9]+(-[a-z0-9]+)*"}, "string"), ({"pattern": "10\\.\\d{4,9}/\\S+"}, "string"),
    ({"enum": ["yes", "no", "partly"]}, "string"), ({"minLength": 2}, "string"), ({"maxLength": 5}, "string"),
    ({"minLength": 1, "maxLength": 3}, "string"),
]


@settings(max_examples=150, deadline=None)
@given(case=st.sampled_from(CONSTRAINT_SAMPLES),
       numbers=st.lists(st.one_of(st.integers(-5, 130), st.floats(-5, 130, allow_nan=False)), min_size=1, max_size=8),
       texts=st.lists(st.one_of(st.sampled_from(["yes", "no", "Yes", "partly", "a-b", "a--b", "10.1234/x", "10.12/x", "ab\n", "é", " ab", "abcdef"]),
                                st.text(max_size=7)), min_size=1, max_size=8))
def test_holds_agrees_with_pandera_on_every_constraint(case, numbers, texts):
    """schema.holds (the pandas code of pandera's built-in checks, run without pandera: a valid
    package never imports pandera) gives pandera's own verdict for each kind of constraint."""
    from carte_evidence.package.schema import _constraint_specs, holds, pandera_checks

    constraints, dtype = case
    if dtype == "string":
        values = pd.Series(texts, dtype="string")
    else:
        values = pd.Series([int(x) for x in numbers] if dtype == "Int64" else numbers, dtype=dtype)
    specs = _constraint_specs(constraints)
    for spec, check in zip(specs, pandera_checks(specs)):
        assert holds(spec, values) == bool(check(values).check_passed), (spec, values.tolist())


def test_a_valid_package_is_validated_without_importing_pandera():
    """pandera runs only the checks some value breaks; on the valid shipped package that is none,
    and its import (about 0.15 s of every `carte validate`) is not paid."""
    code = ("import sys; from carte_evidence.package.validate import validate; r = validate(sys.argv[1]); "
            "print(r.valid, 'pandera' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "datapackage")], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "False"]
