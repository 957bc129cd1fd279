"""The metadata is defined once; everything derived from it is up to date."""

from __future__ import annotations

import subprocess
import sys

import pytest

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
