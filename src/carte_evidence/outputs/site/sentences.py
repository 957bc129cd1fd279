"""Plain-language sentences from the headline table; the wording lives in sentences.yaml."""

from __future__ import annotations

import math
from pathlib import Path

from carte_evidence.package.schema import read_yaml

SENTENCES = Path(__file__).with_name("sentences.yaml")


def load_sentences(path: str | Path = SENTENCES) -> dict:
    """The sentence templates (default: sentences.yaml beside this module; cached: do not mutate)."""
    return read_yaml(path)


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value) in ("", "<NA>", "nan")


def _text(value) -> str:
    return "" if _missing(value) else str(value).strip()


def proportion_words(p: float, words: dict | None = None) -> str:
    """0.7 -> "about 7 in 10"; 0 -> "none"; 1 -> "all"; very small or very large said plainly."""
    words = (words or load_sentences())["proportion"]
    if p <= 0:
        return words["none"]
    if p >= 1:
        return words["all"]
    if p < 0.05:
        return words["fewer_than_1_in_20"]
    if p > 0.95:
        return words["almost_all"]
    return words["about_in_10"].format(tens=max(1, min(9, round(p * 10))))


def count_words(n: int, key: str, words: dict) -> str:
    return words[key]["one" if int(n) == 1 else "many"].format(n=int(n))


def certainty_sentence(row: dict, words: dict | None = None) -> str:
    """"The certainty of this is low (...), because <reasons>." """
    words = words or load_sentences()
    level = _text(row.get("certainty")) or "very low"
    meaning = words["certainty"]["meaning"].get(level, level)
    reasons = _text(row.get("reasons")).rstrip(".")
    key = "with_reasons" if reasons else "without_reasons"
    return words["certainty"][key].format(certainty=meaning, reasons=reasons)


def headline_sentences(row: dict, words: dict | None = None) -> list[str]:
    """The sentences for one headline row (one disease x analysis): the number, then its certainty.

    A row whose ``note`` is not empty (too few studies, a degenerate fit, ...) is told as a simple
    count, never as a pooled estimate.
    """
    words = words or load_sentences()
    analysis = _text(row.get("analysis"))
    kind = "efficacy" if analysis == "efficacy" else "safety"
    t = words[kind]
    k = 0 if _missing(row.get("k")) else int(row["k"])
    n = 0 if _missing(row.get("n")) else int(row["n"])
    events = 0 if _missing(row.get("events")) else int(row["events"])
    fields = {
        "disease": _text(row.get("disease")),
        "plain": words["plain_names"].get(analysis, _text(row.get("label")).lower()),
        "studies": count_words(k, "studies", words),
        # the people this number is about (n), not everyone treated for the disease (patients)
        "people": count_words(n, "people", words),
        "events": events,
        "n": n,
        "note": _text(row.get("note")),
        "when": words["when"]["timepoint"].format(timepoint=_text(row["timepoint"])) if _text(row.get("timepoint")) else "",
        "measure": words["when"]["measure"].format(measure_label=_text(row["measure_label"])) if _text(row.get("measure_label")) else "",
    }
    if k == 0 or n == 0:
        return [t["no_data"].format(**fields)]
    estimate = row.get("estimate")
    crude = events / n
    if kind == "safety" and events == 0:
        out = [t["no_events"].format(**fields)]
        upper = row.get("ci_high")
        if not _missing(upper):
            out.append(t["no_events_caveat"].format(upper=max(1, round(float(upper) * 100))))
    elif k == 1:
        out = [t["one_study"].format(**fields, share=proportion_words(crude, words))]
    elif fields["note"] or _missing(estimate):
        fields["note"] = fields["note"] or "no estimate"
        out = [t["not_precise"].format(**fields)]
    else:
        out = [t["pooled"].format(**fields, share=proportion_words(float(estimate), words))]
    return out + [certainty_sentence(row, words)]


def unknown_sentences(facts: dict, words: dict | None = None) -> list[str]:
    """"What is not known yet" for one disease, from facts gathered by the page builder:
    disease, studies, patients, randomized, followup_months, missing (analysis ids), trials_pending."""
    words = words or load_sentences()
    t = words["unknown"]
    if not facts["studies"]:
        out = [t["no_studies"].format(disease=facts["disease"])]
    else:
        out = []
        if not facts["randomized"]:
            out.append(t["no_comparison"])
        months = facts.get("followup_months")
        out.append(t["followup"].format(months=f"{months:g}") if months else t["no_followup"])
        out += [t["missing"].format(plain=words["plain_names"].get(a, a)) for a in facts.get("missing", [])]
        if facts["patients"] and facts["patients"] < 20:
            out.append(t["few_people"].format(people=count_words(facts["patients"], "people", words)))
    pending = facts.get("trials_pending", 0)
    if pending:
        out.append(t["trials_pending"].format(trials=pending, trials_word="trial" if pending == 1 else "trials", verb="is" if pending == 1 else "are", disease=facts["disease"]))
    return out
