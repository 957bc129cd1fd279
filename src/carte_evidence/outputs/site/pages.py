"""What each page of the site shows, as plain dicts and lists (no HTML here)."""

from __future__ import annotations

import re

import pandas as pd

from carte_evidence.analysis.stats import clopper_pearson
from carte_evidence.outputs.site.figures import alt_text, forest_svg
from carte_evidence.outputs.site.links import publication_links, registry_url
from carte_evidence.outputs.site.sentences import headline_sentences, load_sentences, unknown_sentences

# Columns of the home page's headline table, in order.
HEADLINE_COLUMNS = ["efficacy", "crs_any", "crs_ge3", "icans_any", "icans_ge3", "severe_infection", "death"]


def page_name(identifier: str) -> str:
    """A file name for an id (ids are slugs already; anything else is replaced)."""
    return re.sub(r"[^A-Za-z0-9._-]+", "-", str(identifier)).strip("-") + ".html"


def text(value) -> str:
    """A cell as text; missing values are ""."""
    if value is None:
        return ""
    try:
        if pd.isna(value):
            return ""
    except (TypeError, ValueError):
        pass
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def records(frame: pd.DataFrame) -> list[dict]:
    """Rows as dicts of text (missing -> "")."""
    return [{k: text(v) for k, v in row.items()} for row in frame.to_dict("records")]


def _count(events, n) -> str:
    return f"{int(events)}/{int(n)}" if text(n) else ""


def headline_cell(row: dict) -> dict:
    """One cell of a headline table: text, and whether it is a simple count (note set)."""
    k = int(row["k"]) if text(row.get("k")) else 0
    if not k or not text(row.get("n")) or int(row["n"]) == 0:
        return {"text": "no data", "imprecise": False, "empty": True}
    est = row.get("estimate")
    shown = f"{float(est):.0%}" if text(est) else "n/a"
    ci = f" ({float(row['ci_low']):.0%}-{float(row['ci_high']):.0%})" if text(row.get("ci_low")) and text(row.get("ci_high")) else ""
    measure = f"{text(row.get('measure_label'))}: " if row.get("analysis") == "efficacy" and text(row.get("measure_label")) else ""
    return {
        "text": f"{measure}{_count(row['events'], row['n'])} · {shown}{ci}", "imprecise": bool(text(row.get("note"))),
        "note": text(row.get("note")), "studies": k, "certainty": text(row.get("certainty")), "empty": False,
    }


