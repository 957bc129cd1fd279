"""Validation: the valid packages pass; every kind of bad input is reported precisely."""

from __future__ import annotations

import datetime as dt

import pytest

from carte_evidence import validate
from carte_evidence.package.problems import Problem
from conftest import REAL, edit


def test_real_package_is_valid():
    report = validate(REAL)
    assert report.problems == []


def test_real_package_passes_frictionless():
    from frictionless import Package

    report = Package(str(REAL / "datapackage.json")).validate()
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])


def test_mini_package_is_valid(mini):
    report = validate(mini)
    assert report.problems == []
    assert len(report.tables["arms"]) == 4
    assert str(report.tables["arms"]["n_treated"].dtype) == "Int64"


# (file, old text, new text, expected line, column, rule)
BAD_INPUTS = [
    pytest.param("outcomes.csv", "month 12,10,8,", "month 12,10,eight,", 3, "n_events", "type-integer", id="non-numeric count"),
    pytest.param("adverse_events.csv", "crs,ASTCT,any,7,10", "crs,ASTCT,any,11,10", 2, "n_events", "events-le-evaluable", id="n_events > n_evaluable"),
    pytest.param("adverse_events.csv", "icans,ASTCT,any,1,10", "icanz,ASTCT,any,1,10", 4, "event", "foreign-key", id="unknown vocabulary value"),
    pytest.param("arms.csv", "study-two,prod-b", "study-two,prod-zzz", 4, "product_id", "foreign-key", id="broken foreign key"),
    pytest.param("studies.csv", "case series", "case-series", 3, "design", "enum", id="value not in enum"),
    pytest.param("publications.csv", "three-2022-a,study-three,", "one-2023-a,study-three,", 5, "publication_id", "unique", id="duplicate id"),
    pytest.param("publications.csv", "Series,letter,true,,", "Series,letter,true,2099-01,", 4, "data_cutoff", "not-in-future", id="cut-off in the future"),
    pytest.param("publications.csv", "Test Journal,,,,Case,case report", "Test Journal,,,,Case,case report", None, None, None, id="unchanged control"),
    pytest.param("outcomes.csv", "All 5 in DORIS remission.", "=SUM(A1)", 2, "quote", "formula-prefix", id="spreadsheet formula"),
    pytest.param("products.csv", "prod-b,Product B,,,CAR-T,BCMA,,,,allogeneic,Hand-built test record", "prod-b,Product B,CAR-T", 3, None, "malformed-row", id="malformed row"),
    pytest.param("publications.csv", "one-2024-b,study-one,one-2023-a", "one-2024-b,study-one,two-2023-a", 3, "supersedes", "supersedes-same-study", id="supersedes across studies"),
    pytest.param("studies.csv", "two-2023-a,,,,false", "one-2024-b,,,,false", 3, "primary_publication_id", "primary-publication-of-study", id="primary publication of another study"),
    pytest.param("outcomes.csv", "study-one.sle.o2,study-one.sle,one-2024-b,abstract,doris_remission,12,month 12,10,8", "study-one.sle.o2,study-one.sle,one-2024-b,abstract,doris_remission,12,month 12,11,8", 3, "n_evaluable", "evaluable-le-treated", id="n_evaluable > n_treated"),
    pytest.param("publications.csv", "Alpha,2023,", "Alpha,2999,", 2, "year", "not-in-future", id="year in the future"),
    pytest.param("arms.csv", "study-one.sle,", "Study One.sle,", 2, "arm_id", "pattern", id="ill-formed id"),
    pytest.param("outcomes.csv", "sledai2k,12,month 12,,,0,", "sledai2k,12,month 12,,,,", 4, "measure", "continuous-needs-value", id="continuous without value"),
    pytest.param("publications.csv", "letter,true", "letter,yes", 4, "peer_reviewed", "type-boolean", id="non-boolean"),
    pytest.param("arms.csv", "study-one.ssc,study-one,prod-a,ssc,", "study-one.ssc,study-one,prod-a,mixed-autoimmune,", 3, "disease_id", "mixed-arm-scope", id="mixed arm beside per-disease arms"),
    pytest.param("trials.csv", "NCT00000002,clinicaltrials.gov", "NCT0000002,clinicaltrials.gov", 5, "trial_id", "registry-format", id="registry id of the wrong form"),
    pytest.param("trials.csv", "ChiCTR2300000001,chictr", "ChiCTR2300000001,clinicaltrials.gov", 3, "trial_id", "registry-format", id="registry id of another registry"),
    pytest.param("trials.csv", "academic,sle lupus-nephritis,", "academic,sle lupus-nefritis,", 3, "disease_ids", "list-foreign-key", id="unknown disease in a list"),
    pytest.param("studies.csv", "academic,NCT00000001,", "academic,NCT00000009,", 2, "registry_id", "foreign-key", id="study registry id not in trials"),
    pytest.param("studies.csv", "one-2024-b,,,,true", "one-2024-b,study-two,possible,,true", 2, "overlaps_with", "overlap-symmetric", id="overlap listed one way only"),
]


