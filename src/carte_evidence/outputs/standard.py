"""The standard tables (CSV + Markdown) and figures of `carte tables` and `carte build`."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from carte_evidence.analysis import shared
from carte_evidence.outputs.render import to_markdown
from carte_evidence.analysis.summary import (
    GROUP_FIELDS, NOT_COUNTED, POOLED_COLUMNS, _with_group_columns, analysis_rows, counts, id_names, pool, timeline,
)

TRIAL_TABLE_FIELDS = ("disease", "target", "modality", "phase", "status", "country", "sponsor_type", "start_year")
# The columns of a group's study rows that summary.pool reads.
POOL_READS = ("n_events", "n_evaluable", "timepoint_months", "derived", "modality", "lymphodepletion")


def _pooled_levels(tables, kind: str) -> pd.DataFrame:
    """Pooled results by disease and target, by disease, and overall (column `grouping`).

    As :func:`~carte_evidence.analysis.summary.pooled` for each level, with the study rows read
    once and each group handed to ``pool`` with only the columns it reads (selecting rows of
    the text columns cost more than the pooling of most groups, single studies).
    """
    keys = ["measure"] if kind == "outcome" else ["event", "grade"]
    rows = analysis_rows(tables, kind)
    pooled_from = [c for c in POOL_READS if c in rows]
    parts = []
    done = {}  # pooled numbers by the study rows pooled: a disease with one target pools the same rows twice
    for grouping, by in (("disease x target", ("disease", "target")), ("disease", ("disease",)), ("overall", ())):
        group = [GROUP_FIELDS[b] for b in by] + keys
        level = _with_group_columns(rows, tables, group)
        narrow = level[pooled_from]
        found = []
        for values, sub in narrow.groupby([level[c] for c in group], dropna=False, sort=True):
            values = values if isinstance(values, tuple) else (values,)
            key = tuple(sub.index) if level is rows else None  # row labels of `rows`, the same at every level
            if key is None or key not in done:
                done[key] = pool(sub)
            found.append({**dict(zip(group, values)), **done[key]})
        frame = pd.DataFrame(found, columns=[*group, *POOLED_COLUMNS]).rename(columns={GROUP_FIELDS[b]: b for b in by})
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
    from carte_evidence.package.identifiers import canonical_urls

    out["canonical_url"] = prim.map(canonical_urls(pubs, tables["registries"]))
    out["page_read"] = prim.map(pubs["url"])
    out = out.join(study_grades(tables).set_index("study_id")[["study_grade", "study_grade_display"]])
    return out.reset_index().sort_values(["indication", "n_treated", "study_id"], ascending=[True, False, True], kind="stable")


def standard_tables(tables, results: pd.DataFrame | None = None, certainty: pd.DataFrame | None = None,
                    headline_long: pd.DataFrame | None = None) -> dict[str, pd.DataFrame]:
    """Every standard table, by file stem."""
    with shared.over(tables):
        return _standard_tables(tables, results, certainty, headline_long)


def _standard_tables(tables, results, certainty, headline_long) -> dict[str, pd.DataFrame]:
    from carte_evidence.analysis.audit import audit
    from carte_evidence.analysis.trials import trial_counts

    from carte_evidence.analysis.grading import evidence_certainty
    from carte_evidence.analysis.headline import headline, headline_wide
    from carte_evidence.analysis.results import plan_results

    results = results if results is not None else plan_results(tables)
    certainty = certainty if certainty is not None else evidence_certainty(tables, results=results)
    long = headline_long if headline_long is not None else headline(tables, results=results, certainty=certainty)
    out = {"headline": headline_wide(tables, long)}
    # Every analysis of the plan with its pooled numbers and certainty: the package's answers.
    keyed = results.assign(certainty_key=results["analysis_id"] + "|" + results["grouping"] + "|" + results["group"].astype(str))
    out["analyses"] = keyed.merge(certainty[["analysis_id", "certainty"]].rename(columns={"analysis_id": "certainty_key"}), on="certainty_key", how="left").drop(columns="certainty_key")
    out.update({f"counts_by_{by}": counts(tables, by) for by in GROUP_FIELDS})
    out["publications_per_year"] = timeline(tables)
    out["pooled_efficacy"] = _pooled_levels(tables, "outcome")
    out["pooled_safety"] = _pooled_levels(tables, "ae")
    out["study_characteristics"] = study_characteristics(tables)
    # How complete and how well sourced the data are (schemas/audit_targets.yaml): a release
    # documents its own gaps.
    out["provenance_targets"] = audit(tables)
    if "trials" in tables:
        for by in TRIAL_TABLE_FIELDS:
            out[f"trials_by_{by}"] = trial_counts(tables, by)
    return {name: with_names(frame, tables) for name, frame in out.items()}


def with_names(frame: pd.DataFrame, tables) -> pd.DataFrame:
    """The frame with a name column beside each id column a reader would not recognise
    (disease, measure, event): ids stay for programs, names are for people."""
    frame = frame.copy()
    for column, mapping in id_names(tables).items():
        name = f"{column.removesuffix('_id')}_name"
        if column in frame.columns and name not in frame.columns:
            frame.insert(frame.columns.get_loc(column) + 1, name, frame[column].map(mapping).fillna(frame[column]))
    return frame


def write_tables(tables, folder: Path, **shared) -> list[Path]:
    """Write every standard table as CSV and Markdown into ``folder`` (``shared``: results,
    certainty, headline_long already computed, see :func:`standard_tables`)."""
    written = []
    for name, frame in standard_tables(tables, **shared).items():
        csv_path, md_path = folder / f"{name}.csv", folder / f"{name}.md"
        frame.to_csv(csv_path, index=False, lineterminator="\n")
        md_path.write_text(f"# {name.replace('_', ' ')}\n\n" + to_markdown(frame), encoding="utf-8")
        written += [csv_path, md_path]
    return written


# ---- figures ----------------------------------------------------------------------------------

def _slug(*parts) -> str:
    return re.sub(r"[^a-z0-9]+", "-", "-".join(str(p) for p in parts if p is not None and not pd.isna(p)).lower()).strip("-")


def _save(fig, folder: Path, stem: str) -> list[Path]:
    import matplotlib

    matplotlib.rcParams["svg.hashsalt"] = "carte-evidence"  # identical SVGs from identical data
    paths = [folder / f"{stem}.png", folder / f"{stem}.svg"]
    fig.savefig(paths[0], dpi=150, bbox_inches="tight")
    fig.savefig(paths[1], bbox_inches="tight", metadata={"Date": None})  # reproducible SVG
    return paths


def _names(tables) -> dict[str, dict]:
    """Display names of diseases, measures and events (labels from the vocabularies, never ids)."""
    return {
        "disease": tables["diseases"].set_index("disease_id")["name"].to_dict() | {"mixed-autoimmune": "Mixed autoimmune diseases"},
        "measure": tables["measures"].set_index("measure_id")["name"].to_dict(),
        "event": tables["events"].set_index("event_id")["name"].to_dict(),
    }


# Scripts the figures' font (matplotlib's default DejaVu Sans) has no glyphs for: CJK ideographs,
# kana, hangul and their punctuation. Drawn, they would be empty boxes.
_UNDRAWABLE = re.compile("[\u2e80-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]")


def drawable_labels(labels: pd.Series) -> pd.Series:
    """Study labels for figures: a label in a script the figure font cannot draw (a Chinese news
    outlet as the 'author', say) is shown as the study id instead of a row of empty boxes. The
    tables and the site keep the original label."""
    bad = labels.astype("string").str.contains(_UNDRAWABLE).fillna(False).to_numpy()
    return labels.where(~bad, pd.Series(labels.index, index=labels.index))


def _group_label(result, names) -> str:
    group = str(result["group"])
    if result["grouping"] in ("disease",):
        return names["disease"].get(group, group)
    if result["grouping"] == "lymphodepletion":
        return {"yes": "with lymphodepletion", "no": "without lymphodepletion", "unknown": "lymphodepletion not reported"}.get(group, group)
    return group


def forest_title(result, names) -> str:
    """'Systemic lupus erythematosus: DORIS remission (6 months ± 2)' / 'CD19: CRS, grade >= 3'."""
    what = result["label"] if result["question"] == "incidence" else names["measure"].get(result["measure"], result["measure"])
    when = f" ({result['window']})" if isinstance(result.get("window"), str) else ""
    return f"{_group_label(result, names)}: {what}{when}"


def _fingerprint(*parts) -> str:
    """A hash of everything a figure is drawn from (data, labels, versions)."""
    import hashlib
    import json

    return hashlib.sha256(json.dumps(parts, default=str, sort_keys=True).encode()).hexdigest()[:16]


def _reused(reuse: Path | None, manifest: dict, folder: Path, stem: str, fingerprint: str) -> list[Path] | None:
    """Copy a figure drawn from the same inputs by an earlier build, instead of drawing it again."""
    import shutil

    if reuse is None or manifest.get(stem) != fingerprint:
        return None
    sources = [reuse / f"{stem}.png", reuse / f"{stem}.svg"]
    if not all(p.is_file() for p in sources):
        return None
    return [Path(shutil.copyfile(src, folder / src.name)) for src in sources]


def _draw_forest(job: dict) -> list[Path]:
    """Draw one forest plot from its prepared numbers and texts (in a worker process, or not)."""
    plt = _pyplot()

    p, lo_ci, hi_ci, labels = job["proportion"], job["ci_lower"], job["ci_upper"], job["labels"]
    k = len(p)
    fig, ax = plt.subplots(figsize=(8.5, 1.6 + 0.42 * (k + 2)))
    y = list(range(k + 1, 1, -1))
    ax.errorbar(p, y, xerr=[p - lo_ci, hi_ci - p], fmt="s", color="black", capsize=3, clip_on=False)
    if job["diamond"] is not None:
        lo, est, hi = job["diamond"]
        ax.fill([lo, est, hi, est], [1, 1.25, 1, 0.75], color="tab:blue", clip_on=False)
    ax.set_yticks(y + [1, 0.45], labels)
    ax.set_xlim(-0.02, 1.02)
    ax.set_ylim(0.2, k + 1.6)
    ax.set_xlabel("proportion of patients (exact 95% CI per study)")
    ax.set_title(job["title"], fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.text(0.01, 0.005, job["caption"], fontsize=6, color="dimgray")
    paths = _save(fig, job["folder"], job["stem"])
    plt.close(fig)
    return paths


# Below this many plots to draw, worker processes cost more than they save.
PARALLEL_MIN_PLOTS = 8


def _pyplot():
    """matplotlib's pyplot on the Agg backend, imported only when a figure is drawn (a rebuild
    that copies every figure does not pay for the import)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _draw_all(jobs: list[dict]) -> list[list[Path]]:
    """Draw every plot: in 2 worker processes when there are many (a first build), else here."""
    import os

    if jobs:
        _pyplot()  # before the workers fork: they start with it imported

    workers = min(2, os.cpu_count() or 1)
    if workers < 2 or len(jobs) < PARALLEL_MIN_PLOTS:
        return [_draw_forest(job) for job in jobs]
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    # fork where there is one: the workers start at once, with everything already imported.
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        return list(pool.map(_draw_forest, jobs, chunksize=1))


