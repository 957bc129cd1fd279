"""The standard tables (CSV + Markdown) and figures of `carte tables` and `carte build`."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from carte_evidence.outputs.render import to_markdown
from carte_evidence.analysis.summary import GROUP_FIELDS, analysis_rows, counts, pooled, timeline

TRIAL_TABLE_FIELDS = ("disease", "target", "modality", "phase", "status", "country", "sponsor_type", "start_year")


def _pooled_levels(tables, kind: str) -> pd.DataFrame:
    """Pooled results by disease and target, by disease, and overall (column `grouping`)."""
    parts = []
    for grouping, by in (("disease x target", ("disease", "target")), ("disease", ("disease",)), ("overall", ())):
        frame = pooled(tables, kind, by)
        frame.insert(0, "grouping", grouping)
        parts.append(frame)
    out = pd.concat(parts, ignore_index=True)
    lead = ["grouping", "disease", "target"]
    return out[[c for c in lead if c in out] + [c for c in out.columns if c not in lead]]


def study_characteristics(tables) -> pd.DataFrame:
    """'Table 1' of a review: one row per study with its design, population and primary report."""
    from carte_evidence.analysis.grading import study_grades

    arms = tables["arms"][tables["arms"]["arm_scope"].isna()]
    products = tables["products"].set_index("product_id")
    agg = arms.groupby("study_id").agg(
        diseases=("disease_id", lambda s: " ".join(sorted(set(s.dropna())))),
        products=("product_id", lambda s: " ".join(sorted(set(s.dropna())))),
        n_treated=("n_treated", lambda s: s.sum(min_count=1)),
        n_female=("n_female", lambda s: s.sum(min_count=1)),
        age_median=("age_median", "max"),
        followup_months_median=("followup_months_median", "max"),
    )
    agg["targets"] = agg["products"].map(lambda p: " / ".join(sorted({str(products.loc[x, "targets"]) for x in p.split()})))
    pubs = tables["publications"].set_index("publication_id")
    studies = tables["studies"].set_index("study_id")
    out = studies[["name", "design", "indication", "country", "registry_id", "primary_publication_id"]].join(agg)
    prim = out["primary_publication_id"]
    out["primary_report"] = prim.map(pubs["first_author"]).fillna("") + " " + prim.map(pubs["year"]).astype("string").fillna("") + ", " + prim.map(pubs["journal"]).fillna("")
    out["doi_or_pmid"] = prim.map(pubs["doi"]).fillna(prim.map(pubs["pmid"]))
    out = out.join(study_grades(tables).set_index("study_id")[["study_grade"]])
    return out.reset_index().sort_values(["indication", "n_treated", "study_id"], ascending=[True, False, True], kind="stable")


def standard_tables(tables) -> dict[str, pd.DataFrame]:
    """Every standard table, by file stem."""
    from carte_evidence.analysis.trials import trial_counts

    from carte_evidence.analysis.headline import headline_wide

    out = {"headline": headline_wide(tables)}
    out.update({f"counts_by_{by}": counts(tables, by) for by in GROUP_FIELDS})
    out["publications_per_year"] = timeline(tables)
    out["pooled_efficacy"] = _pooled_levels(tables, "outcome")
    out["pooled_safety"] = _pooled_levels(tables, "ae")
    out["study_characteristics"] = study_characteristics(tables)
    if "trials" in tables:
        for by in TRIAL_TABLE_FIELDS:
            out[f"trials_by_{by}"] = trial_counts(tables, by)
    return out


def write_tables(tables, folder: Path) -> list[Path]:
    """Write every standard table as CSV and Markdown into ``folder``."""
    written = []
    for name, frame in standard_tables(tables).items():
        csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
        frame.to_csv(csv_path, index=False, lineterminator="\n")
        md_path.write_text(f"# {name.replace('_', ' ')}\n\n" + to_markdown(frame), encoding="utf-8")
        written += [csv_path, md_path]
    return written


# ---- figures ----------------------------------------------------------------------------------

def _slug(*parts) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(str(p) for p in parts if p is not None and not pd.isna(p)).lower()).strip("-")


def _save(fig, folder: Path, stem: str) -> list[Path]:
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})  # reproducible SVG
    return paths


def forest_plots(tables, folder: Path) -> list[Path]:
    """A forest plot (study proportions, exact CIs, pooled GLMM estimate and prediction interval)
    for every disease x target analysis with at least 2 studies."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from carte_evidence.analysis.summary import pool

    written = []
    for kind, keys in (("outcome", ["measure"]), ("ae", ["event", "grade"])):
        rows = analysis_rows(tables, kind)
        rows = rows[rows["n_evaluable"] > 0]
        for values, sub in rows.groupby(["disease_id", "targets", *keys], dropna=False, sort=True):
            if len(sub) < 2:
                continue
            p = pool(sub)
            sub = sub.sort_values("study_id")
            fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * (len(sub) + 2)))
            y = list(range(len(sub) + 1, 1, -1))
            ax.errorbar(sub["proportion"], y, xerr=[sub["proportion"] - sub["ci_lower"], sub["ci_upper"] - sub["proportion"]], fmt="s", color="black", capsize=3)
            labels = [f"{s} ({int(e)}/{int(n)})" for s, e, n in zip(sub["study_id"], sub["n_events"], sub["n_evaluable"])]
            if pd.notna(p.get("estimate")):
                lo, est, hi = p["ci_lower"], p["estimate"], p["ci_upper"]
                ax.fill([lo, est, hi, est], [1, 1.25, 1, 0.75], color="tab:blue")
                if pd.notna(p.get("pi_lower")):
                    ax.plot([p["pi_lower"], p["pi_upper"]], [0.5, 0.5], color="tab:blue", lw=1)
                    labels_pi = f"95% PI {p['pi_lower']:.2f}-{p['pi_upper']:.2f}"
                else:
                    labels_pi = ""
                pooled_label = f"GLMM {est:.2f} ({lo:.2f}-{hi:.2f}); I2 {p['i2']:.0f}%"
            else:
                pooled_label, labels_pi = "GLMM: no finite estimate", ""
            ax.set_yticks(y + [1, 0.5], labels + [pooled_label, labels_pi])
            ax.set_xlim(0, 1)
            ax.set_xlabel("proportion of patients (95% CI)")
            ax.set_title(" / ".join(str(v) for v in values if pd.notna(v)), fontsize=10)
            ax.grid(axis="x", alpha=0.3)
            written += _save(fig, folder, "forest-" + _slug(*values))
            plt.close(fig)
    return written


