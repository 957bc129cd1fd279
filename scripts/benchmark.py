"""Benchmark `carte validate` against `frictionless validate`, on the shipped package and on
synthetic packages of 10^4 .. 10^6 outcome rows (10^7 with --huge).

    python scripts/benchmark.py --make DIR --rows N [--invalid FRACTION]   # write a package
    python scripts/benchmark.py --run [--huge] [--json] [--repeat R]        # time everything

A synthetic package is the shipped package plus generated rows: N outcome rows, N adverse-event
rows, N/10 arms, N/100 studies and trials, and about N/40 publications linked in `supersedes`
chains, with DOIs, PMIDs, PMCIDs, registry ids, data cut-offs and every field a rule reads.
Valid by construction; with ``--invalid F`` a fraction F of the generated rows of each table
breaks one rule each, cycling through the types, constraints, keys and cross-table rules.

``--run`` times each command as a separate process (wall time and peak resident memory, from
the operating system's accounting of the finished child), one size after the other, and fits
the time exponent b of time ~ rows^b over the synthetic sizes from 10^5 up. Speed is measured
here, not in the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

GENERATED = ("studies", "publications", "arms", "outcomes", "adverse_events", "trials")


# --- the synthetic package ---------------------------------------------------------------

def _str(values) -> "pa.Array":
    import pyarrow as pa

    return pa.array(values).cast(pa.string())


def _cat(*parts) -> "pa.Array":
    """Element-wise concatenation of string arrays and scalars."""
    import pyarrow.compute as pc

    return pc.binary_join_element_wise(*parts, "")


def _pick(rng, choices, n: int) -> "pa.Array":
    return _str(np.asarray(choices, dtype=object)[rng.integers(0, len(choices), n)])


def _nulls(n: int) -> "pa.Array":
    import pyarrow as pa

    return pa.nulls(n, pa.string())


def _read_column(package: Path, table: str, column: str) -> list[str]:
    import pyarrow.csv as pacsv

    frame = pacsv.read_csv(package / "data" / f"{table}.csv")
    return [v for v in frame.column(column).to_pylist() if v is not None]


def _generate(rows: int, real: Path, rng) -> dict[str, dict[str, "pa.Array"]]:
    """The generated columns of each table (strings, nulls for empty cells), all valid."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n_s = max(rows // 100, 1)
    n_a = max(rows // 10, 1)
    idx = lambda n: _str(np.arange(n))  # noqa: E731
    diseases = [d for d in _read_column(real, "diseases", "disease_id") if d != "mixed-autoimmune"]
    products = _read_column(real, "products", "product_id")
    events = _read_column(real, "events", "event_id")
    measures = _read_column(real, "measures", "measure_id")
    kinds = dict(zip(measures, _read_column(real, "measures", "kind")))
    binary = [m for m in measures if kinds[m] == "binary"]
    continuous = [m for m in measures if kinds[m] == "continuous"]

    # Trials: ClinicalTrials.gov ids of the right form, lists of known diseases.
    trial_id = _cat("NCT9", pc.utf8_lpad(idx(n_s), 7, "0"))
    trials = {
        "trial_id": trial_id, "registry": _str(["clinicaltrials.gov"] * n_s), "title": _cat("Synthetic trial ", idx(n_s)),
        "phase": _pick(rng, ["phase 1", "phase 1/2", "phase 2"], n_s), "status": _pick(rng, ["recruiting", "completed"], n_s),
        "status_seen_date": _str(["2025-06-01"] * n_s), "start_date": _pick(rng, ["2023", "2024-02", "2024-11-30"], n_s),
        "enrolment_planned": _str(rng.integers(5, 200, n_s)), "country": _pick(rng, ["DE", "CN", "US FR"], n_s),
        "sponsor_type": _pick(rng, ["academic", "industry"], n_s), "disease_ids": _pick(rng, ["sle", "sle lupus-nephritis", "ssc sle"], n_s),
        "targets": _pick(rng, ["CD19", "BCMA", "CD19 BCMA"], n_s), "product_id": _pick(rng, products, n_s),
        "modality": _str(["CAR-T"] * n_s), "cell_source": _str(["autologous"] * n_s), "url": _cat("https://clinicaltrials.gov/study/", trial_id),
    }

    # Studies and publications: each study has 2 reports (b supersedes a); every 4th has a
    # third (c supersedes b), so `supersedes` forms chains of 1 and 2 links.
    study_id = _cat("syn-s", idx(n_s))
    third = np.arange(n_s) % 4 == 0
    pub_study = np.concatenate([np.arange(n_s), np.arange(n_s), np.flatnonzero(third)])
    letter = np.concatenate([np.full(n_s, "a"), np.full(n_s, "b"), np.full(third.sum(), "c")]).astype(object)
    n_p = len(pub_study)
    s_txt = _str(pub_study)
    pub_id = _cat("syn-p", s_txt, "-", _str(letter))
    prev = {"a": None, "b": "a", "c": "b"}
    supersedes = pa.array([None if prev[x] is None else f"syn-p{s}-{prev[x]}" for s, x in zip(pub_study.tolist(), letter.tolist())], pa.string())
    has_pmid = np.arange(n_p) % 3 != 2
    publications = {
        "publication_id": pub_id, "study_id": pc.take(study_id, pa.array(pub_study)), "supersedes": supersedes,
        "doi": _cat("10.5555/syn.", idx(n_p)),
        "pmid": pc.if_else(pa.array(has_pmid), _str(30_000_000 + np.arange(n_p)), _nulls(n_p)),
        "pmcid": pc.if_else(pa.array(np.arange(n_p) % 2 == 0), _cat("PMC", _str(9_000_000 + np.arange(n_p))), _nulls(n_p)),
        "registry_ids": pc.take(trial_id, pa.array(pub_study)), "first_author": _pick(rng, ["Müller", "Wang", "Schett", "Mackensen"], n_p),
        "year": _str(2019 + rng.integers(1, 7, n_p)), "journal": _pick(rng, ["N Engl J Med", "Lancet", "Ann Rheum Dis"], n_p),
        "title": _cat("Synthetic report ", idx(n_p)), "publication_type": _pick(rng, ["full article", "letter", "conference abstract"], n_p),
        "peer_reviewed": _pick(rng, ["true", "false"], n_p), "data_cutoff": _pick(rng, ["2024", "2024-05", "2024-05-17"], n_p),
        "url": _cat("https://example.org/syn/", idx(n_p)),
    }
    primary = _cat("syn-p", idx(n_s), "-a")
    studies = {
        "study_id": study_id, "name": _cat("Synthetic study ", idx(n_s)), "design": _pick(rng, ["case series", "phase 1", "phase 1/2", "registry"], n_s),
        "indication": _str(["autoimmune"] * n_s), "country": _pick(rng, ["DE", "CN US"], n_s), "centre": _pick(rng, ["Erlangen", "Shanghai"], n_s),
        "sponsor_type": _pick(rng, ["academic", "industry", "mixed"], n_s), "registry_id": trial_id, "primary_publication_id": primary,
        "prospective": _pick(rng, ["true", "false"], n_s), "consecutive_enrolment": _pick(rng, ["true", "false", None], n_s),
    }

    # Arms: one disease each, or a pooled mixed arm; consistent counts and ages.
    arm_study = rng.integers(0, n_s, n_a)
    arm_id = _cat("syn-s", _str(arm_study), ".a", idx(n_a))
    treated = rng.integers(1, 60, n_a)
    age_min = rng.integers(5, 40, n_a)
    age_max = age_min + rng.integers(0, 40, n_a)
    mixed = np.arange(n_a) % 10 == 7
    arms = {
        "arm_id": arm_id, "study_id": pc.take(study_id, pa.array(arm_study)), "product_id": _pick(rng, products, n_a),
        "disease_id": pc.if_else(pa.array(mixed), _str(["mixed-autoimmune"] * n_a), _pick(rng, diseases, n_a)),
        "arm_scope": pc.if_else(pa.array(mixed), _str(["pooled"] * n_a), _nulls(n_a)), "n_treated": _str(treated),
        "dose": _str(["1x10^6 cells/kg"] * n_a), "age_median": _str((age_min + age_max) / 2), "age_min": _str(age_min), "age_max": _str(age_max),
        "n_female": _str(rng.integers(0, treated + 1)), "followup_months_median": _str(rng.integers(1, 36, n_a)),
        "publication_id": _cat("syn-p", _str(arm_study), "-a"), "locator": _str(["Table 1"] * n_a), "quote": _cat(_str(treated), _pick(rng, [" patients were treated; median age 34 (range 18-60).", " 例患者女性, 25岁"], n_a)),
    }

    def leaf(prefix: str, n: int) -> dict:
        arm = rng.integers(0, n_a, n)
        evaluable = rng.integers(1, treated[arm] + 1)
        return {
            f"{prefix}_id": _cat(pc.take(arm_id, pa.array(arm)), f".{prefix[0]}", idx(n)), "arm_id": pc.take(arm_id, pa.array(arm)),
            "publication_id": _cat("syn-p", _str(arm_study[arm]), "-", _pick(rng, ["a", "b"], n)), "locator": _pick(rng, ["Figure 2", "abstract"], n),
            "n_evaluable": _str(evaluable), "n_events": _str(rng.integers(0, evaluable + 1)),
            "value_source": _pick(rng, ["reported", "derived_by_curator"], n), "checked": _pick(rng, ["source_reread", None], n),
        }

    def quoted(leafs: dict) -> dict:
        """A quote that states the row's numbers, as the quote rule requires (CJK text too)."""
        counts = _cat(leafs["n_events"], " of ", leafs["n_evaluable"], " patients (事件).")
        if "value" in leafs:
            counts = pc.if_else(pc.is_null(leafs["value"]), counts, _cat("Median ", leafs["value"], " points."))
        return {**leafs, "quote": counts}

    outcomes = leaf("outcome", rows)
    cont = np.arange(rows) % 5 == 4
    measure = pc.if_else(pa.array(cont), _pick(rng, continuous, rows), _pick(rng, binary, rows))
    outcomes.update({
        "measure": measure, "timepoint_months": _str(rng.choice([3, 6, 12, 24], rows)), "timepoint_label": _pick(rng, ["month 6", "last follow-up"], rows),
        "n_evaluable": pc.if_else(pa.array(cont), _nulls(rows), outcomes["n_evaluable"]), "n_events": pc.if_else(pa.array(cont), _nulls(rows), outcomes["n_events"]),
        "value": pc.if_else(pa.array(cont), _str(rng.integers(0, 300, rows) / 10), _nulls(rows)),
        "unit": pc.if_else(pa.array(cont), _str(["points"] * rows), _nulls(rows)), "statistic": pc.if_else(pa.array(cont), _str(["median"] * rows), _nulls(rows)),
    })
    outcomes = quoted(outcomes)
    adverse = quoted(leaf("ae", rows))
    adverse.update({"event": _pick(rng, events, rows), "grading_system": _pick(rng, ["ASTCT", "CTCAE", None], rows), "grade": _pick(rng, ["any", ">=3", "1"], rows)})
    return {"trials": trials, "studies": studies, "publications": publications, "arms": arms, "outcomes": outcomes, "adverse_events": adverse}


# One broken value per invalid row, cycling through these (table -> [(column, value), ...]);
# None empties the cell; "<dup>" copies the previous row's value; "<cycle>" points a report at
# the next report of its study (a -> b while b -> a); "<uncitable>" empties every identifier.
BREAKS = {
    "outcomes": [("n_events", "eight"), ("measure", "no_such_measure"), ("arm_id", "syn-unknown-arm"), ("quote", "=HYPERLINK(1)"),
                 ("outcome_id", "Bad Id"), ("value_source", "guessed"), ("n_events", "9999"), ("locator", None), ("outcome_id", "<dup>"),
                 ("publication_id", "syn-p0-a"), ("timepoint_months", "-3"), ("n_evaluable", " 4"), ("value", None)],
    "adverse_events": [("n_evaluable", "ten"), ("event", "no_such_event"), ("grade", "6"), ("n_events", "9999"), ("arm_id", "syn-unknown-arm"),
                       ("notes", "+1 more"), ("n_events", None), ("checked", "maybe")],
    "arms": [("n_treated", "many"), ("age_min", "120"), ("n_female", "9999"), ("disease_id", "no-such-disease"), ("product_id", "no-such-product"),
             ("arm_scope", "all"), ("publication_id", "syn-p0-a"), ("age_max", "1"), ("arm_scope", None)],
    "publications": [("year", "2999"), ("data_cutoff", "2999-01"), ("doi", "doi:10.1/x"), ("pmid", "<dup>"), ("supersedes", "syn-p0-a"),
                     ("peer_reviewed", "yes"), ("publication_type", "blog"), ("url", "www.example.org"), ("supersedes", "<cycle>"),
                     ("doi", "<uncitable>"), ("first_author", "@handle")],
    "studies": [("design", "case-series"), ("primary_publication_id", "syn-p0-a"), ("registry_id", "NCT00000000"), ("country", "Germany"),
                ("prospective", "perhaps"), ("name", None), ("overlaps_with", "syn-s0")],
    "trials": [("trial_id", "NCT123"), ("disease_ids", "sle lupus-nefritis"), ("status", "ongoing"), ("enrolment_planned", "-1")],
}


def _break(columns: dict, table: str, fraction: float, rng) -> None:
    """Break one value in a fraction of the rows (row i: the break i mod len(BREAKS[table]))."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(next(iter(columns.values())))
    rows = np.flatnonzero(rng.random(n) < fraction) if fraction < 1 else np.arange(n)
    rows = rows[rows > 0]  # row 0 stays valid: "<dup>" and cross-table breaks point at it
    breaks = BREAKS[table]
    for k, (column, value) in enumerate(breaks):
        at = rows[rows % len(breaks) == k]
        if not len(at):
            continue
        col = columns.get(column, _nulls(n))
        mask = np.zeros(n, bool)
        mask[at] = True
        if value == "<uncitable>":
            for name in ("doi", "pmid", "pmcid", "registry_ids", "url"):
                columns[name] = pc.if_else(pa.array(mask), _nulls(n), columns.get(name, _nulls(n)))
            continue
        if value == "<cycle>":
            new = pc.if_else(pa.array(mask), pc.replace_substring_regex(columns["publication_id"], "-[abc]$", "-b"), col)
        elif value == "<dup>":
            new = pc.take(col, pa.array(np.where(mask, np.arange(n) - 1, np.arange(n))))
        elif value is None:
            new = pc.if_else(pa.array(mask), _nulls(n), col)
        else:
            new = pc.if_else(pa.array(mask), pa.scalar(value, pa.string()), col)
        columns[column] = new


def make_package(dest: Path, rows: int, invalid: float = 0.0, seed: int = 0) -> Path:
    """Write the synthetic package of ``rows`` outcome rows into ``dest``; return its datapackage.json."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    real = ROOT / "datapackage"
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(real, dest)
    rng = np.random.default_rng(seed)
    generated = _generate(rows, real, rng)
    if invalid:
        for table, columns in generated.items():
            _break(columns, table, invalid, rng)
    descriptor = json.loads((dest / "datapackage.json").read_text(encoding="utf-8"))
    fields = {r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in descriptor["resources"]}
    options = pacsv.WriteOptions(include_header=False, quoting_style="needed")
    for table, columns in generated.items():
        n = len(columns[fields[table][0]])
        out = pa.table({name: columns.get(name, _nulls(n)) for name in fields[table]})
        with open(dest / "data" / f"{table}.csv", "ab") as handle:  # after the shipped rows
            pacsv.write_csv(out, handle, write_options=options)
    return dest / "datapackage.json"


# --- timing ----------------------------------------------------------------------------------

def _carte(*args: str) -> list[str]:
    return [sys.executable, "-c", "from carte_evidence.cli.main import main; main()", *args]


def _frictionless(package: Path) -> list[str]:
    exe = shutil.which("frictionless", path=str(Path(sys.executable).parent)) or shutil.which("frictionless")
    return [exe, "validate", str(package)] if exe else []


def time_command(cmd: list[str], timeout: float | None = None) -> dict:
    """Wall seconds, CPU seconds, peak resident MiB and exit code of one run of ``cmd``."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT / "src"), os.environ.get("PYTHONPATH")])))
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = None if timeout is None else start + timeout
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if deadline and time.perf_counter() > deadline:
            proc.kill()
            os.wait4(proc.pid, 0)
            return {"wall_s": None, "timeout": True}
        time.sleep(0.005)
    wall = time.perf_counter() - start
    return {"wall_s": wall, "cpu_s": usage.ru_utime + usage.ru_stime, "peak_mib": usage.ru_maxrss / 1024,
            "exit": os.waitstatus_to_exitcode(status)}


def _median_run(cmd: list[str], repeat: int, timeout: float | None) -> dict:
    runs = [time_command(cmd, timeout) for _ in range(repeat)]
    done = [r for r in runs if r.get("wall_s") is not None]
    if not done:
        return {"timeout": True}
    mid = sorted(done, key=lambda r: r["wall_s"])[len(done) // 2]
    return {**mid, "runs": len(done)}


def _csv_bytes(package: Path) -> int:
    return sum(p.stat().st_size for p in (package.parent / "data").glob("*.csv"))


def _rows(package: Path) -> int:
    total = 0
    for p in (package.parent / "data").glob("*.csv"):
        with open(p, "rb") as handle:
            total += sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 24), b"")) - 1
    return total


def fit_exponent(points: list[tuple[float, float]]) -> float | None:
    """b of time = a * rows^b, by least squares in log-log space."""
    points = [(x, y) for x, y in points if x and y]
    if len(points) < 2:
        return None
    xs, ys = np.log([p[0] for p in points]), np.log([p[1] for p in points])
    return float(np.polyfit(xs, ys, 1)[0])


def run(sizes: list[int], invalid_rows: int, repeat: int, frictionless_max: int, timeout: float, work: Path, log=print) -> dict:
    """Time carte and frictionless on the shipped package and each size; the results as a dict."""
    results = {"machine": {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
                           "cpus": os.cpu_count(), "python": platform.python_version()}, "cases": []}
    # Versions from the installed metadata, not by importing them: a child's peak memory counts
    # its parent's size at the fork, so this process must stay small.
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for name in ("pandas", "pandera", "pyarrow", "frictionless"):
        try:
            versions[name] = version(name)
        except PackageNotFoundError:  # pragma: no cover
            pass
    results["machine"]["versions"] = versions
    # carte's bytecode, as an installed wheel has it: an editable install in an environment with
    # PYTHONDONTWRITEBYTECODE set (as here) would otherwise compile carte's modules on every run,
    # while frictionless and the libraries were compiled when pip installed them.
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "src" / "carte_evidence")], check=True, stdout=subprocess.DEVNULL)
    help_run = _median_run(_carte("--help"), repeat, timeout)
    results["carte_help_s"] = help_run.get("wall_s")
    log(f"carte --help: {help_run.get('wall_s', float('nan')):.2f} s")
    cases = [("shipped", 0, 0.0, ROOT / "datapackage" / "datapackage.json")]
    cases += [(f"synthetic {n:.0e}", n, 0.0, None) for n in sizes]
    if invalid_rows:
        cases += [(f"all-valid {invalid_rows:.0e}", invalid_rows, 0.0, None), (f"all-invalid {invalid_rows:.0e}", invalid_rows, 1.0, None)]
    made: dict[tuple[int, float], Path] = {}
    for label, n, invalid, package in cases:
        if package is None:
            if (n, invalid) not in made:
                # In a child process: a child's peak memory counts its parent's size at the fork,
                # so the timing process must stay small.
                dest = work / f"pkg-{n}-{invalid}"
                subprocess.run([sys.executable, __file__, "--make", str(dest), "--rows", str(n), "--invalid", str(invalid)],
                               check=True, stdout=subprocess.DEVNULL)
                made[(n, invalid)] = dest / "datapackage.json"
            package = made[(n, invalid)]
        reps = repeat if n <= 100_000 else 1
        # carte is timed `repeat` times up to 10^6 rows too (a few seconds a run; a single run
        # on this shared machine varies by +-25%); frictionless once there (over a minute a run)
        carte = _median_run(_carte("validate", str(package)), repeat if n <= 1_000_000 else 1, timeout)
        case = {"case": label, "outcome_rows": n, "invalid": invalid, "rows": _rows(package), "csv_mib": _csv_bytes(package) / 2**20, "carte": carte}
        # The two routes `carte validate` chooses between by size, each forced: the same report,
        # tables read in blocks or whole (see docs/performance.md)
        low = _median_run(_carte("validate", "--low-memory", str(package)), repeat if n <= 1_000_000 else 1, timeout)
        case["carte_low_memory"] = low
        whole = _median_run(_carte("validate", "--no-low-memory", str(package)), repeat if n <= 1_000_000 else 1, timeout)
        case["carte_whole"] = whole
        fl_cmd = _frictionless(package)
        if fl_cmd and n <= frictionless_max:
            case["frictionless"] = _median_run(fl_cmd, reps, timeout)
        c, f = carte.get("wall_s"), case.get("frictionless", {}).get("wall_s")
        case["carte_rows_per_s"] = case["rows"] / c if c else None
        case["ratio_frictionless_over_carte"] = f / c if c and f else None
        cc, fc = carte.get("cpu_s"), case.get("frictionless", {}).get("cpu_s")
        case["cpu_ratio_frictionless_over_carte"] = fc / cc if cc and fc else None  # steadier than wall time on a busy machine
        case["carte_peak_over_csv"] = carte.get("peak_mib", 0) / case["csv_mib"] if case["csv_mib"] else None
        case["low_memory_peak_over_csv"] = low.get("peak_mib", 0) / case["csv_mib"] if case["csv_mib"] else None
        case["ratio_frictionless_over_low_memory"] = f / low["wall_s"] if low.get("wall_s") and f else None
        case["whole_peak_over_csv"] = whole.get("peak_mib", 0) / case["csv_mib"] if case["csv_mib"] else None
        case["ratio_frictionless_over_whole"] = f / whole["wall_s"] if whole.get("wall_s") and f else None
        results["cases"].append(case)
        log(_line(case))
    synthetic = [(c["outcome_rows"], c["carte"].get("wall_s")) for c in results["cases"] if c["case"].startswith("synthetic") and c["outcome_rows"] >= 100_000]
    results["carte_time_exponent"] = fit_exponent(synthetic)
    valid = next((c for c in results["cases"] if c["case"].startswith("all-valid")), None)
    broken = next((c for c in results["cases"] if c["case"].startswith("all-invalid")), None)
    if valid and broken and valid["carte"].get("wall_s") and broken["carte"].get("wall_s"):
        results["invalid_over_valid"] = broken["carte"]["wall_s"] / valid["carte"]["wall_s"]
    return results


def _fmt(x, spec: str) -> str:
    return format(x, spec) if isinstance(x, (int, float)) else "-"


def _line(case: dict) -> str:
    c, f, low, whole = case["carte"], case.get("frictionless", {}), case.get("carte_low_memory", {}), case.get("carte_whole", {})
    return (f"{case['case']:<20} rows {case['rows']:>10,}  csv {case['csv_mib']:8.1f} MiB | carte {_fmt(c.get('wall_s'), '7.2f')} s "
            f"{_fmt(c.get('peak_mib'), '7.0f')} MiB (exit {c.get('exit', '-')}) | frictionless {_fmt(f.get('wall_s'), '7.2f')} s "
            f"{_fmt(f.get('peak_mib'), '7.0f')} MiB | ratio {_fmt(case['ratio_frictionless_over_carte'], '5.1f')}x "
            f"(CPU {_fmt(case.get('cpu_ratio_frictionless_over_carte'), '.1f')}x) | "
            f"{_fmt(case['carte_rows_per_s'], ',.0f')} rows/s | peak/csv {_fmt(case['carte_peak_over_csv'], '.2f')} | "
            f"--low-memory {_fmt(low.get('wall_s'), '.2f')} s {_fmt(low.get('peak_mib'), '.0f')} MiB, peak/csv "
            f"{_fmt(case.get('low_memory_peak_over_csv'), '.2f')}, ratio {_fmt(case.get('ratio_frictionless_over_low_memory'), '.1f')}x | "
            f"--no-low-memory {_fmt(whole.get('wall_s'), '.2f')} s {_fmt(whole.get('peak_mib'), '.0f')} MiB, peak/csv "
            f"{_fmt(case.get('whole_peak_over_csv'), '.2f')}, ratio {_fmt(case.get('ratio_frictionless_over_whole'), '.1f')}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--make", type=Path, metavar="DIR", help="write a synthetic package into DIR")
    parser.add_argument("--rows", type=int, default=100_000, help="outcome rows of --make (default 100000)")
    parser.add_argument("--invalid", type=float, default=0.0, metavar="FRACTION", help="fraction of generated rows to break (0..1)")
    parser.add_argument("--run", action="store_true", help="time carte and frictionless on the shipped and synthetic packages")
    parser.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")], default=[10_000, 100_000, 1_000_000],
                        help="outcome rows of the synthetic packages of --run (default 1e4,1e5,1e6)")
    parser.add_argument("--huge", action="store_true", help="add 10^7 outcome rows (about 10 GB of memory, minutes)")
    parser.add_argument("--invalid-rows", type=int, default=100_000, help="size of the all-valid/all-invalid pair of --run (0 = skip)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per command up to 10^5 rows (carte: up to 10^6); the median is kept")
    parser.add_argument("--frictionless-max", type=float, default=1e6, help="largest size frictionless is timed on")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds before one run is stopped")
    parser.add_argument("--work", type=Path, help="folder for the synthetic packages (default: a temporary one, removed)")
    parser.add_argument("--json", action="store_true", help="print the results of --run as JSON")
    args = parser.parse_args(argv)
    if not (args.make or args.run):
        parser.error("give --make DIR or --run")
    if not 0 <= args.invalid <= 1:
        parser.error("--invalid is a fraction between 0 and 1")
    if args.make:
        package = make_package(args.make, args.rows, args.invalid)
        print(f"{package}: {_rows(package):,} rows, {_csv_bytes(package) / 2**20:.1f} MiB of CSV")
    if args.run:
        work = args.work or Path(tempfile.mkdtemp(prefix="carte-bench-"))
        sizes = sorted(set(args.sizes + ([10_000_000] if args.huge else [])))
        try:
            results = run(sizes, args.invalid_rows, args.repeat, int(args.frictionless_max), args.timeout, work,
                          log=(lambda *a: print(*a, file=sys.stderr)) if args.json else print)
        finally:
            if not args.work:
                shutil.rmtree(work, ignore_errors=True)
        if args.json:
            print(json.dumps(results, indent=2))
        else:
            print(f"time exponent (synthetic, >= 1e5 rows): {_fmt(results['carte_time_exponent'], '.2f')}")
            if "invalid_over_valid" in results:
                print(f"all-invalid / all-valid time: {results['invalid_over_valid']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
