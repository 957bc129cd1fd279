"""`carte tables`: the standard tables and figures, on the mini package."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from carte_evidence import load
from carte_evidence.cli.main import app
from carte_evidence.outputs.standard import standard_tables, study_characteristics
from conftest import edit

runner = CliRunner()


def test_standard_tables_by_hand(mini):
    out = standard_tables(load(mini))
    assert out["counts_by_disease"].set_index("disease")["patients"].to_dict() == {"sle": 15, "ssc": 4, "mg": 1}
    assert out["publications_per_year"].set_index("year")["publications"].to_dict() == {2022: 1, 2023: 2, 2024: 1}
    eff = out["pooled_efficacy"]
    overall = eff[(eff["grouping"] == "overall") & (eff["measure"] == "doris_remission")].iloc[0]
    assert (overall["k"], overall["n"], overall["events"]) == (2, 15, 11)
    safety = out["pooled_safety"]
    crs = safety[(safety["grouping"] == "overall") & (safety["event"] == "crs") & (safety["grade"] == "any")].iloc[0]
    assert (crs["k"], crs["n"], crs["events"]) == (3, 16, 12)
    assert out["trials_by_phase"]["trials"].sum() == 4
    # The release documents its own gaps: the provenance targets of `carte coverage --targets`.
    targets = out["provenance_targets"].set_index("check")
    assert targets.loc["identifiers", ["count", "of"]].tolist() == [3, 3]  # the three peer-reviewed papers have a DOI or PMID


def test_study_characteristics(mini):
    table = study_characteristics(load(mini)).set_index("study_id")
    assert table.loc["study-one", "n_treated"] == 14 and table.loc["study-one", "diseases"] == "sle ssc"
    assert table.loc["study-one", "primary_report"] == "Alpha 2024, Test Journal"
    assert table.loc["study-one", "study_grade"] == "A"


def test_cli_tables_with_figures(mini, tmp_path):
    # make study-two a CD19 study so that SLE x CD19 pools two studies and gets a forest plot
    edit(mini / "data" / "arms.csv", "study-two.sle,study-two,prod-b", "study-two.sle,study-two,prod-a")
    out = tmp_path / "tables"
    result = runner.invoke(app, ["tables", str(mini), "--out", str(out), "--figures"])
    assert result.exit_code == 0, result.output
    assert pd.read_csv(out / "counts_by_target.csv").set_index("target")["patients"].to_dict() == {"CD19": 20}
    assert (out / "pooled_efficacy.md").read_text().startswith("# pooled efficacy")
    figures = {p.name for p in (out / "figures").iterdir()}
    assert {"forest-doris-remission-latest-disease-sle.png", "forest-doris-remission-latest-disease-sle.svg", "evidence-map.png", "trials-per-year-by-target.svg"} <= figures
    assert not any(name.endswith("-disease-mg.png") for name in figures)  # one study only: no forest plot
    svg = (out / "figures" / "forest-doris-remission-latest-disease-sle.svg").read_text()
    # names, not ids: the disease and measure names, the study's first author, the versions
    assert "Systemic lupus erythematosus" in svg and "DORIS remission" in svg and "analysis plan" in svg
    assert "doris_remission" not in svg


def test_figure_labels_the_font_cannot_draw_fall_back_to_the_study_id(real_tables):
    from carte_evidence.analysis.summary import study_labels
    from carte_evidence.outputs.standard import drawable_labels

    labels = study_labels(real_tables)
    drawn = drawable_labels(labels)
    # A Chinese outlet as the 'author' would be empty boxes in DejaVu Sans: the id is drawn instead.
    assert labels["zch-autologous-cart-paed-sle-20"] == "杭州网 2024"
    assert drawn["zch-autologous-cart-paed-sle-20"] == "zch-autologous-cart-paed-sle-20"
    # Accented Latin is drawn as it is; everything else is unchanged.
    assert drawn["erlangen-cd19car"] == labels["erlangen-cd19car"] == "Müller 2024 (New England Journal of Medicine)"
    assert (drawn != labels).sum() == labels.str.contains(r"[\u2e80-\u9fff]").sum()
