"""Cross-field and cross-table rules, as pandera checks.

Single-field rules (types, required, enums, patterns, ranges, uniqueness) are derived from
the Table Schema in :mod:`carte_evidence.package.schema`; only the rules that relate several
fields or tables are written here. Each rule is evaluated once over whole columns (pyarrow
compute on dictionary-encoded ids, numpy on numbers) into a mask of the rows that pass; a
pandera check named after the rule, attached to the column whose value is reported, hands the
failing rows to pandera's report. A rule that no row breaks adds no check at all, so a valid
package costs pandera nothing here.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from typing import Any, Callable

import numpy as np
import pandas as pd

# rule name -> (message, hint). The name is the pandera check name.
RULES: dict[str, tuple[str, str]] = {
    "foreign-key": ("no {ref} has this value", "use an existing {ref}, or add that row first"),
    "supersedes-same-study": ("supersedes a publication of another study", "a later report can only supersede an earlier report of the same cohort"),
    "supersedes-cycle": ("the supersedes chain loops back on itself", "each report points to an earlier one; break the cycle"),
    "supersedes-self": ("a publication cannot supersede itself", "point to the earlier report"),
    "not-in-future": ("is in the future", "check the date"),
    "primary-publication-of-study": ("the primary publication belongs to another study", "choose a publication whose study_id is this study"),
    "publication-of-study": ("the publication does not report this arm's study", "cite a publication whose study_id is the arm's study"),
    "events-le-evaluable": ("n_events is larger than n_evaluable", "the numerator cannot exceed the denominator"),
    "evaluable-le-treated": ("n_evaluable is larger than the arm's n_treated", "check the denominator, or the arm's n_treated from the primary publication"),
    "binary-needs-counts": ("a binary measure needs n_events and n_evaluable", "fill both counts, or use a continuous measure"),
    "continuous-needs-value": ("a continuous measure needs a value", "fill value (and unit, statistic)"),
    "age-range": ("age_min is larger than age_max", "check the range"),
    "formula-prefix": ("text starts with =, +, - or @ and would run as a spreadsheet formula", "rephrase, or put the text in words"),
    "citable": ("the publication has no DOI, PMID, PMCID, registry id or URL", "give at least one identifier of the source read"),
    "registry-format": ("the identifier does not have the form of its registry ({ref})", "write the id exactly as the registry does"),
    "list-foreign-key": ("an item of the list is not a {ref}", "use ids of that table, separated by single spaces"),
    "mixed-arm-scope": ("a mixed-disease arm beside per-disease arms of the same study must be arm_scope 'pooled'", "set arm_scope = pooled, or split the arm by disease"),
    "female-le-treated": ("n_female is larger than n_treated", "check the counts"),
    "overlap-symmetric": ("a study listed here does not list this study back in its overlaps_with", "add this study's id to the other study's overlaps_with (overlap goes both ways)"),
}


def _check(name: str, fn: Callable[[pd.Series], Any], ref: str = ""):
    """A pandera check named '<rule>' or '<rule>:<ref>' (see :func:`describe_rule`)."""
    from carte_evidence.package.schema import pandera

    pa = pandera()

    return pa.Check(fn, name=f"{name}:{ref}" if ref else name)


def _failing_rows(rule: str, bad: np.ndarray, index: pd.Index, ref: str = ""):
    """A check of ``rule`` that fails exactly the rows of ``bad`` (worked out beforehand)."""
    ok = pd.Series(~bad, index=index)
    return _check(rule, lambda s, ok=ok: ok.loc[s.index], ref=ref)


def formula_checks(frame: pd.DataFrame) -> dict[str, list]:
    """The formula-prefix check of each text column of ``frame`` where some value starts like a
    formula: the one rule that reads nothing but its cell (a validation that keeps only some
    columns checks the others with it block by block)."""
    out = {}
    for column in _text_columns(frame):
        bad = _starts_like_formula(frame[column])
        if bad.any():
            out[column] = [_failing_rows("formula-prefix", bad, frame.index)]
    return out


def describe_rule(check_name: str) -> tuple[str, str, str] | None:
    """(rule, message, hint) of one of our check names, or None for pandera's own checks."""
    rule, _, ref = check_name.partition(":")
    if rule not in RULES:
        return None
    message, hint = RULES[rule]
    return rule, message.format(ref=ref), hint.format(ref=ref)


