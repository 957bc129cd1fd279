"""scripts/benchmark.py at a tiny size: the synthetic packages and the run's report (no timings
are asserted: speed is measured by the script, not by the tests)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from collections import Counter

import pytest

from carte_evidence import validate
from carte_evidence.package.rules import RULES
from conftest import ROOT

SCRIPT = ROOT / "scripts" / "benchmark.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_synthetic_package_is_valid_and_sized(bench, tmp_path):
    small = bench.make_package(tmp_path / "small", rows=200)
    large = bench.make_package(tmp_path / "large", rows=400)
    assert validate(small).problems == []
    assert validate(large).problems == []
    # --rows sets the generated outcome rows (after the shipped ones).
    assert len(validate(large).tables["outcomes"]) - len(validate(small).tables["outcomes"]) == 200


def test_invalid_rows_break_every_rule(bench, tmp_path):
    package = bench.make_package(tmp_path / "bad", rows=1000, invalid=1.0)
    rules = Counter(p.rule for p in validate(package).problems)
    assert set(RULES) <= set(rules), set(RULES) - set(rules)
    assert {"type-integer", "type-boolean", "enum", "pattern", "minimum", "required", "unique", "whitespace"} <= set(rules)


def test_invalid_fraction_scales_the_problems(bench, tmp_path):
    some = len(validate(bench.make_package(tmp_path / "some", rows=1000, invalid=0.1)).problems)
    every = len(validate(bench.make_package(tmp_path / "every", rows=1000, invalid=1.0)).problems)
    assert 0 < some < every


def test_fit_exponent(bench):
    assert bench.fit_exponent([(1e5, 1.0), (1e6, 10.0)]) == pytest.approx(1.0)
    assert bench.fit_exponent([(1e5, 1.0), (1e6, 100.0)]) == pytest.approx(2.0)
    assert bench.fit_exponent([(1e5, 1.0)]) is None


def test_make_from_the_command_line(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--make", str(tmp_path / "pkg"), "--rows", "100", "--invalid", "0.5"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "pkg" / "datapackage.json").exists()
    assert not validate(tmp_path / "pkg").valid


def test_run_reports_json(tmp_path):
    done = subprocess.run([sys.executable, str(SCRIPT), "--run", "--json", "--sizes", "100", "--invalid-rows", "100", "--repeat", "1",
                           "--frictionless-max", "-1", "--work", str(tmp_path)], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout)
    cases = {c["case"]: c for c in results["cases"]}
    assert set(cases) == {"shipped", "synthetic 1e+02", "all-valid 1e+02", "all-invalid 1e+02"}
    assert cases["shipped"]["carte"]["exit"] == 0 and cases["all-valid 1e+02"]["carte"]["exit"] == 0
    assert cases["all-invalid 1e+02"]["carte"]["exit"] == 1
    # each route timed beside it (`carte validate --low-memory` and `--no-low-memory`), with the same verdicts
    for route in ("carte_low_memory", "carte_whole"):
        assert [c[route]["exit"] for c in cases.values()] == [c["carte"]["exit"] for c in cases.values()]
        assert all(c[route]["peak_mib"] > 0 for c in cases.values())
    assert all(c["low_memory_peak_over_csv"] > 0 and c["whole_peak_over_csv"] > 0 for c in cases.values())
    assert all("frictionless" not in c for c in cases.values())  # --frictionless-max -1 skips it
    assert cases["synthetic 1e+02"]["rows"] > cases["shipped"]["rows"]
    assert results["invalid_over_valid"] > 0 and results["carte_help_s"] > 0


def test_options_are_checked():
    done = subprocess.run([sys.executable, str(SCRIPT), "--make", "x", "--invalid", "2"], capture_output=True, text=True)
    assert done.returncode == 2 and "fraction" in done.stderr


def test_checks_run_one_by_one_report_what_pandera_lazy_validation_reports(bench, tmp_path, monkeypatch):
    """validate calls each failing pandera check on its column (package.failures._column_failures)
    instead of pandera's lazy schema.validate, whose error report is most of the time of a report
    with a problem per row. On a package breaking every rule, the problems are exactly those of
    the lazy route."""
    from carte_evidence.package import failures as module

    package = bench.make_package(tmp_path / "bad", rows=1000, invalid=0.5)
    direct = validate(package).problems
    monkeypatch.setattr(module, "_column_failures", lambda schema, frame: None)  # -> the lazy route
    lazy = validate(package).problems
    assert len(direct) > 1000
    assert direct == lazy


def test_low_memory_validation_reports_the_same_on_a_package_breaking_every_rule(bench, tmp_path, monkeypatch):
    """`carte validate --low-memory` (``validate(keep=...)``: tables read in blocks, only the
    columns checked across rows kept) on a package breaking every rule, read in blocks of 16 KiB:
    the same problems, in the same order, as a whole validation. Every rule and the quote rule
    fire here, so a column they read that the low-memory route dropped would change the report."""
    from carte_evidence.package import parse

    package = bench.make_package(tmp_path / "bad", rows=1000, invalid=1.0)
    whole = validate(package).problems
    monkeypatch.setattr(parse, "ROW_BLOCK", 16 << 10)
    low = validate(package, keep={}).problems
    assert {p.rule for p in whole} >= set(RULES) | {"quote"}
    assert low == whole
