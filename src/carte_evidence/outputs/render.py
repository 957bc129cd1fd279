"""Render DataFrames for people: Markdown and rich terminal tables."""

from __future__ import annotations

import pandas as pd


def _cell(value) -> str:
    if value is None or (not isinstance(value, str) and pd.isna(value)):
        return ""
    if isinstance(value, float):
        return f"{value:.3f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    return str(value)


def to_markdown(frame: pd.DataFrame) -> str:
    """A GitHub-flavoured Markdown table (no extra dependency)."""
    header = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    body = ["| " + " | ".join(_cell(v).replace("|", "\\|") for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([header, rule, *body]) + "\n"


def to_rich(frame: pd.DataFrame, title: str | None = None):
    """A rich Table of the frame."""
    from rich.table import Table

    table = Table(title=title, show_lines=False)
    for column in frame.columns:
        numeric = pd.api.types.is_numeric_dtype(frame[column])
        table.add_column(str(column), justify="right" if numeric else "left", overflow="fold")
    for row in frame.itertuples(index=False):
        table.add_row(*(_cell(v) for v in row))
    return table


def _pct(x) -> str:
    return "" if x is None or pd.isna(x) else f"{100 * x:.0f}%"


def _interval(row, lo: str, hi: str) -> str:
    return "" if pd.isna(row.get(lo)) else f"{_pct(row[lo])}-{_pct(row[hi])}"


# Short words for the terminal's note column (--wide and JSON keep the full text).
SHORT = {"too few studies to pool": "too few to pool", "GLMM": "", "REML": "REML: GLMM degenerate",
         "exact (total)": "exact CI of total", "exact (single study)": "single study"}


def compact_pooled(frame: pd.DataFrame) -> pd.DataFrame:
    """A narrow, human view of a `summary --measure/--event` frame that fits 80 columns (--wide shows all)."""
    skip = {"level", "study_id", "study_label", "publication_id", "n_events", "n_evaluable", "proportion", "timepoint_months", "ci_lower", "ci_upper", "note"}
    group = [c for c in frame.columns if c not in skip and frame.columns.get_loc(c) < frame.columns.get_loc("study_id")]
    # show names where the frame carries them (disease_name for disease, ...), never the ids
    shown = {"disease": "disease_name", "measure": "measure_name", "event": "event_name"}
    rows = []
    for _, r in frame.iterrows():
        study = r["level"] == "study"
        label = r.get("study_label") if isinstance(r.get("study_label"), str) else r["study_id"]
        note = "" if study else "; ".join(x for x in (SHORT.get(_cell(r.get("flag")), _cell(r.get("flag"))), SHORT.get(_cell(r.get("method")), _cell(r.get("method")))) if x)
        rows.append({
            **{g: _cell(r[shown[g]] if g in shown and shown[g] in r and not pd.isna(r[shown[g]]) else r[g]) for g in group},
            "study": label if study else f"POOLED (k={int(r['k'])})" if not pd.isna(r.get("k")) else "POOLED",
            "events/n": f"{int(r['n_events'])}/{int(r['n_evaluable'])}" if study else f"{int(r['events'])}/{int(r['n'])}" if not pd.isna(r.get("n")) else "",
            "estimate": _pct(r["proportion"] if study else r.get("estimate")),
            "95% CI": _interval(r, "ci_lower", "ci_upper"),
            "note": note,
        })
    out = pd.DataFrame(rows)
    # Columns that hold one value only (the filtered measure, say) go to the title, not the grid.
    return out[[c for c in out.columns if c in ("study", "events/n", "estimate", "95% CI") or out[c].nunique() > 1]]
