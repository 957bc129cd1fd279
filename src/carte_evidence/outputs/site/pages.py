"""What each page of the site shows, as plain dicts and lists (no HTML here)."""

from __future__ import annotations

import re

import numpy as np
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


def _missing(value) -> bool:
    return value is None or value is pd.NA or (isinstance(value, float) and value != value)


def _positive(value) -> bool:
    """value > 0, a missing value being False (as a pandas mask treats <NA>)."""
    return not _missing(value) and value > 0


def _index(rows: list[dict], key: str) -> dict[str, dict]:
    """Rows by their id (first wins)."""
    out = {}
    for row in rows:
        out.setdefault(row[key], row)
    return out


def _group(rows: list[dict], key: str) -> dict[str, list[dict]]:
    """Rows by the value of ``key`` (missing values left out), each group in table order."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        if not _missing(row[key]):
            out.setdefault(row[key], []).append(row)
    return out


class _Registries:
    """The registries table as plain lists (what registry_url reads), with its answers remembered."""

    def __init__(self, frame: pd.DataFrame):
        self.columns = {c: frame[c].tolist() for c in ("id_pattern", "url_template")}
        self.urls: dict[str, str] = {}

    def __getitem__(self, column: str) -> list:
        return self.columns[column]

    def url(self, trial_id: str) -> str:
        if trial_id not in self.urls:
            self.urls[trial_id] = registry_url(trial_id, self)
        return self.urls[trial_id]


class SiteData:
    """Everything the pages need, computed once from the tables.

    The tables are turned into plain records (dicts) once, indexed by id and grouped by the keys
    the pages select on: per-row access to pandas' pyarrow-backed columns costs far more than a
    page's worth of rendering.
    """

    def __init__(self, tables: dict[str, pd.DataFrame], headline: pd.DataFrame, grades: pd.DataFrame | None = None):
        from carte_evidence.analysis.grading import load_rubric, study_facts, study_grades
        from carte_evidence.analysis.summary import analysis_rows, counts
        from carte_evidence.analysis.trials import trials_with_links

        self.tables = tables
        self.words = load_sentences()
        self.headline = headline
        self.rubric = load_rubric()
        grades = study_grades(tables, self.rubric) if grades is None else grades
        self.trials = trials_with_links(tables) if "trials" in tables else pd.DataFrame(columns=["trial_id"])
        self.counts_by_disease = counts(tables, "disease").set_index("disease")
        self.counts_by_indication = counts(tables, "indication").set_index("indication")
        self.studies = tables["studies"].set_index("study_id", drop=False)
        self.diseases = tables["diseases"].set_index("disease_id", drop=False)
        self.products = tables["products"].set_index("product_id", drop=False)
        self.registries = _Registries(tables["registries"] if "registries" in tables else pd.DataFrame(columns=["id_pattern", "url_template"]))
        # Plain records, once.
        self.study = _index(tables["studies"].to_dict("records"), "study_id")
        self.disease = _index(tables["diseases"].to_dict("records"), "disease_id")
        self.product = _index(tables["products"].to_dict("records"), "product_id")
        self.pub = _index(tables["publications"].to_dict("records"), "publication_id")
        self.grade = {r["study_id"]: r for r in grades.to_dict("records")}
        self.fact = self._facts(study_facts(tables))
        measures, events = tables["measures"].to_dict("records"), tables["events"].to_dict("records")
        self.measure_name = {m["measure_id"]: text(m["name"]) for m in measures}
        self.measure_rank = {m: float(r) for m, r in tables["measures"].set_index("measure_id")["headline_rank"].astype("Float64").fillna(999).items()}
        self.event_name = {e["event_id"]: text(e["name"]) for e in events}
        self.disease_counts = {d: {"studies": int(c["studies"]), "patients": int(c["patients"])} for d, c in self.counts_by_disease.iterrows()}
        self.arms = tables["arms"].to_dict("records")
        self.arms_by_study = _group(self.arms, "study_id")
        self.arms_by_disease = _group(self.arms, "disease_id")
        self.arms_by_product = _group(self.arms, "product_id")
        arm_study = {a["arm_id"]: a["study_id"] for a in self.arms}
        self.outcomes_by_study = self._by_study(records(tables["outcomes"]), arm_study)
        self.aes_by_study = self._by_study(records(tables["adverse_events"]), arm_study)
        # Sorted once: a study's reports keep this order (publication ids are unique).
        self.pubs_by_study = _group(tables["publications"].sort_values(["year", "publication_id"]).to_dict("records"), "study_id")
        self.pub_words = {sid: " ".join(text(p[c]) for p in rows for c in ("first_author", "title", "journal", "doi", "pmid"))
                          for sid, rows in _group(tables["publications"].to_dict("records"), "study_id").items()}
        self.outcome_rows = _group(analysis_rows(tables, "outcome").to_dict("records"), "disease_id")
        self.ae_rows = _group(analysis_rows(tables, "ae").to_dict("records"), "disease_id")
        self.headline_by_disease = _group(headline.to_dict("records"), "disease_id")
        self.trial_rows = self.trials.to_dict("records")
        for t in self.trial_rows:
            t["_diseases"] = text(t.get("disease_ids")).split()
        self.study_label = self._study_labels()

    @staticmethod
    def _facts(facts: pd.DataFrame) -> dict[str, dict]:
        return {sid: dict(zip(facts.columns, values)) for sid, values in zip(facts.index, facts.itertuples(index=False, name=None))}

    @staticmethod
    def _by_study(rows: list[dict], arm_study: dict[str, str]) -> dict[str, list[dict]]:
        out: dict[str, list[dict]] = {}
        for row in rows:
            sid = arm_study.get(row["arm_id"])
            if sid is not None:
                out.setdefault(sid, []).append(row)
        return out

    # ---- shared pieces --------------------------------------------------------------------------

    def _study_labels(self) -> dict[str, str]:
        """Short label of each study: first author and year of its primary report."""
        out = {}
        for sid, s in self.study.items():
            prim = s["primary_publication_id"]
            pub = self.pub[prim] if text(prim) and prim in self.pub else None
            author = text(pub["first_author"]) if pub is not None else ""
            out[sid] = f"{author} {text(pub['year'])}".strip() if author else sid
        return out

    def study_ref(self, sid: str) -> dict:
        return {"id": sid, "label": self.study_label.get(sid, sid), "name": text(self.study[sid]["name"]) if sid in self.study else sid, "href": f"study/{page_name(sid)}"}

    def disease_name(self, did: str) -> str:
        return text(self.disease[did]["name"]) if did in self.disease else did

    def trial_url(self, trial: dict) -> str:
        return text(trial.get("url")) or self.registries.url(trial["trial_id"])

    def trial_record(self, trial: dict) -> dict:
        diseases = text(trial.get("disease_ids")).split()
        return {
            **{k: text(v) for k, v in trial.items() if k != "_diseases"},
            "href": self.trial_url(trial),
            "diseases": [{"id": d, "name": self.disease_name(d), "href": f"disease/{page_name(d)}"} for d in diseases if d in self.disease],
            "disease_ids": " ".join(diseases),
            "start_year": text(trial.get("start_date"))[:4],
            "studies": [self.study_ref(s) for s in text(trial.get("study_ids")).split() if s in self.study],
            "product_href": f"products.html#product-{text(trial.get('product_id'))}" if text(trial.get("product_id")) in self.product else "",
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
            r["href"] = "" if r["id"] == "all" or r["id"] not in self.disease else f"disease/{page_name(r['id'])}"
        body.sort(key=lambda r: (r["id"] != "all", -r["patients"], r["name"]))
        return {"columns": [{"id": a, "label": labels[a]} for a in columns], "rows": body}

    # ---- diseases -------------------------------------------------------------------------------

    def disease_list(self) -> list[dict]:
        out = []
        for did, d in self.disease.items():
            c = self.disease_counts.get(did)
            out.append({
                "id": did, "name": text(d["name"]), "area": text(d["disease_area"]), "href": f"disease/{page_name(did)}",
                "studies": c["studies"] if c is not None else 0, "patients": c["patients"] if c is not None else 0,
                "trials": sum(1 for t in self.trial_rows if did in t["_diseases"]),
            })
        return sorted(out, key=lambda r: (-r["patients"], -r["studies"], r["name"]))

    def _forest_rows(self, sub: list[dict]) -> list[dict]:
        per: dict[str, list[int]] = {}
        for r in sub:
            if _missing(r["study_id"]):
                continue
            sums = per.setdefault(r["study_id"], [0, 0])
            sums[0] += 0 if _missing(r["n_events"]) else r["n_events"]
            sums[1] += 0 if _missing(r["n_evaluable"]) else r["n_evaluable"]
        sids = sorted(per)
        lo, hi = clopper_pearson(np.array([per[s][0] for s in sids], dtype=float), np.array([per[s][1] for s in sids], dtype=float))
        return [
            {**self.study_ref(s), "events": int(per[s][0]), "n": int(per[s][1]), "ci_low": float(a), "ci_high": float(b)}
            for s, a, b in zip(sids, lo, hi)
        ]

    def disease_figures(self, did: str) -> list[dict]:
        """One forest plot per binary outcome measure and per adverse event x grade with data."""
        figures = []
        out = [r for r in self.outcome_rows.get(did, []) if _positive(r["n_evaluable"])]
        measures = list(dict.fromkeys(r["measure"] for r in out))
        for measure in sorted(measures, key=lambda m: (self.measure_rank.get(m, 999), m)):
            name = self.measure_name.get(measure, measure)
            figures.append(("outcome", measure, name, [r for r in out if r["measure"] == measure]))
        ae: dict[tuple, list[dict]] = {}
        for r in self.ae_rows.get(did, []):
            if _positive(r["n_evaluable"]) and not _missing(r["event"]) and not _missing(r["grade"]):
                ae.setdefault((r["event"], r["grade"]), []).append(r)
        for (event, grade) in sorted(ae):
            name = self.event_name.get(event, event)
            grade_words = "any grade" if grade == "any" else f"grade {grade}".replace(">=", "≥ ")
            figures.append(("ae", f"{event}-{grade}", f"{name}, {grade_words}", ae[(event, grade)]))
        result = []
        for i, (kind, key, title, sub) in enumerate(figures):
            rows = self._forest_rows(sub)
            fig_id = f"fig-{re.sub(r'[^a-z0-9]+', '-', key.lower()).strip('-')}-{i}"
            result.append({"id": fig_id, "kind": kind, "title": title, "rows": rows, "svg": forest_svg(fig_id, title, rows), "alt": alt_text(title, rows)})
        return result

    def disease_page(self, did: str) -> dict:
        d = self.disease[did]
        name = text(d["name"])
        arms = self.arms_by_disease.get(did, [])
        sids = sorted({a["study_id"] for a in arms})
        studies = []
        for sid in sids:
            s = self.study[sid]
            sub = [a for a in arms if a["study_id"] == sid and _missing(a["arm_scope"])]
            products = [{"id": p, "name": text(self.product[p]["name"]), "href": f"products.html#product-{p}"}
                        for p in sorted({a["product_id"] for a in sub if not _missing(a["product_id"])}) if p in self.product]
            treated = [a["n_treated"] for a in sub if not _missing(a["n_treated"])]
            studies.append({
                **self.study_ref(sid), "design": text(s["design"]), "indication": text(s["indication"]), "country": text(s["country"]),
                "patients": text(sum(treated)) if treated else "", "products": products,
                "grade": text(self.grade[sid].get("study_grade_display") or self.grade[sid]["study_grade"]) if sid in self.grade else "",
                "overlap": text(s["overlap_status"]),
            })
        summary = []
        for row in self.headline_by_disease.get(did, []):
            summary.append({"analysis": row["analysis"], "label": text(row["label"]), "sentences": headline_sentences(row, self.words), "cell": headline_cell(row), "row": {k: text(v) for k, v in row.items()}})
        trials = [self.trial_record(t) for t in self.trial_rows if did in t["_diseases"]]
        autoimmune = [s for s in studies if s["indication"] != "oncologic"]
        followups = [a["followup_months_median"] for a in arms if not _missing(a["followup_months_median"])]
        facts = {
            "disease": name, "studies": len(autoimmune),
            "patients": self.disease_counts[did]["patients"] if did in self.disease_counts else 0,
            "randomized": any(s["design"] == "randomized" for s in studies),
            "followup_months": float(max(followups)) if followups else None,
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
        g = self.grade[sid]
        rows = []
        for name, domain in self.rubric["study"]["domains"].items():
            value = self.fact[sid][domain["fact"]]
            top = max(domain["map"].values()) if "map" in domain else max(r["points"] for r in domain["thresholds"])
            rows.append({
                "domain": name.replace("_", " "), "fact": domain["fact"], "value": text(value) or "unknown (missing in the data, scores 0)",
                "points": int(g[f"points_{name}"]), "max": top, "framework": text(domain.get("framework")),
            })
        return {"grade": text(g.get("study_grade_display") or g["study_grade"]), "total": int(g["total_points"]), "max": int(g["max_points"]), "rubric": text(g["rubric_version"]),
                "rows": rows, "flags": text(g["flags"]), "missing": text(g["missing_facts"])}

    def study_page(self, sid: str) -> dict:
        s = self.study[sid]
        reports = []
        for pub in self.pubs_by_study.get(sid, []):
            reports.append({**{k: text(v) for k, v in pub.items()}, "links": publication_links(pub, self.registries), "primary": pub["publication_id"] == s["primary_publication_id"]})
        arms = self.arms_by_study.get(sid, [])
        product_ids = sorted({a["product_id"] for a in arms if not _missing(a["product_id"])})
        products = [{**{k: text(v) for k, v in self.product[p].items()}, "href": f"products.html#product-{p}"} for p in product_ids if p in self.product]
        arm_records = []
        for arm in arms:
            arm = {k: text(v) for k, v in arm.items()}
            arm["disease_name"] = self.disease_name(arm["disease_id"])
            arm["product_name"] = text(self.product[arm["product_id"]]["name"]) if arm["product_id"] in self.product else arm["product_id"]
            arm_records.append(arm)
        outcomes = [dict(o) for o in self.outcomes_by_study.get(sid, [])]
        for o in outcomes:
            o["measure_name"] = self.measure_name.get(o["measure"], o["measure"])
        aes = [dict(a) for a in self.aes_by_study.get(sid, [])]
        for a in aes:
            a["event_name"] = self.event_name.get(a["event"], a["event"])
        overlaps = [self.study_ref(o) for o in text(s["overlaps_with"]).split() if o in self.study]
        registry_ids = text(s["registry_id"]).split()
        trials = [t for t in self.trial_rows if t["trial_id"] in registry_ids]
        return {
            **self.study_ref(sid), "study": {k: text(v) for k, v in s.items()}, "reports": reports, "products": products,
            "arms": arm_records, "outcomes": outcomes, "adverse_events": aes, "grade": self.grade_breakdown(sid) if sid in self.grade else None,
            "overlaps": overlaps, "registry": [{"id": r, "href": self.registries.url(r)} for r in registry_ids],
            "trials": [self.trial_record(t) for t in trials],
            "diseases": [{"id": d, "name": self.disease_name(d), "href": f"disease/{page_name(d)}"} for d in sorted({a["disease_id"] for a in arms if not _missing(a["disease_id"])})],
        }

    # ---- products and trials --------------------------------------------------------------------

    def product_list(self) -> list[dict]:
        out = []
        for pid, p in self.product.items():
            sids = sorted({a["study_id"] for a in self.arms_by_product.get(pid, [])})
            ntrials = sum(1 for t in self.trial_rows if not _missing(t.get("product_id")) and t["product_id"] == pid)
            out.append({**{k: text(v) for k, v in p.items()}, "studies": [self.study_ref(s) for s in sids], "trials": ntrials})
        return sorted(out, key=lambda r: (r["modality"], r["targets"], r["name"].lower()))

    def trial_list(self) -> list[dict]:
        return [self.trial_record(t) for t in sorted(self.trial_rows, key=lambda t: t["trial_id"])]

    def search_index(self) -> list[dict]:
        """Entries of the client-side search: title, address, kind and words to match."""
        out = []
        for d in self.disease_list():
            out.append({"t": d["name"], "u": d["href"], "k": "disease", "x": d["id"]})
        for sid, s in self.study.items():
            out.append({"t": f"{self.study_label[sid]}: {text(s['name'])}", "u": f"study/{page_name(sid)}", "k": "study", "x": f"{sid} {text(s['registry_id'])} {self.pub_words.get(sid, '')}"})
        for pid, p in self.product.items():
            out.append({"t": text(p["name"]), "u": f"products.html#product-{pid}", "k": "product", "x": " ".join(text(p[c]) for c in ("product_id", "aliases", "developer", "modality", "targets"))})
        for t in self.trial_rows:
            out.append({"t": f"{t['trial_id']}: {text(t.get('title'))}", "u": f"trials.html#trial-{t['trial_id']}", "k": "trial", "x": " ".join(text(t.get(c)) for c in ("sponsor", "product_name", "targets", "disease_ids", "country"))})
        return out