# --- vectorised helpers ------------------------------------------------------------------

def _arrow(column: pd.Series):
    """A string column as one pyarrow large_string array (no copy for pandas' arrow strings of
    one chunk; a column of several chunks is copied into one: see :func:`_chunks`)."""
    import pyarrow as pa

    chunks = _chunks(column)
    return chunks[0] if len(chunks) == 1 else pa.concat_arrays(chunks) if chunks else pa.array([], pa.large_string())


def _chunks(column: pd.Series) -> list:
    """A string column as pyarrow large_string arrays, its chunks (a table read in blocks keeps
    a chunk per block: no copy, where :func:`_arrow` would join them)."""
    import pyarrow as pa

    values = column.array
    data = values.__arrow_array__() if hasattr(values, "__arrow_array__") else pa.array(column.astype(object), from_pandas=True)
    chunks = data.chunks if isinstance(data, pa.ChunkedArray) else [data]
    return [c if pa.types.is_large_string(c.type) else c.cast(pa.large_string()) for c in chunks]


class _Codes:
    """A string column dictionary-encoded once: its distinct values and each row's code (-1 = empty)."""

    def __init__(self, column: pd.Series):
        import pyarrow.compute as pc

        import pyarrow as pa

        chunks = _chunks(column)
        if len(chunks) > 1:
            # Chunk by chunk (no joined copy): the chunks of the result share one dictionary,
            # the last chunk's (checked: otherwise the chunks are joined first).
            encoded = pc.dictionary_encode(pa.chunked_array(chunks, type=pa.large_string())).chunks
            if all(len(c.dictionary) == len(encoded[-1].dictionary) for c in encoded):
                self.values = encoded[-1].dictionary
                self.codes = np.concatenate([pc.fill_null(c.indices, -1).to_numpy() for c in encoded])
                return
        encoded = pc.dictionary_encode(_arrow(column))
        self.values = encoded.dictionary
        self.codes = pc.fill_null(encoded.indices, -1).to_numpy()

    def first_rows(self) -> np.ndarray:
        """Row of the first occurrence of each distinct value (as ``drop_duplicates`` keeps)."""
        codes, first = np.unique(self.codes, return_index=True)
        return first[codes >= 0]


def _is_in(child: _Codes, parent: pd.Series) -> np.ndarray:
    """Rows of ``child`` whose value is among ``parent``'s (empty rows count as in)."""
    import pyarrow.compute as pc

    hit = pc.is_in(child.values, value_set=_arrow(parent)).to_numpy(zero_copy_only=False)
    ok = np.ones(len(child.codes), dtype=bool)
    known = child.codes >= 0
    ok[known] = hit[child.codes[known]]
    return ok


def _rows_of(child: _Codes, key: _Codes) -> np.ndarray:
    """For each row of ``child``, the first row of the table of ``key`` with that key (-1: none)."""
    import pyarrow.compute as pc

    first = key.first_rows()
    at = pc.fill_null(pc.index_in(child.values, value_set=key.values), -1).to_numpy()
    row_of_value = np.where(at >= 0, first[np.maximum(at, 0)] if len(first) else -1, -1)
    return np.where(child.codes >= 0, row_of_value[np.maximum(child.codes, 0)] if len(row_of_value) else -1, -1)


def _take(column: pd.Series, rows: np.ndarray):
    """``column``'s values at ``rows`` (empty where the row is -1), as a pyarrow array."""
    import pyarrow as pa
    import pyarrow.compute as pc

    return pc.take(_arrow(column), pa.array(np.maximum(rows, 0), mask=rows < 0))