class SiteData:
    """Everything the pages need, computed once from the tables."""

    def __init__(self, tables: dict[str, pd.DataFrame], headline: pd.DataFrame):
        from carte_evidence.analysis.grading import load_rubric, study_facts, study_grades
        from carte_evidence.analysis.summary import analysis_rows, counts
        from carte_evidence.analysis.trials import trials_with_links

        self.tables = tables
        self.words = load_sentences()
        self.headline = headline
        self.rubric = load_rubric()
        self.facts = study_facts(tables)
        self.grades = study_grades(tables, self.rubric).set_index("study_id")
        self.outcome_rows = analysis_rows(tables, "outcome")
        self.ae_rows = analysis_rows(tables, "ae")
        self.trials = trials_with_links(tables) if "trials" in tables else pd.DataFrame(columns=["trial_id"])
        self.counts_by_disease = counts(tables, "disease").set_index("disease")
        self.counts_by_indication = counts(tables, "indication").set_index("indication")
        self.studies = tables["studies"].set_index("study_id", drop=False)
        self.pubs = tables["publications"].set_index("publication_id", drop=False)
        self.products = tables["products"].set_index("product_id", drop=False)
        self.diseases = tables["diseases"].set_index("disease_id", drop=False)
        self.measures = tables["measures"].set_index("measure_id")
        self.events = tables["events"].set_index("event_id")
        self.registries = tables["registries"] if "registries" in tables else pd.DataFrame(columns=["id_pattern", "url_template"])
        self.study_label = self._study_labels()

    # ---- shared pieces --------------------------------------------------------------------------

    def _study_labels(self) -> dict[str, str]:
        """Short label of each study: first author and year of its primary report."""
        out = {}
        for sid, prim in self.studies["primary_publication_id"].items():
            pub = self.pubs.loc[prim] if text(prim) and prim in self.pubs.index else None
            author = text(pub["first_author"]) if pub is not None else ""
            out[sid] = f"{author} {text(pub['year'])}".strip() if author else sid
        return out

    def study_ref(self, sid: str) -> dict:
        return {"id": sid, "label": self.study_label.get(sid, sid), "name": text(self.studies.loc[sid, "name"]) if sid in self.studies.index else sid, "href": f"study/{page_name(sid)}"}

    def disease_name(self, did: str) -> str:
        return text(self.diseases.loc[did, "name"]) if did in self.diseases.index else did

    def trial_url(self, trial: dict) -> str:
        return text(trial.get("url")) or registry_url(trial["trial_id"], self.registries)

    def trial_record(self, trial: dict) -> dict:
        diseases = text(trial.get("disease_ids")).split()
        return {
            **{k: text(v) for k, v in trial.items()},
            "href": self.trial_url(trial),
            "diseases": [{"id": d, "name": self.disease_name(d), "href": f"disease/{page_name(d)}"} for d in diseases if d in self.diseases.index],
            "disease_ids": " ".join(diseases),
            "start_year": text(trial.get("start_date"))[:4],
            "studies": [self.study_ref(s) for s in text(trial.get("study_ids")).split() if s in self.studies.index],
            "product_href": f"products.html#product-{text(trial.get('product_id'))}" if text(trial.get("product_id")) in self.products.index else "",
        }

    # ---- home -----------------------------------------------------------------------------------

    def evidence_counts(self) -> dict:
        studies = self.tables["studies"]
        auto = self.counts_by_indication.loc["autoimmune"] if "autoimmune" in self.counts_by_indication.index else None
        return {
            "publications": len(self.tables["publications"]),
            "studies": len(studies),
            "studies_autoimmune": int((studies["indication"] == "autoimmune").fillna(False).sum()),
            "patients": int(auto["patients"]) if auto is not None else 0,
            "trials": len(self.trials),
            "products": len(self.products),
            "diseases_with_studies": int((self.counts_by_disease["studies"] > 0).sum()),
        }

    def headline_table(self) -> dict:
        """Rows: "all" first, then diseases with any data, by patients; cells keyed by analysis."""
        labels = {}
        rows = {}
        for row in self.headline.to_dict("records"):
            # efficacy is each disease's own main measure: a generic header, the measure in the cell
            labels.setdefault(row["analysis"], "Remission or response (main measure)" if row["analysis"] == "efficacy" else text(row["label"]))
            entry = rows.setdefault(row["disease_id"], {"id": row["disease_id"], "name": text(row["disease"]), "cells": {}, "patients": 0})
            entry["cells"][row["analysis"]] = headline_cell(row)
            if row["analysis"] == "efficacy" and text(row.get("patients")):
                entry["patients"] = int(row["patients"])
        columns = [a for a in HEADLINE_COLUMNS if a in labels] + [a for a in labels if a not in HEADLINE_COLUMNS]
        body = [r for r in rows.values() if any(not c["empty"] for c in r["cells"].values())]
        for r in body:
            r["href"] = "" if r["id"] == "all" or r["id"] not in self.diseases.index else f"disease/{page_name(r['id'])}"
        body.sort(key=lambda r: (r["id"] != "all", -r["patients"], r["name"]))
        return {"columns": [{"id": a, "label": labels[a]} for a in columns], "rows": body}

    # ---- diseases -------------------------------------------------------------------------------

    def disease_list(self) -> list[dict]:
        out = []
        trial_diseases = self.trials.get("disease_ids", pd.Series(dtype="string")).fillna("").str.split()
        for did, d in self.diseases.iterrows():
            c = self.counts_by_disease.loc[did] if did in self.counts_by_disease.index else None
            out.append({
                "id": did, "name": text(d["name"]), "area": text(d["disease_area"]), "href": f"disease/{page_name(did)}",
                "studies": int(c["studies"]) if c is not None else 0, "patients": int(c["patients"]) if c is not None else 0,
                "trials": int(trial_diseases.map(lambda ids, did=did: did in ids).sum()),
            })
        return sorted(out, key=lambda r: (-r["patients"], -r["studies"], r["name"]))

    def _forest_rows(self, sub: pd.DataFrame) -> list[dict]:
        per = sub.groupby("study_id", sort=True).agg(events=("n_events", "sum"), n=("n_evaluable", "sum")).reset_index()
        lo, hi = clopper_pearson(per["events"].to_numpy(float), per["n"].to_numpy(float))
        return [
            {**self.study_ref(r.study_id), "events": int(r.events), "n": int(r.n), "ci_low": float(a), "ci_high": float(b)}
            for r, a, b in zip(per.itertuples(), lo, hi)
        ]

    def disease_figures(self, did: str) -> list[dict]:
        """One forest plot per binary outcome measure and per adverse event x grade with data."""
        figures = []
        out = self.outcome_rows[(self.outcome_rows["disease_id"] == did) & (self.outcome_rows["n_evaluable"] > 0)]
        ranks = self.measures["headline_rank"].astype("Float64").fillna(999)
        for measure in sorted(out["measure"].unique(), key=lambda m: (ranks.get(m, 999), m)):
            name = text(self.measures.loc[measure, "name"]) if measure in self.measures.index else measure
            figures.append(("outcome", measure, name, out[out["measure"] == measure]))
        ae = self.ae_rows[(self.ae_rows["disease_id"] == did) & (self.ae_rows["n_evaluable"] > 0)]
        for (event, grade), sub in ae.groupby(["event", "grade"], sort=True):
            name = text(self.events.loc[event, "name"]) if event in self.events.index else event
            grade_words = "any grade" if grade == "any" else f"grade {grade}".replace(">=", "≥ ")
            figures.append(("ae", f"{event}-{grade}", f"{name}, {grade_words}", sub))
        result = []
        for i, (kind, key, title, sub) in enumerate(figures):
            rows = self._forest_rows(sub)
            fig_id = f"fig-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}-{i}"
            result.append({"id": fig_id, "kind": kind, "title": title, "rows": rows, "svg": forest_svg(fig_id, title, rows), "alt": alt_text(title, rows)})
        return result

    def disease_page(self, did: str) -> dict:
        d = self.diseases.loc[did]
        name = text(d["name"])
        arms = self.tables["arms"]
        sids = sorted(set(arms.loc[arms["disease_id"] == did, "study_id"]))
        studies = []
        for sid in sids:
            s = self.studies.loc[sid]
            sub = arms[(arms["study_id"] == sid) & (arms["disease_id"] == did) & arms["arm_scope"].isna()]
            products = [{"id": p, "name": text(self.products.loc[p, "name"]), "href": f"products.html#product-{p}"} for p in sorted(set(sub["product_id"].dropna())) if p in self.products.index]
            studies.append({
                **self.study_ref(sid), "design": text(s["design"]), "indication": text(s["indication"]), "country": text(s["country"]),
                "patients": text(sub["n_treated"].sum(min_count=1)), "products": products,
                "grade": text(self.grades.loc[sid, "study_grade"]) if sid in self.grades.index else "",
                "overlap": text(s["overlap_status"]),
            })
        hl = self.headline[self.headline["disease_id"] == did]
        summary = []
        for row in hl.to_dict("records"):
            summary.append({"analysis": row["analysis"], "label": text(row["label"]), "sentences": headline_sentences(row, self.words), "cell": headline_cell(row), "row": {k: text(v) for k, v in row.items()}})
        trials = [self.trial_record(t) for t in self.trials.to_dict("records") if did in text(t.get("disease_ids")).split()]
        autoimmune = [s for s in studies if s["indication"] != "oncologic"]
        followups = arms.loc[arms["disease_id"] == did, "followup_months_median"].dropna()
        facts = {
            "disease": name, "studies": len(autoimmune),
            "patients": int(self.counts_by_disease.loc[did, "patients"]) if did in self.counts_by_disease.index else 0,
            "randomized": any(s["design"] == "randomized" for s in studies),
            "followup_months": float(followups.max()) if len(followups) else None,
            "missing": [r["analysis"] for r in summary if r["cell"]["empty"]] if summary else [],
            "trials_pending": sum(1 for t in trials if not t["studies"]),
        }
        return {
            "id": did, "name": name, "area": text(d["disease_area"]), "icd10": text(d["icd10"]), "notes": text(d["notes"]),
            "summary": summary, "figures": self.disease_figures(did), "studies": studies, "trials": trials,
            "unknown": unknown_sentences(facts, self.words), "facts": facts,
        }

    # ---- studies --------------------------------------------------------------------------------

    def grade_breakdown(self, sid: str) -> dict:
        """The `carte grade --explain` breakdown of one study, as table rows."""
        g = self.grades.loc[sid]
        rows = []
        for name, domain in self.rubric["study"]["domains"].items():
            value = self.facts.loc[sid, domain["fact"]]
            top = max(domain["map"].values()) if "map" in domain else max(r["points"] for r in domain["thresholds"])
            rows.append({
                "domain": name.replace("_", " "), "fact": domain["fact"], "value": text(value) or "unknown (missing in the data, scores 0)",
                "points": int(g[f"points_{name}"]), "max": top, "framework": text(domain.get("framework")),
            })
        return {"grade": text(g["study_grade"]), "total": int(g["total_points"]), "max": int(g["max_points"]), "rubric": text(g["rubric_version"]),
                "rows": rows, "flags": text(g["flags"]), "missing": text(g["missing_facts"])}

    def study_page(self, sid: str) -> dict:
        s = self.studies.loc[sid]
        pubs = self.tables["publications"]
        reports = []
        for pub in pubs[pubs["study_id"] == sid].sort_values(["year", "publication_id"]).to_dict("records"):
            reports.append({**{k: text(v) for k, v in pub.items()}, "links": publication_links(pub, self.registries), "primary": pub["publication_id"] == s["primary_publication_id"]})
        arms = self.tables["arms"][self.tables["arms"]["study_id"] == sid]
        arm_ids = set(arms["arm_id"])
        product_ids = sorted(set(arms["product_id"].dropna()))
        products = [{**{k: text(v) for k, v in self.products.loc[p].items()}, "href": f"products.html#product-{p}"} for p in product_ids if p in self.products.index]
        arm_records = []
        for arm in records(arms):
            arm["disease_name"] = self.disease_name(arm["disease_id"])
            arm["product_name"] = text(self.products.loc[arm["product_id"], "name"]) if arm["product_id"] in self.products.index else arm["product_id"]
            arm_records.append(arm)
        outcomes = records(self.tables["outcomes"][self.tables["outcomes"]["arm_id"].isin(arm_ids)])
        for o in outcomes:
            o["measure_name"] = text(self.measures.loc[o["measure"], "name"]) if o["measure"] in self.measures.index else o["measure"]
        aes = records(self.tables["adverse_events"][self.tables["adverse_events"]["arm_id"].isin(arm_ids)])
        for a in aes:
            a["event_name"] = text(self.events.loc[a["event"], "name"]) if a["event"] in self.events.index else a["event"]
        overlaps = [self.study_ref(o) for o in text(s["overlaps_with"]).split() if o in self.studies.index]
        registry_id = text(s["registry_id"])
        trials = self.trials[self.trials["trial_id"].isin(registry_id.split())] if registry_id else self.trials.iloc[0:0]
        return {
            **self.study_ref(sid), "study": {k: text(v) for k, v in s.items()}, "reports": reports, "products": products,
            "arms": arm_records, "outcomes": outcomes, "adverse_events": aes, "grade": self.grade_breakdown(sid) if sid in self.grades.index else None,
            "overlaps": overlaps, "registry": [{"id": r, "href": registry_url(r, self.registries)} for r in registry_id.split()],
            "trials": [self.trial_record(t) for t in trials.to_dict("records")],
            "diseases": [{"id": d, "name": self.disease_name(d), "href": f"disease/{page_name(d)}"} for d in sorted(set(arms["disease_id"].dropna()))],
        }

    # ---- products and trials --------------------------------------------------------------------

    def product_list(self) -> list[dict]:
        arms = self.tables["arms"]
        out = []
        for pid, p in self.products.iterrows():
            sids = sorted(set(arms.loc[arms["product_id"] == pid, "study_id"]))
            ntrials = int((self.trials.get("product_id", pd.Series(dtype="string")) == pid).fillna(False).sum())
            out.append({**{k: text(v) for k, v in p.items()}, "studies": [self.study_ref(s) for s in sids], "trials": ntrials})
        return sorted(out, key=lambda r: (r["modality"], r["targets"], r["name"].lower()))

    def trial_list(self) -> list[dict]:
        return [self.trial_record(t) for t in self.trials.sort_values("trial_id").to_dict("records")]

    def search_index(self) -> list[dict]:
        """Entries of the client-side search: title, address, kind and words to match."""
        out = []
        for d in self.disease_list():
            out.append({"t": d["name"], "u": d["href"], "k": "disease", "x": d["id"]})
        for sid, s in self.studies.iterrows():
            pub_words = " ".join(text(v) for v in self.tables["publications"].loc[self.tables["publications"]["study_id"] == sid, ["first_author", "title", "journal", "doi", "pmid"]].to_numpy().ravel())
            out.append({"t": f"{self.study_label[sid]}: {text(s['name'])}", "u": f"study/{page_name(sid)}", "k": "study", "x": f"{sid} {text(s['registry_id'])} {pub_words}"})
        for pid, p in self.products.iterrows():
            out.append({"t": text(p["name"]), "u": f"products.html#product-{pid}", "k": "product", "x": " ".join(text(p[c]) for c in ("product_id", "aliases", "developer", "modality", "targets"))})
        for t in self.trials.to_dict("records"):
            out.append({"t": f"{t['trial_id']}: {text(t.get('title'))}", "u": f"trials.html#trial-{t['trial_id']}", "k": "trial", "x": " ".join(text(t.get(c)) for c in ("sponsor", "product_name", "targets", "disease_ids", "country"))})
        return out

