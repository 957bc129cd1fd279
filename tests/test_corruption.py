"""Every command on every class of corrupted package: a clear problem (exit 1) or usage error
(exit 2), never a traceback; and property tests from random corruptions of a valid package."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import string
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from carte_evidence import validate
from carte_evidence.cli.main import app
from carte_evidence.maintain.fmt import FmtError, canonical_text
from carte_evidence.package.schema import table_schema
from conftest import REAL, edit, make_package

runner = CliRunner()


def _data(pkg: Path, name: str) -> Path:
    return pkg / "data" / name


def _descriptor(pkg: Path, change) -> None:
    path = pkg / "datapackage.json"
    data = json.loads(path.read_text())
    path.write_text(json.dumps(change(data)))


def _no_name(d):
    del d["resources"][0]["name"]
    return d


def _drop_constraint(d):
    arms = next(r for r in d["resources"] if r["name"] == "arms")
    next(f for f in arms["schema"]["fields"] if f["name"] == "n_treated").pop("constraints")
    return d


def _symlink_out(pkg: Path) -> None:
    target = _data(pkg, "arms.csv")
    target.unlink()
    os.symlink("/dev/zero", target)


# class -> (corruption, file the problem names); one per failure mode of docs/reliability.md
CORRUPTIONS = {
    "latin-1": (lambda p: _data(p, "studies.csv").write_bytes(_data(p, "studies.csv").read_bytes().replace(b"Study one", b"Study \xe9")), "data/studies.csv"),
    "excel-bom-semicolon": (lambda p: _data(p, "arms.csv").write_bytes(b"\xef\xbb\xbf" + _data(p, "arms.csv").read_text().replace(",", ";").encode()), "data/arms.csv"),
    "ragged-row": (lambda p: edit(_data(p, "arms.csv"), "Ten patients were treated.", "Ten patients, all women, were treated."), "data/arms.csv"),
    "duplicate-column": (lambda p: edit(_data(p, "outcomes.csv"), "quote,notes", "quote,quote"), "data/outcomes.csv"),
    "integer-with-decimal": (lambda p: edit(_data(p, "adverse_events.csv"), ",7,10,", ",7.0,10,"), "data/adverse_events.csv"),
    "integer-overflow": (lambda p: edit(_data(p, "arms.csv"), ",10,1 x", ",99999999999999999999,1 x"), "data/arms.csv"),
    "impossible-date": (lambda p: edit(_data(p, "trials.csv"), "2025-02-01,", "2023-02-31,"), "data/trials.csv"),
    "infinite-number": (lambda p: edit(_data(p, "arms.csv"), ",30,20,45,", ",inf,20,45,"), "data/arms.csv"),
    "empty-quote": (lambda p: edit(_data(p, "outcomes.csv"), "8 of 10 in DORIS remission.", ""), "data/outcomes.csv"),
    "count-not-in-quote": (lambda p: edit(_data(p, "outcomes.csv"), "8 of 10 in DORIS remission.", "Most were in remission."), "data/outcomes.csv"),
    "nul-character": (lambda p: edit(_data(p, "studies.csv"), "Study one", "Study\x00one"), "data/studies.csv"),
    "fullwidth-formula": (lambda p: edit(_data(p, "studies.csv"), "Study one", "\uff1dHYPERLINK(1)"), "data/studies.csv"),
    "huge-field": (lambda p: edit(_data(p, "arms.csv"), "Ten patients were treated.", "x" * 1_100_000), "data/arms.csv"),
    "missing-file": (lambda p: _data(p, "arms.csv").unlink(), "data/arms.csv"),
    "symlink-to-device": (_symlink_out, "data/arms.csv"),
    "absolute-path": (lambda p: edit(p / "datapackage.json", '"data/arms.csv"', '"/etc/passwd"'), "/etc/passwd"),
    "parent-path": (lambda p: edit(p / "datapackage.json", '"data/arms.csv"', '"../outside.csv"'), "../outside.csv"),
    "url-path": (lambda p: edit(p / "datapackage.json", '"data/arms.csv"', '"https://example.org/arms.csv"'), "https://example.org/arms.csv"),
    "descriptor-object-empty": (lambda p: (p / "datapackage.json").write_text("{}"), None),
    "descriptor-list": (lambda p: (p / "datapackage.json").write_text("[]"), None),
    "descriptor-not-json": (lambda p: (p / "datapackage.json").write_text("{"), None),
    "resource-without-name": (lambda p: _descriptor(p, _no_name), None),
    "constraint-removed": (lambda p: _descriptor(p, _drop_constraint), "datapackage.json"),
}

COMMANDS = [["validate"], ["build", "--no-figures", "-o", "{out}/b"], ["summary"], ["tables", "-o", "{out}/t"], ["grade", "-o", "{out}/g"],
            ["trials"], ["coverage"], ["export", "-f", "xlsx", "-o", "{out}/x.xlsx"], ["fmt"]]


@pytest.fixture(scope="module")
def corrupted(tmp_path_factory):
    """Every corrupted package, made once."""
    base = tmp_path_factory.mktemp("corrupt")
    out = {}
    for name, (corrupt, _) in CORRUPTIONS.items():
        pkg = make_package(base / name / "pkg")
        corrupt(pkg)
        out[name] = pkg
    return out


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_validate_reports_each_corruption_as_a_problem_of_its_file(corrupted, name):
    report = validate(corrupted[name])
    assert not report.valid
    expected = CORRUPTIONS[name][1]
    files = {p.file for p in report.problems}
    if expected:
        assert expected in files, [str(p) for p in report.problems]
    assert not any(p.value and "Error(" in p.value for p in report.problems)


@pytest.fixture(scope="module")
def validate_once():
    """Each corrupted package is validated once for all commands (the commands' own handling of
    the report is what the matrix tests; validation itself is tested above). Keeps the suite fast."""
    import carte_evidence.package.validate as module

    real, memo = module.validate, {}

    def cached(path=None, today=None, on_read=None, keep=None):
        key = (str(path), repr(keep))
        if key not in memo:
            memo[key] = real(path, today, on_read, keep)
        elif on_read is not None:  # as validate does, table by table
            for name, frame in memo[key].tables.items():
                on_read(name, frame)
        return memo[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(module, "validate", cached)
        yield


@pytest.mark.usefixtures("validate_once")
@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[0])
def test_every_command_on_every_corruption_exits_1_or_2_without_traceback(corrupted, tmp_path, command):
    for name, pkg in corrupted.items():
        args = [command[0], str(pkg), *[a.format(out=tmp_path / name) for a in command[1:]]]
        result = runner.invoke(app, args)
        assert "Traceback" not in result.output, (name, result.output)
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{name}: {command[0]} raised {result.exception!r}")
        allowed = {0, 1, 2} if command[0] == "fmt" else {1, 2}  # fmt formats; it does not validate values
        assert result.exit_code in allowed, (name, command, result.output[-500:])


def test_fmt_refuses_every_corruption_that_would_lose_data(corrupted):
    for name in ("ragged-row", "duplicate-column", "latin-1", "symlink-to-device"):
        assert runner.invoke(app, ["fmt", str(corrupted[name])]).exit_code == 1, name


# ---- property tests --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def template(tmp_path_factory):
    return make_package(tmp_path_factory.mktemp("template") / "pkg")


# (table, integer or number column) cells of the small package that a corruption targets
CELLS = [("arms.csv", "n_treated"), ("arms.csv", "n_female"), ("outcomes.csv", "n_events"), ("adverse_events.csv", "n_evaluable"),
         ("trials.csv", "enrolment_planned"), ("publications.csv", "year")]
BAD_NUMBERS = st.sampled_from(["12.0", "1e1", "2026.0", "inf", "-inf", "nan", "NaN", "unknown", "n/a", "?", "1,5", "12 patients",
                               "99999999999999999999", "0x10", "１２", "12%", "~12", "<5"])


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cell=st.sampled_from(CELLS), row=st.integers(min_value=0, max_value=10), bad=BAD_NUMBERS)
def test_a_bad_number_anywhere_is_reported_at_its_file_line_and_column(template, tmp_path_factory, cell, row, bad):
    pkg = tmp_path_factory.mktemp("prop") / "pkg"
    shutil.copytree(template, pkg)
    file, column = cell
    path = pkg / "data" / file
    rows = list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))
    i = 1 + row % (len(rows) - 1)
    rows[i][rows[0].index(column)] = bad
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    path.write_text(out.getvalue(), encoding="utf-8")
    report = validate(pkg)
    assert not report.valid
    assert ("data/" + file, i + 1, column) in {(p.file, p.line, p.column) for p in report.problems}, [str(p) for p in report.problems]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(file=st.sampled_from(["arms.csv", "studies.csv", "outcomes.csv", "datapackage.json"]), position=st.floats(0, 1),
       junk=st.binary(min_size=1, max_size=8) | st.sampled_from([b"\n\n", b'"', b",", b"\xef\xbb\xbf", b"\x00", b";", b"\r"]))
def test_random_bytes_anywhere_never_make_validate_raise(template, tmp_path_factory, file, position, junk):
    pkg = tmp_path_factory.mktemp("bytes") / "pkg"
    shutil.copytree(template, pkg)
    path = pkg / file if file.endswith(".json") else pkg / "data" / file
    raw = path.read_bytes()
    at = int(position * len(raw))
    path.write_bytes(raw[:at] + junk + raw[at:])
    report = validate(pkg)  # must not raise
    assert all(isinstance(p.file, str) and p.message for p in report.problems)


cell_text = st.text(alphabet=string.ascii_letters + string.digits + " ,;\"'\n-éü=", max_size=10)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(cell_text, min_size=0, max_size=5), min_size=0, max_size=6))
def test_fmt_never_drops_a_value(rows):
    """canonical_text keeps every non-blank value of the file, or refuses (FmtError)."""
    schema = table_schema("events")
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["event_id", "name", "description"], *rows])
    text = out.getvalue()
    try:
        result = canonical_text(text, schema)
    except FmtError:
        assert any(len(r) > 3 for r in rows)  # refused only for a row longer than the header
        return

    def values(t: str) -> list[str]:
        parsed = list(csv.reader(io.StringIO(t.replace("\r\n", "\n").replace("\r", "\n"))))
        return sorted(v.strip() for r in parsed[1:] for v in r if v.strip())

    assert values(result) == values(text)


def test_two_threads_report_exactly_what_one_thread_reports(corrupted, monkeypatch):
    """Packages of 8 MiB of CSV or more are read and checked in two threads; the test packages are
    smaller, so the threads are forced here: on the real package and on every corrupted one the
    problems (in order) and the typed tables are the same as with one thread."""
    from carte_evidence.package.validate import validate as run
    from conftest import REAL

    for name, pkg in [("real", REAL), *sorted(corrupted.items())]:
        monkeypatch.setenv("CARTE_THREADS", "1")
        one = run(pkg)
        monkeypatch.setenv("CARTE_THREADS", "2")
        two = run(pkg)
        assert two.problems == one.problems, name
        assert one.tables.keys() == two.tables.keys(), name
        for table in one.tables:
            assert one.tables[table].equals(two.tables[table]), (name, table)


def test_on_read_sees_each_table_once_as_typed(monkeypatch):
    """validate(on_read=) hands each table to the caller once, typed, whatever the threads."""
    from carte_evidence.package.validate import validate as run
    from conftest import REAL

    for threads in ("1", "2"):
        monkeypatch.setenv("CARTE_THREADS", threads)
        seen: list = []
        report = run(REAL, on_read=lambda name, frame: seen.append((name, frame)))
        assert sorted(name for name, _ in seen) == sorted(report.tables)
        for name, frame in seen:
            assert frame is report.tables[name]


def _edited_descriptor(pkg: Path, resource: str, change) -> Path:
    path = pkg / "datapackage.json"
    data = json.loads(path.read_text())
    change(next(r for r in data["resources"] if r["name"] == resource)["schema"])
    path.write_text(json.dumps(data))
    return pkg


def _field(schema: dict, name: str) -> dict:
    return next(f for f in schema["fields"] if f["name"] == name)


def test_checks_run_one_by_one_report_what_pandera_lazy_validation_reports(corrupted, tmp_path, monkeypatch):
    """Every corrupted package, and descriptors that only pandera's own validation can report
    (a multi-field key; a pattern on numbers, a minimum on text: checks that raise), give the
    same problems through the direct route (each check called on its column) as through pandera's
    lazy schema.validate, which the direct route hands those cases to."""
    from carte_evidence.package import failures as module

    handed_over: list = []
    lazy_failures = module._lazy_failures
    monkeypatch.setattr(module, "_lazy_failures", lambda schema, frame: handed_over.append(1) or lazy_failures(schema, frame))
    special = {
        "two-field-key": _edited_descriptor(make_package(tmp_path / "key"), "arms", lambda s: s.__setitem__("primaryKey", ["study_id", "product_id"])),
        "pattern-on-number": _edited_descriptor(make_package(tmp_path / "pattern"), "arms",
                                                lambda s: _field(s, "n_treated").setdefault("constraints", {}).__setitem__("pattern", "[0-9]+")),
        "minimum-on-text": _edited_descriptor(make_package(tmp_path / "minimum"), "studies",
                                              lambda s: _field(s, "study_id").setdefault("constraints", {}).__setitem__("minimum", 3)),
    }
    for name, pkg in [*sorted(corrupted.items()), *special.items()]:
        handed_over.clear()
        direct = validate(pkg).problems
        if name in special:
            assert handed_over, name  # these cases go to pandera's lazy validation
            assert {p.rule for p in direct} & {"unique", "pattern", "minimum"}, name
            assert all(p.hint for p in direct), name  # (each with a hint, the two-field key's too)
        with monkeypatch.context() as m:
            m.setattr(module, "_column_failures", lambda schema, frame: None)
            assert validate(pkg).problems == direct, name


def test_low_memory_validation_reports_what_a_whole_validation_reports(corrupted, tmp_path, monkeypatch):
    """``validate(keep=...)`` (`carte validate --low-memory`) reads each table in blocks, checks the
    cells of the columns no check across rows reads block by block, and drops them. On every
    corrupted package and on descriptors that take pandera's own route, with blocks of a few
    hundred bytes (every table of the mini package in several), it reports exactly the problems,
    in the order, of a whole validation; and the rules, run on the kept columns alone, find
    what they find on whole tables."""
    from carte_evidence.package import lean, parse

    blocks: list = []
    typed_block = parse._typed_block
    monkeypatch.setattr(parse, "_typed_block", lambda *a: blocks.append(a[0]) or typed_block(*a))
    monkeypatch.setattr(parse, "ROW_BLOCK", 300)
    special = {
        "two-field-key": _edited_descriptor(make_package(tmp_path / "key"), "arms", lambda s: s.__setitem__("primaryKey", ["study_id", "product_id"])),
        "pattern-on-number": _edited_descriptor(make_package(tmp_path / "pattern"), "arms",
                                                lambda s: _field(s, "n_treated").setdefault("constraints", {}).__setitem__("pattern", "[0-9]+")),
        "bad-pattern-on-dropped-column": _edited_descriptor(make_package(tmp_path / "regex"), "outcomes",
                                                            lambda s: _field(s, "timepoint_label").setdefault("constraints", {}).__setitem__("pattern", "([")),
    }
    for name, pkg in [("valid", make_package(tmp_path / "valid")), *sorted(corrupted.items()), *special.items()]:
        blocks.clear()
        whole = validate(pkg)
        low = validate(pkg, keep={})
        assert low.problems == whole.problems, name
        if name == "valid":
            assert Counter(blocks)["outcomes"] > 1  # (read in blocks)
            for table, frame in low.tables.items():
                assert set(frame.columns) <= set(whole.tables[table].columns)
            assert len(low.tables["outcomes"].columns) < len(whole.tables["outcomes"].columns)
            assert low.tables["outcomes"].equals(whole.tables["outcomes"][list(low.tables["outcomes"].columns)])
    assert lean.kept_columns({"resources": [{"name": "a"}, {"name": "a"}]}) is None  # (two tables of one name: all kept)
    # The shipped package: its case reports (a count of one stated by the report itself, known
    # only once studies and arms are read) and reviewed numbers, in blocks of 4 KiB.
    monkeypatch.setattr(parse, "ROW_BLOCK", 4096)
    whole, low = validate(REAL), validate(REAL, keep={})
    assert whole.valid and low.valid and Counter(blocks)["outcomes"] > 1
    assert "quote" not in low.tables["outcomes"].columns  # (the quote rule ran block by block)
    from carte_evidence.package.integrity import quote_problems
    from carte_evidence.package.parse import ParsedTable

    assert len(quote_problems({n: ParsedTable(n, n, f, np.arange(2, len(f) + 2)) for n, f in whole.tables.items()},
                              reviewed=set())) > 0  # (what the reviewed numbers exempt is found without them)
