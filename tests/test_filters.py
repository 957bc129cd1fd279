"""Every filter of summarize / `carte summary` changes the result, and unknown values are refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest
from typer.testing import CliRunner

from carte_evidence import load, summarize
from carte_evidence.analysis.filters import UnknownValue
from carte_evidence.analysis.harmonise import derived_rows
from carte_evidence.cli.main import app

runner = CliRunner()


@pytest.fixture(scope="module")
def real():
    return load()


@pytest.mark.parametrize("name, value", [
    ("disease", "sle"), ("disease_area", "neurologic"), ("target", "CD19"), ("modality", "CAR-NK"),
    ("product", "kyv-101"), ("indication", "oncologic"), ("lymphodepletion", "no"),
])
def test_each_count_filter_changes_the_result(real, name, value):
    everything = summarize(tables=real)
    filtered = summarize(tables=real, **{name: value})
    assert filtered["patients"].sum() != everything["patients"].sum()


def test_target_filter_on_pooled_rows(real):
    all_crs = summarize(tables=real, event="crs", grade="any", by=["target"])
    cd19 = summarize(tables=real, event="crs", grade="any", by=["target"], target="cd19")
    assert set(cd19["target"].dropna()) < set(all_crs["target"].dropna())
    assert cd19["target"].dropna().str.contains("CD19").all()


def test_grade_and_timepoint_filters(real):
    crs = summarize(tables=real, event="CRS")
    assert set(summarize(tables=real, event="crs", grade=">=3")["grade"]) == {">=3"} != set(crs["grade"])
    latest = summarize(tables=real, measure="doris_remission", by=["disease"])
    six = summarize(tables=real, measure="doris_remission", by=["disease"], timepoint="6")
    assert len(six[six["level"] == "study"]) < len(latest[latest["level"] == "study"])


@pytest.mark.parametrize("kwargs, hint", [
    ({"disease": "xyz"}, "valid values"), ({"event": "crss"}, "did you mean crs?"), ({"target": "CD91"}, "did you mean"),
])
def test_unknown_values_are_refused_with_suggestions(real, kwargs, hint):
    with pytest.raises(UnknownValue, match=hint):
        summarize(tables=real, **kwargs)


def test_cli_unknown_value_exits_2():
    result = runner.invoke(app, ["summary", "--disease", "xyz"])
    assert result.exit_code == 2 and "valid values" in result.output and "Traceback" not in result.output


def test_trials_filters_change_the_counts(real):
    everything = summarize(tables=real, trials=True)
    sle = summarize(tables=real, trials=True, disease="sle")
    bcma = summarize(tables=real, trials=True, target="BCMA")
    assert sle.iloc[:, 1].sum() < everything.iloc[:, 1].sum() and bcma.iloc[:, 1].sum() < everything.iloc[:, 1].sum()


def test_erlangen_contributes_11_of_15_to_crs_any_grade(real):
    rows = summarize(tables=real, event="crs", grade="any", by=["disease"])
    erlangen = rows[(rows["level"] == "study") & (rows["study_id"] == "erlangen-cd19car") & (rows["disease"] == "mixed-autoimmune")]
    assert (int(erlangen["n_events"].iloc[0]), int(erlangen["n_evaluable"].iloc[0])) == (11, 15)


def test_per_grade_rows_are_added_up_only_when_complete():
    import pandas as pd

    ae = pd.DataFrame({
        "ae_id": ["a1", "a2", "b1", "b2", "c1"], "arm_id": ["a", "a", "b", "b", "c"], "publication_id": "p",
        "event": "crs", "grade": ["1", "2", "1", "3", "any"], "n_events": [10, 1, 4, 1, 0], "n_evaluable": [15, 15, 9, 9, 6],
    })
    derived = derived_rows(ae).set_index(["arm_id", "grade"])
    assert derived.loc[("a", "any"), "n_events"] == 11 and derived.loc[("a", ">=3"), "n_events"] == 0
    assert ("b", "any") not in derived.index  # grade 2 missing: not a complete listing
    assert derived.loc[("c", ">=3"), "n_events"] == 0  # no CRS at all


def test_terminal_table_fits_80_columns_and_shows_names():
    result = runner.invoke(app, ["summary", "-e", "crs", "--grade", "any", "--disease", "sle"], env={"COLUMNS": "80"}, terminal_width=80)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "Lupus" in result.output and "lupus-nephritis" not in result.output  # names, not ids
    wide = runner.invoke(app, ["summary", "-e", "crs", "--grade", "any", "--disease", "sle", "--wide"], env={"COLUMNS": "200"}, terminal_width=200)
    assert wide.output.count("┳") > result.output.count("┳")  # --wide shows every column


def test_validate_warns_when_recorded_any_grade_disagrees_with_per_grade_rows(tmp_path):
    from conftest import make_package

    pkg = make_package(tmp_path / "pkg")
    clean = runner.invoke(app, ["validate", str(pkg)])
    assert clean.exit_code == 0 and "warning" not in clean.output
    # the same report gives grade 1 in 5 and grade 2 in 1 (6 in all) but 'any grade' in 7
    ae = pkg / "data" / "adverse_events.csv"
    with ae.open("a", encoding="utf-8") as handle:
        handle.write("study-one.sle.ae8,study-one.sle,one-2024-b,abstract,crs,ASTCT,1,5,10,reported,,Grade 1 CRS in 5 of 10.,\n")
        handle.write("study-one.sle.ae9,study-one.sle,one-2024-b,abstract,crs,ASTCT,2,1,10,reported,,Grade 2 CRS in 1 of 10.,\n")
    warned = runner.invoke(app, ["validate", str(pkg)])
    assert warned.exit_code == 0, warned.output  # a warning, not a problem
    assert "warning: adverse_events study-one.sle.ae1: crs grade any is recorded as 7/10" in warned.output
    assert "add up to 6/10" in warned.output


def test_out_file_is_kept_unless_force(tmp_path):
    target = tmp_path / "notes.csv"
    target.write_text("my own notes\n", encoding="utf-8")
    refused = runner.invoke(app, ["summary", "--format", "csv", "--out", str(target)])
    assert refused.exit_code == 2 and "--force" in refused.output
    assert target.read_text(encoding="utf-8") == "my own notes\n"
    forced = runner.invoke(app, ["summary", "--format", "csv", "--out", str(target), "--force"])
    assert forced.exit_code == 0 and target.read_text(encoding="utf-8").startswith("disease,")


def _naive_conflicts(ae):
    from carte_evidence.analysis.harmonise import REPORT, derived_rows

    derived = derived_rows(ae)
    both = ae.merge(derived, on=[*REPORT, "grade"], suffixes=("", "_derived"))
    bad = both[(both["n_events"] != both["n_events_derived"]) | (both["n_evaluable"] != both["n_evaluable_derived"])]
    return bad[["ae_id", *REPORT, "grade", "n_events", "n_evaluable", "n_events_derived", "n_evaluable_derived", "derived_from"]].astype(object).to_dict("records")


def _in_chunks(frame: pd.DataFrame, size: int) -> pd.DataFrame:
    """``frame`` with its text columns as arrow strings of ``size`` rows a chunk (as a table read
    in blocks keeps them)."""
    import pyarrow as pa

    out = {}
    for column in frame.columns:
        out[column] = frame[column]
        if not pd.api.types.is_numeric_dtype(frame[column]):
            whole = pa.array(frame[column].astype(object).where(frame[column].notna(), None).tolist(), pa.large_string())
            chunks = [whole.slice(i, size) for i in range(0, len(whole), size)] or [whole]
            out[column] = pd.Series(pd.StringDtype("pyarrow").__from_arrow__(pa.chunked_array(chunks)), index=frame.index, copy=False)
    return pd.DataFrame(out, copy=False)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from(["crs", "icans", "infection"]),
                          st.sampled_from(["1", "2", "3", "4", "5", ">=2", ">=3", "any"]), st.one_of(st.none(), st.integers(0, 6)),
                          st.sampled_from([10, 10, 10, 12, None])), max_size=16), st.integers(1, 5))
def test_conflicts_over_columns_agree_with_deriving_each_report(rows, size):
    """conflicts() works the rules out over whole columns; on random reports (empty counts,
    repeated grades, overlapping categories) it finds exactly the rows, values and derived_from
    that deriving each report row by row (derived_rows) and merging finds, in the same order;
    the same on arrow text columns in chunks (a table read in blocks by `carte validate`)."""
    from carte_evidence.analysis.harmonise import conflicts

    ae = pd.DataFrame([{"ae_id": f"x.ae{i}", "arm_id": arm, "publication_id": "p", "event": event, "grade": grade,
                        "n_events": n, "n_evaluable": d} for i, (arm, event, grade, n, d) in enumerate(rows)],
                      columns=["ae_id", "arm_id", "publication_id", "event", "grade", "n_events", "n_evaluable"])
    ae = ae.astype({"n_events": "Int64", "n_evaluable": "Int64"})
    expected = _naive_conflicts(ae)
    assert conflicts(ae).astype(object).to_dict("records") == expected
    chunked = _in_chunks(ae, size)
    assert chunked["ae_id"].array._pa_array.num_chunks == max(1, -(-len(ae) // size))
    assert conflicts(chunked).astype(object).to_dict("records") == expected


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.none(), st.text(max_size=3)), min_size=1, max_size=20), st.integers(1, 6), st.data())
def test_rows_of_a_chunked_column_are_its_iloc(values, size, data):
    from carte_evidence.analysis.harmonise_columns import rows_of

    frame = pd.DataFrame({"v": pd.Series(values, dtype=object)})
    chunked = _in_chunks(frame, size)["v"]
    rows = np.array(data.draw(st.lists(st.integers(-len(values), len(values) - 1), max_size=30)), dtype=np.int64)
    taken = rows_of(chunked, rows)
    assert taken.tolist() == chunked.iloc[rows].tolist() and taken.dtype == chunked.dtype
    assert taken.index.equals(pd.RangeIndex(len(rows)))
