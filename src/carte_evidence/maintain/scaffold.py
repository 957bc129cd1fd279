"""`carte new`: the rows of a new study (study, first publication, one arm), with fresh ids,
validated before anything is written."""

from __future__ import annotations

import csv
import io
import re
import shutil
import tempfile
from pathlib import Path

from carte_evidence.maintain.target import source_package


class StudyExists(ValueError):
    """`carte new` was given the name or id of a study that is already in the package."""


def slug(text: str) -> str:
    """Lower-case id slug: letters, digits and single hyphens."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", ascii_text.lower())).strip("-")


def _existing(file: Path, column: str) -> set[str]:
    with open(file, encoding="utf-8", newline="") as handle:
        return {row[column] for row in csv.DictReader(handle)}


def _fresh(base: str, taken: set[str]) -> str:
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _append(file: Path, row: dict) -> None:
    with open(file, encoding="utf-8", newline="") as handle:
        header = next(csv.reader(handle))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerow([row.get(h, "") for h in header])
    ends_with_newline = file.read_bytes().endswith(b"\n")
    with open(file, "a", encoding="utf-8", newline="") as handle:
        handle.write(("" if ends_with_newline else "\n") + out.getvalue())


def new_study(path=None, *, name: str, design: str, disease_id: str, product_id: str, first_author: str, year: int,
              title: str, publication_type: str, peer_reviewed: bool, url: str, journal: str = "", doi: str = "",
              pmid: str = "", n_treated: int | None = None, country: str = "", registry_id: str = "",
              indication: str = "autoimmune", locator: str = "abstract", quote: str = "", study_id: str | None = None):
    """Add a study with its first publication and one arm; returns ``(ids, problems)``.

    The rows are added to a temporary copy of the package and validated there; the source files
    are only changed (then put in canonical form) when the copy is valid. ``ids["files"]`` lists
    the files written. Raises :class:`StudyExists` when a study of that name (or id) is already
    there: a new report of it is a publication of that study, not a new study.
    """
    from carte_evidence.maintain.fmt import fmt
    from carte_evidence.package.validate import validate

    package = source_package(path, "new")
    data = package.parent / "data"
    with open(data / "studies.csv", encoding="utf-8", newline="") as handle:
        studies = list(csv.DictReader(handle))
    wanted = study_id or slug(name)
    for row in studies:
        if (row.get("name") or "").strip().casefold() == name.strip().casefold() or row.get("study_id") == wanted:
            raise StudyExists(f"the study '{row.get('name')}' is already there (study_id {row.get('study_id')}); "
                              f"to add a new report of it, add a row to publications.csv with study_id {row.get('study_id')} "
                              "(and its outcome rows citing that publication), not a new study")
    study_id = _fresh(wanted, {row.get("study_id") for row in studies})
    publication_id = _fresh(slug(f"{first_author}-{year}-{journal or publication_type}"), _existing(data / "publications.csv", "publication_id"))
    arm_id = _fresh(f"{study_id}.{disease_id}", _existing(data / "arms.csv", "arm_id"))
    rows = {
        "studies": {"study_id": study_id, "name": name, "design": design, "indication": indication, "country": country,
                    "registry_id": registry_id, "primary_publication_id": publication_id},
        "publications": {"publication_id": publication_id, "study_id": study_id, "doi": doi, "pmid": pmid, "first_author": first_author,
                         "year": str(year), "journal": journal, "title": title, "publication_type": publication_type,
                         "peer_reviewed": "true" if peer_reviewed else "false", "url": url},
        "arms": {"arm_id": arm_id, "study_id": study_id, "product_id": product_id, "disease_id": disease_id,
                 "n_treated": "" if n_treated is None else str(n_treated), "publication_id": publication_id, "locator": locator, "quote": quote},
    }
    ids = {"study_id": study_id, "publication_id": publication_id, "arm_id": arm_id}
    with tempfile.TemporaryDirectory() as tmp:
        copy = Path(tmp) / "pkg"
        shutil.copytree(package.parent, copy)
        for table, row in rows.items():
            _append(copy / "data" / f"{table}.csv", row)
        report = validate(copy / package.name)
        if not report.valid:
            return ids, report.problems
        for table in rows:
            shutil.copyfile(copy / "data" / f"{table}.csv", data / f".{table}.csv.new")
        for table in rows:
            (data / f".{table}.csv.new").replace(data / f"{table}.csv")
    formatted = fmt(package)
    ids["files"] = list(dict.fromkeys([*(data / f"{table}.csv" for table in rows), *formatted]))
    return ids, []