def _differs(a, b) -> np.ndarray:
    """Rows where two string arrays both have a value and the values differ."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.not_equal(a, b), False).to_numpy(zero_copy_only=False)


def _numbers(column: pd.Series) -> np.ndarray:
    return column.to_numpy(dtype=float, na_value=np.nan)


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):
        return a > b  # False where either is NaN (unknown)


_FORMULA_FIRST_BYTES = np.zeros(256, dtype=bool)
_FORMULA_FIRST_BYTES[list(b"=+-@")] = True


def _starts_like_formula(column: pd.Series) -> np.ndarray:
    """Rows whose text starts with =, +, - or @: the first byte of each value, read straight from
    the arrow buffers (one gather over each chunk of the column, no regex, no per-row Python)."""
    parts = [_formula_rows(chunk) for chunk in _chunks(column)]
    return np.concatenate(parts) if len(parts) != 1 else parts[0]


def _formula_rows(data) -> np.ndarray:
    from carte_evidence.package.columns import string_layout

    n = len(data)
    if n == 0:
        return np.zeros(0, dtype=bool)
    offsets, text = string_layout(data)
    starts = offsets[:-1]
    nonempty = offsets[1:] > starts
    if not len(text) or not nonempty.any():
        return np.zeros(n, dtype=bool)
    first = np.zeros(n, dtype=np.uint8)
    first[nonempty] = text[starts[nonempty]]
    bad = _FORMULA_FIRST_BYTES[first] & nonempty
    if data.null_count:
        bad &= data.is_valid().to_numpy(zero_copy_only=False)
    return bad


def _cycle_members(parent: pd.Series) -> set:
    """Ids on a cycle of the id -> parent mapping, by pointer doubling (log n vectorized steps)."""
    mapping = parent.dropna()
    if mapping.empty:
        return set()
    mapping = mapping[~mapping.index.duplicated()]
    jump = pd.Series(mapping.to_numpy(), index=mapping.index.to_numpy())
    steps = 1
    while steps <= len(mapping) and not jump.empty:
        jump = jump.map(jump).dropna()  # ancestor after 2 x steps steps
        steps *= 2
    # Whatever still has an ancestor after more steps than there are nodes is on or behind a cycle.
    return set(jump.index)


def _text_columns(frame: pd.DataFrame) -> list[str]:
    """The string columns of a typed table (numbers and booleans cannot hold a formula)."""
    return [c for c in frame.columns if str(frame[c].dtype).startswith("string")]


# The columns :func:`rule_checks` reads, by table, besides the foreign keys' (:func:`encoded_columns`)
# and the formula rule's (every text column, see :func:`formula_checks`). A validation that keeps
# only some columns of a large table keeps these; a test checks that the rules find the same with
# only them.
COLUMNS_READ: dict[str, set[str]] = {
    "publications": {"publication_id", "study_id", "supersedes", "doi", "pmid", "pmcid", "registry_ids", "url", "year", "data_cutoff"},
    "studies": {"study_id", "primary_publication_id", "overlaps_with"},
    "arms": {"arm_id", "study_id", "publication_id", "arm_scope", "disease_id", "n_female", "n_treated", "age_min", "age_max"},
    "outcomes": {"arm_id", "publication_id", "measure", "n_events", "n_evaluable", "value"},
    "adverse_events": {"arm_id", "publication_id", "n_events", "n_evaluable"},
    "trials": {"trial_id", "registry", "disease_ids"},
    "registries": {"registry", "id_pattern"},
    "diseases": {"disease_id"},
    "measures": {"measure_id", "kind"},
}


def encoded_columns(descriptor: dict[str, Any]) -> dict[str, set[str]]:
    """The id columns :func:`rule_checks` dictionary-encodes, by table: each foreign key's field
    and the field it references (see :func:`prepare`)."""
    out: dict[str, set[str]] = {}
    try:
        for res in descriptor["resources"]:
            for fk in res.get("schema", {}).get("foreignKeys", []):
                ref = fk["reference"]
                out.setdefault(res["name"], set()).add(fk["fields"])
                out.setdefault(ref["resource"] or res["name"], set()).add(ref["fields"])
    except (KeyError, TypeError, AttributeError):  # a malformed descriptor: reported elsewhere
        return {}
    return {name: {c for c in columns if isinstance(c, str)} for name, columns in out.items()}


def prepare(name: str, frame: pd.DataFrame, columns: set[str]) -> dict[tuple[str, str], Any]:
    """The work of :func:`rule_checks` that needs only one table, done beforehand (a validation
    does it in the thread that read the table): its id columns dictionary-encoded, and the rows
    of each text column that start like a spreadsheet formula."""
    out: dict[tuple[str, str], Any] = {("codes", name, c): _Codes(frame[c]) for c in columns if c in frame.columns}
    for column in _text_columns(frame):
        out["formula", name, column] = _starts_like_formula(frame[column])
    return out


# --- the rules -------------------------------------------------------------------------------

def rule_checks(tables: dict[str, pd.DataFrame], descriptor: dict[str, Any], today: dt.date | None = None, unreadable: frozenset = frozenset(),
                prepared: dict | None = None) -> dict[str, dict[str, list]]:
    """Checks per table and column for the cross-field and cross-table rules.

    Tables in ``unreadable`` could not be read; no key is checked against them, so that one
    broken file does not bury the report under consequential errors. ``prepared``: what
    :func:`prepare` worked out for the tables (anything missing is worked out here).
    """
    today = today or dt.date.today()
    out: dict[str, dict[str, list]] = {name: {} for name in tables}
    prepared = dict(prepared or {})

    def codes(table: str, column: str) -> _Codes:
        # Each id column is hashed once, however many rules look it up.
        if ("codes", table, column) not in prepared:
            prepared["codes", table, column] = _Codes(tables[table][column])
        return prepared["codes", table, column]

    def add(table: str, column: str, rule: str, bad: np.ndarray, ref: str = "") -> None:
        """Report the rows of ``bad`` under ``rule`` at ``column`` (nothing to add when none is)."""
        if table not in tables or column not in tables[table].columns or not bad.any():
            return
        out[table].setdefault(column, []).append(_failing_rows(rule, bad, tables[table].index, ref))

    # Foreign keys, generated from the descriptor.
    for res in descriptor["resources"]:
        for fk in res.get("schema", {}).get("foreignKeys", []):
            ref = fk["reference"]
            parent = ref["resource"] or res["name"]
            if parent not in tables or parent in unreadable or res["name"] not in tables:
                continue
            if fk["fields"] not in tables[res["name"]].columns:
                continue
            ok = _is_in(codes(res["name"], fk["fields"]), tables[parent][ref["fields"]])
            add(res["name"], fk["fields"], "foreign-key", ~ok, ref=f"{parent}.{ref['fields']}")

    # Every text column: no spreadsheet formulas (numbers and booleans cannot hold one).
    for name, frame in tables.items():
        for column in _text_columns(frame):
            found = prepared.get(("formula", name, column))
            add(name, column, "formula-prefix", _starts_like_formula(frame[column]) if found is None else found)

    pubs = tables.get("publications")
    pub_id = codes("publications", "publication_id") if pubs is not None else None

    def study_mismatch(table: str, pub_column: str, study: pd.Series | Any) -> np.ndarray:
        """Rows whose publication belongs to another study than ``study`` (array or column)."""
        if len(pubs) == 0:  # no publication read: every row has always failed here; kept as it was
            return np.ones(len(tables[table]), dtype=bool)
        rows = _rows_of(codes(table, pub_column), pub_id)
        study = _arrow(study) if isinstance(study, pd.Series) else study
        return _differs(_take(pubs["study_id"], rows), study)

    import pyarrow.compute as pc

    if pubs is not None:
        supersedes = _arrow(pubs["supersedes"])
        add("publications", "supersedes", "supersedes-self", pc.fill_null(pc.equal(supersedes, _arrow(pubs["publication_id"])), False).to_numpy(zero_copy_only=False))
        add("publications", "supersedes", "supersedes-same-study", study_mismatch("publications", "supersedes", pubs["study_id"]))
        cyclic = _cycle_members(pd.Series(pubs["supersedes"].to_numpy(), index=pubs["publication_id"].to_numpy()))
        if cyclic:
            add("publications", "supersedes", "supersedes-cycle", pubs["publication_id"].isin(cyclic).fillna(False).to_numpy(dtype=bool))
        citable = pubs[["doi", "pmid", "pmcid", "registry_ids", "url"]].notna().any(axis=1).to_numpy()
        add("publications", "publication_id", "citable", ~citable)
        add("publications", "year", "not-in-future", _greater(_numbers(pubs["year"]), today.year))
        cutoff = pc.utf8_slice_codeunits(_arrow(pubs["data_cutoff"]), 0, 10)
        add("publications", "data_cutoff", "not-in-future", pc.fill_null(pc.greater(cutoff, today.isoformat()[:10]), False).to_numpy(zero_copy_only=False))
        if tables.get("studies") is not None:
            add("studies", "primary_publication_id", "primary-publication-of-study", study_mismatch("studies", "primary_publication_id", tables["studies"]["study_id"]))
        if tables.get("arms") is not None:
            add("arms", "publication_id", "publication-of-study", study_mismatch("arms", "publication_id", tables["arms"]["study_id"]))

    arms = tables.get("arms")

    @lru_cache(maxsize=None)
    def study_codes() -> tuple[np.ndarray, np.ndarray]:
        """The study of each publication and of each arm, as a number (the code of the study
        among the publications'; negative: none, never equal to another row's), each with one
        more at the end, for row -1 (no such publication or arm)."""
        study = codes("publications", "study_id")
        pub_study = np.append(np.where(study.codes >= 0, study.codes, -3), -1)
        of_arm = _Codes(arms["study_id"])
        at = np.append(pc.fill_null(pc.index_in(of_arm.values, value_set=study.values), -4).to_numpy(), -4)
        arm_study = np.append(np.where(of_arm.codes >= 0, at[of_arm.codes], -5), -2)
        return pub_study, arm_study

    if arms is not None:
        disjoint = arms["arm_scope"].isna().to_numpy()
        mixed = (arms["disease_id"] == "mixed-autoimmune").fillna(False).to_numpy(dtype=bool) & disjoint
        others = arms["study_id"][disjoint & ~mixed]
        in_others = _is_in(codes("arms", "study_id"), others)
        in_others[codes("arms", "study_id").codes < 0] = bool(others.isna().any())  # as pandas' isin: empty matches empty
        add("arms", "disease_id", "mixed-arm-scope", mixed & in_others)
        add("arms", "n_female", "female-le-treated", _greater(_numbers(arms["n_female"]), _numbers(arms["n_treated"])))
        add("arms", "age_min", "age-range", _greater(_numbers(arms["age_min"]), _numbers(arms["age_max"])))
        treated = np.append(_numbers(arms["n_treated"]), np.nan)  # row -1 (no such arm) -> unknown
        for table in ("outcomes", "adverse_events"):
            t = tables.get(table)
            if t is None:
                continue
            add(table, "n_events", "events-le-evaluable", _greater(_numbers(t["n_events"]), _numbers(t["n_evaluable"])))
            arm_rows = _rows_of(codes(table, "arm_id"), codes("arms", "arm_id"))
            add(table, "n_evaluable", "evaluable-le-treated", _greater(_numbers(t["n_evaluable"]), treated[arm_rows]))
            if pubs is not None:
                # Here the rule has always failed unless both studies are known and equal (also
                # when the arm or the publication does not exist): kept, so reports stay the same.
                # (Compared as codes of the publications' studies: no text per row.)
                pub_study, arm_study = study_codes()
                pub_rows = _rows_of(codes(table, "publication_id"), pub_id)
                same = pub_study[pub_rows] == arm_study[arm_rows]
                add(table, "publication_id", "publication-of-study", ~same)

    trials, registries = tables.get("trials"), tables.get("registries")
    if trials is not None and registries is not None and "registries" not in unreadable:
        pattern = _lookup(registries, "registry", "id_pattern")
        ok = pd.Series(True, index=trials.index)
        for registry, rx in pattern.items():  # one vectorized match per registry
            mask = (trials["registry"] == registry).fillna(False)
            ok[mask] = trials.loc[mask, "trial_id"].str.fullmatch(rx).fillna(False)
        add("trials", "trial_id", "registry-format", ~ok.to_numpy(dtype=bool), ref="registries.id_pattern")
    diseases = tables.get("diseases")
    if trials is not None and diseases is not None and "diseases" not in unreadable:
        items = trials["disease_ids"].dropna().str.split(" ").explode()
        known = pd.Series(_is_in(_Codes(items.astype("string")), diseases["disease_id"]), index=items.index)
        ok = known.groupby(level=0).all().reindex(trials.index, fill_value=True)
        add("trials", "disease_ids", "list-foreign-key", ~ok.to_numpy(dtype=bool), ref="diseases.disease_id")

    studies = tables.get("studies")
    if studies is not None and "overlaps_with" in studies.columns:
        listed = studies.set_index("study_id")["overlaps_with"].dropna().str.split(" ").explode()
        pairs = set(zip(listed.index, listed))
        known = set(studies["study_id"].dropna())  # (once, not once per pair)
        one_way = {a for a, b in pairs if (b, a) not in pairs and b in known}
        add("studies", "overlaps_with", "overlap-symmetric", studies["study_id"].isin(one_way).fillna(False).to_numpy(dtype=bool))

    outcomes, measures = tables.get("outcomes"), tables.get("measures")
    if outcomes is not None and measures is not None and "measures" not in unreadable:
        # Each measure's kind, looked up per row as a flag (row -1, no such measure: neither).
        measure_rows = _rows_of(codes("outcomes", "measure"), codes("measures", "measure_id"))
        kind = measures["kind"]
        binary = np.append((kind == "binary").fillna(False).to_numpy(dtype=bool), False)[measure_rows]
        continuous = np.append((kind == "continuous").fillna(False).to_numpy(dtype=bool), False)[measure_rows]
        binary_missing = binary & (outcomes["n_events"].isna() | outcomes["n_evaluable"].isna()).to_numpy()
        cont_missing = continuous & outcomes["value"].isna().to_numpy()
        add("outcomes", "measure", "binary-needs-counts", binary_missing)
        add("outcomes", "measure", "continuous-needs-value", cont_missing)
    return out


def _lookup(frame: pd.DataFrame, key: str, value: str) -> pd.Series:
    sub = frame[[key, value]].dropna(subset=[key]).drop_duplicates(subset=[key])
    return pd.Series(sub[value].to_numpy(), index=sub[key].to_numpy())


def rule_schemas(tables: dict[str, pd.DataFrame], descriptor: dict[str, Any], today: dt.date | None = None, unreadable: frozenset = frozenset()):
    """One pandera DataFrameSchema per table holding only the cross-field/cross-table checks."""
    import pandera.pandas as pa

    return {
        name: pa.DataFrameSchema({col: pa.Column(checks=checks, nullable=True, required=False) for col, checks in cols.items()})
        for name, cols in rule_checks(tables, descriptor, today, unreadable).items()
    }