def evidence_map(tables, folder: Path) -> list[Path]:
    """Disease x target bubbles: size = patients, colour = best study grade."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from carte_evidence.analysis.grading import study_grades
    from carte_evidence.analysis.summary import arm_context

    arms = arm_context(tables)
    arms = arms[arms["arm_scope"].isna() & (arms["indication"] != "oncologic") & (arms["overlap_status"] != "pooled_report").fillna(True)]
    arms["targets"] = arms["targets"].fillna("(unknown)")
    grades = study_grades(tables).set_index("study_id")["study_grade"]
    arms["grade"] = arms["study_id"].map(grades)
    cells = arms.groupby(["disease_id", "targets"]).agg(patients=("n_treated", lambda s: s.sum(min_count=1)), best=("grade", "min")).reset_index()
    diseases = sorted(cells["disease_id"].unique())
    targets = sorted(cells["targets"].unique())
    colours = {"A": "tab:green", "B": "tab:blue", "C": "tab:orange", "D": "tab:red"}
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(targets), 1 + 0.35 * len(diseases)))
    for grade_letter, colour in colours.items():
        sel = cells[cells["best"] == grade_letter]
        ax.scatter(sel["targets"].map(targets.index), sel["disease_id"].map(diseases.index), s=20 + 6 * sel["patients"].fillna(1).astype(float), c=colour, alpha=0.7, label=f"best grade {grade_letter}")
    for _, row in cells.iterrows():
        ax.annotate(f"{int(row['patients']) if pd.notna(row['patients']) else '?'}", (targets.index(row["targets"]), diseases.index(row["disease_id"])), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_yticks(range(len(diseases)), diseases)
    ax.set_xlim(-0.7, len(targets) - 0.3)
    ax.set_title("Evidence map: patients treated (bubble size) and best study grade (colour)", fontsize=10)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    paths = _save(fig, folder, "evidence-map")
    plt.close(fig)
    return paths


def trials_per_year(tables, folder: Path) -> list[Path]:
    """Registered trials started per year, stacked by target."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trials = tables["trials"].assign(start_year=tables["trials"]["start_date"].str.slice(0, 4), targets=tables["trials"]["targets"].fillna("(unknown)"))
    trials = trials.dropna(subset=["start_year"])
    table = trials.groupby(["start_year", "targets"]).size().unstack(fill_value=0).sort_index()
    fig, ax = plt.subplots(figsize=(8, 4))
    if not table.empty:
        table.plot(kind="bar", stacked=True, ax=ax, width=0.8)
    ax.set_xlabel("start year (trials with a start date)")
    ax.set_ylabel("trials")
    ax.set_title("Registered trials started per year, by target", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    paths = _save(fig, folder, "trials-per-year-by-target")
    plt.close(fig)
    return paths


def write_figures(tables, folder: Path) -> list[Path]:
    """Every figure (PNG and SVG) into ``folder``."""
    written = forest_plots(tables, folder) + evidence_map(tables, folder)
    if "trials" in tables:
        written += trials_per_year(tables, folder)
    return written
