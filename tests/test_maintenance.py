"""fmt, diff and release: contributors' and maintainers' commands."""

from __future__ import annotations

import csv
import io
import shutil
import subprocess
import zipfile

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from carte_evidence.cli.main import app
from carte_evidence.maintain.diff import diff, render_diff
from carte_evidence.maintain.fmt import canonical_text, fmt
from carte_evidence.maintain.release import bump
from carte_evidence.package.schema import table_schema
from conftest import REAL, ROOT, edit

runner = CliRunner()


def _values(text: str) -> set[tuple]:
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    header = [h.strip() for h in rows[0]]
    return {tuple(sorted((h, c.strip()) for h, c in zip(header, r))) for r in rows[1:] if any(x.strip() for x in r)}


def test_real_package_is_in_canonical_form():
    changed = fmt(REAL, check=True)
    assert changed == [], f"not canonical: {changed} (fix: carte fmt)"


def test_fmt_fixes_and_is_idempotent(mini):
    fmt(mini)  # the fixture's rows are in a hand-chosen order; start from canonical form
    path = mini / "data" / "studies.csv"
    original = path.read_text(encoding="utf-8")
    lines = original.splitlines()
    messy = "\ufeff" + lines[0] + "\r\n" + "\r\n".join(reversed(lines[1:])).replace("Centre one", " Centre one ") + "\r\n"
    path.write_text(messy, encoding="utf-8")
    assert runner.invoke(app, ["fmt", str(mini), "--check"]).exit_code == 1
    assert fmt(mini) == [path]
    assert path.read_text(encoding="utf-8") == original
    assert fmt(mini) == []
    assert runner.invoke(app, ["fmt", str(mini), "--check"]).exit_code == 0


cell = st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"], blacklist_characters="\ufeff"), max_size=12)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.from_regex(r"[a-z][a-z0-9]{0,6}", fullmatch=True), cell, cell), min_size=0, max_size=8, unique_by=lambda r: r[0]))
def test_fmt_preserves_every_value(rows):
    schema = table_schema("events")
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["description", "event_id", "name"])  # wrong column order on purpose
    writer.writerows([(d, i, n) for i, n, d in rows])
    once = canonical_text(out.getvalue(), schema)
    assert canonical_text(once, schema) == once
    assert _values(once) == _values(out.getvalue())
    assert once.splitlines()[0] == "event_id,name,description"


def test_diff_finds_exactly_the_changes(mini, tmp_path):
    new = tmp_path / "new"
    shutil.copytree(mini, new)
    edit(new / "data" / "arms.csv", "study-one.sle,study-one,prod-a,sle,,,10,", "study-one.sle,study-one,prod-a,sle,,,12,")
    with open(new / "data" / "events.csv", "a", encoding="utf-8") as handle:
        handle.write("zz_new,New event,A test event.\n")
    lines = (new / "data" / "outcomes.csv").read_text(encoding="utf-8").splitlines()
    (new / "data" / "outcomes.csv").write_text("\n".join(line for line in lines if not line.startswith("study-two.sle.o1")) + "\n", encoding="utf-8")
    frame = diff(mini, new)
    assert sorted(map(tuple, frame[["table", "record", "change", "field", "old", "new"]].astype(object).where(frame.notna(), None).values.tolist())) == [
        ("arms", "study-one.sle", "changed", "n_treated", "10", "12"),
        ("events", "zz_new", "added", None, None, None),
        ("outcomes", "study-two.sle.o1", "removed", None, None, None),
    ]
    markdown = render_diff(frame, "markdown")
    assert "- changed `study-one.sle`: n_treated: `10` -> `12`" in markdown
    result = runner.invoke(app, ["diff", str(mini), str(new), "--format", "json"])
    assert result.exit_code == 0 and '"n_treated"' in result.output
    assert render_diff(diff(mini, mini)) == "No changes.\n"


def test_diff_against_git_ref():
    # HEAD's committed package against the working tree: runs through `git archive`
    frame = diff("HEAD", REAL)
    assert list(frame.columns) == ["table", "record", "change", "field", "old", "new"]
    assert runner.invoke(app, ["diff", "no-such-ref-xyz"]).exit_code == 2