@pytest.mark.parametrize("file, old, new, line, column, rule", BAD_INPUTS)
def test_bad_input_is_reported_precisely(mini, file, old, new, line, column, rule):
    edit(mini / "data" / file, old, new)
    report = validate(mini, today=dt.date(2026, 1, 1))
    if rule is None:
        assert report.valid
        return
    found = [(p.file, p.line, p.column, p.rule) for p in report.problems]
    assert (f"data/{file}", line, column, rule) in found, found


def test_supersedes_cycle(mini):
    edit(mini / "data" / "publications.csv", "one-2023-a,study-one,,", "one-2023-a,study-one,one-2024-b,")
    rules = {(p.line, p.rule) for p in validate(mini).problems}
    assert (2, "supersedes-cycle") in rules and (3, "supersedes-cycle") in rules


def test_all_problems_reported_at_once(mini):
    edit(mini / "data" / "outcomes.csv", "month 12,10,8,", "month 12,10,eight,")
    edit(mini / "data" / "studies.csv", "case series", "case-series")
    edit(mini / "data" / "arms.csv", "study-two,prod-b", "study-two,prod-zzz")
    rules = {p.rule for p in validate(mini).problems}
    assert {"type-integer", "enum", "foreign-key"} <= rules


def test_bom_is_reported_and_file_still_read(mini):
    path = mini / "data" / "events.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    problems = validate(mini).problems
    assert [(p.file, p.line, p.rule) for p in problems] == [("data/events.csv", 1, "byte-order-mark")]


def test_wrong_delimiter_reported_without_cascade(mini):
    path = mini / "data" / "measures.csv"
    path.write_text(path.read_text(encoding="utf-8").replace(",", ";"), encoding="utf-8")
    problems = validate(mini).problems
    assert [(p.file, p.line, p.rule) for p in problems] == [("data/measures.csv", 1, "delimiter")]


def test_missing_required_column(mini):
    path = mini / "data" / "arms.csv"
    lines = path.read_text(encoding="utf-8").splitlines()
    cut = [",".join(line.split(",")[:6] + line.split(",")[7:]) for line in lines]  # drop n_treated
    path.write_text("\n".join(cut) + "\n", encoding="utf-8")
    problems = validate(mini).problems
    assert ("data/arms.csv", 1, "n_treated", "missing-column") in [(p.file, p.line, p.column, p.rule) for p in problems]


def test_missing_descriptor_is_a_problem_not_a_crash(tmp_path):
    report = validate(tmp_path)
    assert not report.valid and report.problems[0].rule == "descriptor"


from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(row=st.integers(0, 4), column=st.sampled_from(["n_events", "n_evaluable", "timepoint_months"]),
       bad=st.from_regex(r"[a-z]{1,5}|-?\d+\.\d+x|\d+,\d+", fullmatch=True))
def test_any_bad_number_is_reported_at_its_cell(mini, row, column, bad):
    """Property: a non-numeric value in any numeric cell is reported with its exact line and column."""
    import csv as _csv

    path = mini / "data" / "outcomes.csv"
    original = path.read_text(encoding="utf-8")
    rows = list(_csv.DictReader(original.splitlines()))
    rows[row][column] = bad
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = _csv.DictWriter(handle, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    try:
        found = {(p.file, p.line, p.column, p.value) for p in validate(mini).problems if p.rule.startswith("type-")}
        assert ("data/outcomes.csv", row + 2, column, bad) in found
    finally:
        path.write_text(original, encoding="utf-8")


_TEXT = st.one_of(st.none(), st.sampled_from(["", "a", "B", "é", "a b", "10", "9", "zz"]))


@settings(max_examples=200, deadline=None)
@given(st.lists(st.builds(Problem, st.sampled_from(["data/a.csv", "data/b.csv", "datapackage.json"]),
                          st.one_of(st.none(), st.integers(0, 4)), _TEXT, _TEXT,
                          st.sampled_from(["enum", "pattern", "file-missing", "malformed-row", "quote", "case"]), _TEXT, _TEXT),
                max_size=40),
       st.sets(st.sampled_from(["data/a.csv", "data/b.csv"])))
def test_problems_are_ordered_as_the_sort_key_says_and_each_once(problems, first):
    """triage._ordered (one numpy sort over ranks) gives each distinct problem once, in the order
    of the documented key: files with structural problems first, then structural problems,
    line, column, rule, value, message, hint (empty values as 0 or "")."""
    from carte_evidence.package.triage import STRUCTURAL, _ordered

    def key(p):
        return (p.file not in first, p.file, p.rule not in STRUCTURAL, p.line or 0, p.column or "", p.rule, p.value or "", p.message or "", p.hint or "")

    got = _ordered(problems, first).to_list()
    assert sorted(got, key=key) == got  # (sorted is stable: equal keys keep got's order)
    assert len(got) == len(set(problems)) and set(got) == set(problems)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(1, 2**40), min_size=1, max_size=6).flatmap(
    lambda highs: st.lists(st.tuples(*[st.integers(0, h) for h in highs]), min_size=1, max_size=30)))