def forest_plots(tables, folder: Path, results: pd.DataFrame | None = None, certainty: pd.DataFrame | None = None,
                 reuse: Path | None = None) -> list[Path]:
    """A forest plot for every analysis of the analysis plan with at least 2 studies (overall, by
    disease and by target for safety; per disease for efficacy): each study (label, events/n,
    REML weight, timepoint, exact 95 % CI), the pooled diamond with k, I^2, tau^2, the method and
    its certainty, and a caption with the package and analysis-plan versions. Plots whose inputs
    did not change since the build in ``reuse`` are copied; the others are drawn, in 2 worker
    processes when there are many (:func:`_draw_all`)."""
    from carte_evidence import __version__
    from carte_evidence.analysis.results import plan_results
    from carte_evidence.analysis.summary import analysis_rows, study_labels
    from carte_evidence.analysis.stats import logit_effects

    results = results if results is not None else plan_results(tables)
    if certainty is None:
        from carte_evidence.analysis.grading import evidence_certainty

        certainty = evidence_certainty(tables, results=results)
    cert = certainty.set_index("analysis_id")["certainty"]
    names, labels = _names(tables), drawable_labels(study_labels(tables))
    rows = {"incidence": shared.split(analysis_rows(tables, "ae"), ["event", "grade"])}
    windows = {}
    written = []
    import json

    previous = json.loads((reuse / "figures.json").read_text()) if reuse is not None and (reuse / "figures.json").is_file() else {}
    manifest = {}
    jobs = []  # the plots to draw (not copied from the earlier build)
    shown = results[(results["k"] >= 2) & results["grouping"].isin(["overall", "disease", "target"])]
    for result in shown.to_dict("records"):
        if result["question"] == "incidence":
            sub = rows["incidence"](result["event"], result["grade"])
        else:
            window = result["analysis_id"].split("@")[1]
            if window not in windows:
                from carte_evidence.analysis.plan import load_plan

                months = load_plan()["efficacy"]["windows"][window].get("months")
                windows[window] = shared.split(analysis_rows(tables, "outcome", timepoint=months), ["measure", "disease_id"])
            sub = windows[window](result["measure"], result["disease_id"])
        studies = str(result["study_ids"]).split()
        sub = sub[sub["study_id"].isin(studies) & (sub["n_evaluable"] > 0)].drop_duplicates("study_id").sort_values("study_id")
        if len(sub) < 2:
            continue
        key = f"{result['analysis_id']}|{result['grouping']}|{result['group']}"
        stem = "forest-" + _slug(result["analysis_id"].replace("@", "-"), result["grouping"], result["group"])
        when = sub["timepoint_months"] if "timepoint_months" in sub else pd.Series(pd.NA, index=sub.index)
        fingerprint = _fingerprint(__version__, result, cert.get(key), [labels.get(x, x) for x in sub["study_id"]],
                                   sub[["study_id", "n_events", "n_evaluable"]].astype(str).values.tolist(), when.astype(str).tolist())
        manifest[stem] = fingerprint
        copied = _reused(reuse, previous, folder, stem, fingerprint)
        if copied:
            written += copied
            continue
        _, vi = logit_effects(sub["n_events"].to_numpy(float), sub["n_evaluable"].to_numpy(float))
        tau2 = result["reml_tau2"] if pd.notna(result.get("reml_tau2")) else 0.0
        weight = (1 / (vi + tau2)) / (1 / (vi + tau2)).sum()
        ticks = [f"{labels.get(s, s)}  {int(e)}/{int(n)}  w {w:.0%}" + (f"  {t:g} mo" if pd.notna(t) else "")
                 for s, e, n, w, t in zip(sub["study_id"], sub["n_events"], sub["n_evaluable"], weight, when)]
        certainty_word = cert.get(key, "not rated")
        diamond = None
        if pd.notna(result.get("estimate")):
            lo, est, hi = result["ci_lower"], result["estimate"], result["ci_upper"]
            diamond = (lo, est, hi)
            pooled = f"{result['method']} {est:.0%} ({lo:.0%}-{hi:.0%}), {int(result['events'])}/{int(result['n'])}"
        else:
            pooled = "no pooled estimate"
        stats_line = f"k = {int(result['k'])}; I2 {result['i2']:.0f}%; tau2 {result['tau2']:.2f}; certainty {certainty_word}" if pd.notna(result.get("i2")) else f"k = {int(result['k'])}; certainty {certainty_word}"
        if result.get("flag"):
            stats_line += f"; {result['flag']}"
        note = f"; {result['note']}" if isinstance(result.get("note"), str) and result["note"] else ""
        jobs.append({
            "folder": folder, "stem": stem, "proportion": sub["proportion"].to_numpy(float), "ci_lower": sub["ci_lower"].to_numpy(float),
            "ci_upper": sub["ci_upper"].to_numpy(float), "labels": ticks + [pooled, stats_line], "diamond": diamond,
            "title": forest_title(result, names), "caption": f"carte-evidence {__version__}, analysis plan {result['plan_version']}{note}"[:180],
        })
        written.append(stem)  # drawn below, in this order
    drawn = dict(zip((job["stem"] for job in jobs), _draw_all(jobs)))
    written = [p for item in written for p in (drawn[item] if isinstance(item, str) else [item])]
    (folder / "figures.json").write_text(json.dumps(manifest, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return written + [folder / "figures.json"]


def _fingerprinted(stem: str, folder: Path, inputs: list, reuse: Path | None, previous: dict | None, manifest: dict | None) -> list[Path] | None:
    """Record the fingerprint of a figure's ``inputs`` in ``manifest``; copy the figure from
    ``reuse`` when ``previous`` holds the same fingerprint (None: draw it)."""
    from importlib.metadata import version

    from carte_evidence import __version__

    # matplotlib's version from its installed metadata: importing it costs more than the copy.
    fingerprint = _fingerprint(__version__, version("matplotlib"), *inputs)
    if manifest is not None:
        manifest[stem] = fingerprint
    return _reused(reuse, previous or {}, folder, stem, fingerprint)


def evidence_map(tables, folder: Path, reuse: Path | None = None, previous: dict | None = None, manifest: dict | None = None) -> list[Path]:
    """Disease x target bubbles: size = patients, colour = best study grade (copied from ``reuse``
    when ``previous`` holds the fingerprint of the same inputs; ``manifest`` receives it)."""
    from carte_evidence.analysis.grading import study_grades
    from carte_evidence.analysis.summary import arm_context

    arms = arm_context(tables)
    arms = arms[arms["arm_scope"].isna() & (arms["indication"] != "oncologic") & ~arms["overlap_status"].isin(NOT_COUNTED).fillna(False)]
    arms["targets"] = arms["targets"].fillna("(unknown)")
    grades = study_grades(tables).set_index("study_id")["study_grade"]
    arms["grade"] = arms["study_id"].map(grades)
    cells = arms.groupby(["disease_id", "targets"]).agg(patients=("n_treated", lambda s: s.sum(min_count=1)), best=("grade", "min")).reset_index()
    diseases = sorted(cells["disease_id"].unique())
    targets = sorted(cells["targets"].unique())
    disease_names = _names(tables)["disease"]
    copied = _fingerprinted("evidence-map", folder, [list(cells.columns), cells.astype(str).values.tolist(), diseases, targets,
                                                      [disease_names.get(d, d) for d in diseases]], reuse, previous, manifest)
    if copied:
        return copied
    plt = _pyplot()
    colours = {"A": "tab:green", "B": "tab:blue", "C": "tab:orange", "D": "tab:red"}
    fig, ax = plt.subplots(figsize=(1.6 + 1.1 * len(targets), 1 + 0.35 * len(diseases)))
    for grade_letter, colour in colours.items():
        sel = cells[cells["best"] == grade_letter]
        ax.scatter(sel["targets"].map(targets.index), sel["disease_id"].map(diseases.index), s=20 + 6 * sel["patients"].fillna(1).astype(float), c=colour, alpha=0.7, label=f"best grade {grade_letter}")
    for _, row in cells.iterrows():
        ax.annotate(f"{int(row['patients']) if pd.notna(row['patients']) else '?'}", (targets.index(row["targets"]), diseases.index(row["disease_id"])), ha="center", va="center", fontsize=7)
    ax.set_xticks(range(len(targets)), targets, rotation=30, ha="right")
    ax.set_yticks(range(len(diseases)), [disease_names.get(d, d) for d in diseases])
    ax.set_xlim(-0.7, len(targets) - 0.3)
    ax.set_title("Evidence map: patients treated (bubble size) and best study grade (colour)", fontsize=10)
    legend = ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=8)
    for handle in legend.legend_handles:
        handle.set_sizes([40])
    paths = _save(fig, folder, "evidence-map")
    plt.close(fig)
    return paths


def trials_per_year(tables, folder: Path, reuse: Path | None = None, previous: dict | None = None, manifest: dict | None = None) -> list[Path]:
    """Registered trials started per year, stacked by target (copied as in :func:`evidence_map`)."""
    trials = tables["trials"].assign(start_year=tables["trials"]["start_date"].str.slice(0, 4), targets=tables["trials"]["targets"].fillna("(unknown)"))
    trials = trials.dropna(subset=["start_year"])
    table = trials.groupby(["start_year", "targets"]).size().unstack(fill_value=0).sort_index()
    copied = _fingerprinted("trials-per-year-by-target", folder, [table.to_csv()], reuse, previous, manifest)
    if copied:
        return copied
    plt = _pyplot()
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


def write_figures(tables, folder: Path, results: pd.DataFrame | None = None, certainty: pd.DataFrame | None = None,
                  reuse: Path | None = None, previous: dict | None = None, manifest: dict | None = None) -> list[Path]:
    """Every figure (PNG and SVG) into ``folder``; forest plots whose inputs did not change since
    the build in ``reuse`` (its figures.json holds a hash of each plot's inputs) are copied. The
    evidence map and the timeline are copied too when ``previous`` (the earlier build's
    fingerprints, kept outside figures/) holds theirs; ``manifest`` receives their fingerprints."""
    with shared.over(tables):
        written = forest_plots(tables, folder, results, certainty, reuse) + evidence_map(tables, folder, reuse, previous, manifest)
        if "trials" in tables:
            written += trials_per_year(tables, folder, reuse, previous, manifest)
    return written