@pytest.mark.parametrize("version, part, expected", [("0.1.0", "patch", "0.1.1"), ("0.1.9", "minor", "0.2.0"), ("1.4.2", "major", "2.0.0")])
def test_bump(version, part, expected):
    assert bump(version, part) == expected


def release_repo(tmp_path):
    """A repository to release: the schema files, root documents and the small package."""
    from conftest import make_package

    repo = tmp_path / "repo"
    shutil.copytree(ROOT / "schemas", repo / "schemas")
    for name in ("README.md", "LICENSE-DATA", "CITATION.cff"):
        shutil.copy(ROOT / name, repo / name)
    make_package(repo / "datapackage")
    fmt(repo / "datapackage")
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    empty = tmp_path / "empty"  # the base to compare with: the same package without rows
    (empty / "data").mkdir(parents=True)
    shutil.copy(repo / "datapackage" / "datapackage.json", empty / "datapackage.json")
    return repo, empty


def test_release_on_a_temporary_copy(tmp_path):
    repo, empty = release_repo(tmp_path)
    result = runner.invoke(app, ["release", "--bump", "minor", "--root", str(repo), "--since", str(empty)])
    assert result.exit_code == 0, result.output
    from carte_evidence.maintain.release import current_version, versions

    version = current_version(repo)
    assert version == bump(current_version(ROOT), "minor")
    assert set(versions(repo).values()) == {version}  # resources.yaml, datapackage.json, CITATION.cff
    changelog = (repo / "CHANGELOG.md").read_text()
    assert f"## [{version}]" in changelog and "### publications" in changelog
    with zipfile.ZipFile(repo / "dist" / f"carte-evidence-{version}.zip") as z:
        names = z.namelist()
        assert f'"version": "{version}"' in z.read(f"carte-evidence-{version}/datapackage.json").decode()
    top = f"carte-evidence-{version}/"
    for name in ("datapackage.json", "data/arms.csv", "derived/study_grades.csv", "README.md", "LICENSE-DATA", "CITATION.cff", "CHANGELOG.md"):
        assert top + name in names, name
    assert any(n.startswith(top + "figures/") for n in names) and any(n.startswith(top + "tables/") for n in names)


def test_release_refuses_an_invalid_tree(tmp_path):
    repo = tmp_path / "repo"
    for folder in ("schemas", "datapackage"):
        shutil.copytree(ROOT / folder, repo / folder)
    before = (repo / "schemas" / "resources.yaml").read_text()
    edit(repo / "datapackage" / "data" / "studies.csv", "case report", "case-report")
    result = runner.invoke(app, ["release", "--root", str(repo)])
    assert result.exit_code == 1
    assert (repo / "schemas" / "resources.yaml").read_text() == before
    assert not (repo / "dist").exists() and not (repo / "CHANGELOG.md").exists()


def test_new_scaffolds_a_valid_study(mini):
    from carte_evidence import validate

    args = ["new", str(mini), "--name", "CD19 CAR-T in SLE, Test Hospital", "--design", "case report", "--disease", "sle",
            "--product", "prod-a", "--first-author", "Müller", "--year", "2025", "--title", "A case", "--publication-type", "case report",
            "--peer-reviewed", "--url", "https://example.org/case", "--journal", "Test J", "--n-treated", "1", "--quote", "One patient."]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "added study cd19-car-t-in-sle-test-hospital, publication muller-2025-test-j" in result.output
    report = validate(mini)
    assert report.valid
    assert "cd19-car-t-in-sle-test-hospital.sle" in set(report.tables["arms"]["arm_id"])
    assert "wrote " + str(mini / "data" / "studies.csv") in result.output
    # the same study again is refused, with the way to add a new report of it
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "add a row to publications.csv with study_id cd19-car-t-in-sle-test-hospital" in again.output


def test_new_writes_nothing_when_invalid(mini):
    before = {p: p.read_bytes() for p in (mini / "data").iterdir()}
    result = runner.invoke(app, ["new", str(mini), "--name", "X", "--design", "case-report", "--disease", "sle", "--product", "nope",
                                 "--first-author", "A", "--year", "2025", "--title", "T", "--publication-type", "case report",
                                 "--no-peer-reviewed", "--url", "https://example.org/x"])
    assert result.exit_code == 1 and "nothing was written" in result.output
    assert {p: p.read_bytes() for p in (mini / "data").iterdir()} == before