def test_packed_words_sort_as_their_columns(rows):
    """triage._packed: columns of ranks packed into few int64 words (several words when their
    ranges are wide) sort rows exactly as the columns themselves do."""
    import numpy as np

    from carte_evidence.package.triage import _packed

    columns = [np.array(c, dtype=np.int64) for c in zip(*rows)]
    words = _packed(columns)
    assert len(words) <= len(columns)
    assert all(int(w.min()) >= 0 for w in words)
    order = np.lexsort(words[::-1])
    assert [rows[i] for i in order] == sorted(rows)


_PROBLEMS = st.lists(st.builds(Problem, st.sampled_from(["data/a.csv", "data/b.csv", "datapackage.json"]),
                               st.one_of(st.none(), st.integers(0, 4), st.integers(0, 10**9)), _TEXT, _TEXT,
                               st.sampled_from(["enum", "pattern", "required", "type-integer", "file-missing", "foreign-key", "in_range(0, 9)"]),
                               st.sampled_from(["no a.x has this value", "m", ""]), _TEXT), max_size=40)


def _as_groups(problems: list) -> "ProblemTable":
    """The problems as the validation makes them: runs of one check in one column as groups."""
    from carte_evidence.package.problems import ProblemTable

    tables, run = [], []
    for p in problems + [None]:
        if run and (p is None or (p.file, p.column, p.rule, p.message, p.hint) != (run[0].file, run[0].column, run[0].rule, run[0].message, run[0].hint)):
            first = run[0]
            tables.append(ProblemTable.group(first.file, [q.line for q in run], first.column, [q.value for q in run], first.rule, first.message, first.hint))
            run = []
        if p is not None:
            run.append(p)
    return ProblemTable.concat(tables)


@settings(max_examples=200, deadline=None)
@given(_PROBLEMS, st.integers(0, 40))
def test_problem_tables_hold_the_problems_and_code_them(problems, cut):
    """ProblemTable: made from a list or from groups and joined, it gives back the same problems,
    and each column's codes stand for its values."""
    from carte_evidence.package.problems import ProblemTable

    joined = ProblemTable.concat([ProblemTable.of(problems[:cut]), _as_groups(problems[cut:])])
    assert joined.to_list() == problems == ProblemTable.of(problems).to_list()
    for field in range(7):
        codes, distinct = joined.codes(field)
        assert [distinct[c] for c in codes.tolist()] == [p[field] for p in problems]
        assert len(set(map(repr, distinct))) == len(distinct)  # each distinct value once


@settings(max_examples=200, deadline=None)
@given(_PROBLEMS)
def test_triage_of_groups_is_triage_of_the_list(problems):
    """triage works on codes: those a list's columns get, or those groups carry and joining merges;
    both give the same report."""
    from carte_evidence.package.triage import triage

    assert triage(_as_groups(problems), {}, {}).to_list() == triage(problems, {}, {}).to_list()


def test_report_makes_its_problem_list_only_when_asked(tmp_path):
    """A ValidationReport keeps the problems as columns; `problems` is the list of them, made on
    first use, and `valid` does not need it."""
    import json

    from carte_evidence.package.problems import ProblemTable
    from conftest import make_package

    pkg = make_package(tmp_path / "pkg")
    edit(pkg / "data" / "studies.csv", "case series", "case-series")
    report = validate(pkg)
    assert isinstance(report.problem_table, ProblemTable) and report._list is None
    assert not report.valid and report._list is None
    assert report.problems == report.problem_table.to_list() and report.problems[0].rule == "enum"
    assert json.loads(json.dumps(report.to_list()))[0]["column"] == "design"


_ANY_TEXT = st.one_of(st.none(), st.text(max_size=12), st.sampled_from(["", "'", '"', "\\", "a'b\"c", "é", "\n", "\x00", "\u200b", "𝔘"]))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.builds(Problem, st.text(min_size=1, max_size=8), st.one_of(st.none(), st.integers(0, 10**12)), _ANY_TEXT, _ANY_TEXT,
                          st.text(min_size=1, max_size=8), st.text(max_size=12), _ANY_TEXT), max_size=30))
def test_text_report_is_each_problems_line(problems):
    """The text report, made a column at a time by pyarrow (render_text), is each problem's own
    line (str(problem), worded by problems.text) and the count, for any text in any field (quotes,
    backslashes, line breaks, NUL, characters outside the BMP) and any line number."""
    from carte_evidence.outputs.problem_report import render_problems, render_text

    expected = "\n".join(map(str, problems)) + f"\n{len(problems)} problem(s) found." if problems else "valid: no problems found."
    assert render_text(problems).decode("utf-8") == expected
    assert render_problems(problems) == expected == render_problems(_as_groups(problems), "text")
