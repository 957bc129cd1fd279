"""Reliability: outputs never replace what a user made, strict types, safe inputs, releases.

Each failure mode of docs/reliability.md has a test here (or in tests/test_corruption.py).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from carte_evidence.cli.main import app
from carte_evidence.outputs.owned import MARKER, OutputBusy, OutputRefused, output_lock, owned_directory
from carte_evidence.package.atomic import replace_path

runner = CliRunner()


def _ok(result):
    assert result.exit_code == 0, result.output
    return result


def _refused(result):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result


# ---- 1. outputs -------------------------------------------------------------------------------

def test_tables_refuses_a_folder_it_did_not_write_and_force_replaces_it(mini, tmp_path):
    out = tmp_path / "work"
    out.mkdir()
    (out / "analysis.R").write_text("my script")
    result = _refused(runner.invoke(app, ["tables", str(mini), "-o", str(out)]))
    assert "not empty" in result.output and "--force" in result.output
    assert (out / "analysis.R").read_text() == "my script"
    _ok(runner.invoke(app, ["tables", str(mini), "-o", str(out), "--force"]))
    assert not (out / "analysis.R").exists() and (out / MARKER).exists()


def test_tables_rewrites_its_own_folder(mini, tmp_path):
    out = tmp_path / "t"
    _ok(runner.invoke(app, ["tables", str(mini), "-o", str(out)]))
    (out / "stale.csv").write_text("from an earlier run")
    _ok(runner.invoke(app, ["tables", str(mini), "-o", str(out)]))
    assert not (out / "stale.csv").exists()  # the folder is the command's own: replaced whole


def test_output_of_another_command_is_refused(mini, tmp_path):
    out = tmp_path / "g"
    _ok(runner.invoke(app, ["grade", str(mini), "-o", str(out)]))
    result = _refused(runner.invoke(app, ["tables", str(mini), "-o", str(out)]))
    assert "carte grade" in result.output


def test_never_replaces_the_current_folder_even_with_force(mini, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "keep.txt").write_text("x")
    result = _refused(runner.invoke(app, ["tables", str(mini), "-o", ".", "--force"]))
    assert "current folder" in result.output and (tmp_path / "keep.txt").exists()


@pytest.mark.parametrize("fmt", ["xlsx", "sqlite", "duckdb"])
def test_export_file_refuses_a_file_not_made_by_carte(mini, tmp_path, fmt):
    target = tmp_path / f"notes.{fmt}"
    target.write_text("not an export")
    _refused(runner.invoke(app, ["export", str(mini), "-f", fmt, "-o", str(target)]))
    assert target.read_text() == "not an export"
    _ok(runner.invoke(app, ["export", str(mini), "-f", fmt, "-o", str(target), "--force"]))
    _ok(runner.invoke(app, ["export", str(mini), "-f", fmt, "-o", str(target)]))  # now carte's own: replaced


def test_export_file_onto_a_folder_is_refused(mini, tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "a.py").write_text("print(1)")
    result = _refused(runner.invoke(app, ["export", str(mini), "-f", "xlsx", "-o", str(folder)]))
    assert "folder" in result.output and (folder / "a.py").exists()


def test_export_csv_refuses_a_non_empty_folder(mini, tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    (folder / "a.py").write_text("print(1)")
    _refused(runner.invoke(app, ["export", str(mini), "-f", "csv", "-o", str(folder)]))
    assert (folder / "a.py").exists()


def test_build_keeps_exports_and_zips_in_dist(mini, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _ok(runner.invoke(app, ["export", str(mini), "-f", "xlsx"]))  # dist/carte-evidence.xlsx
    (tmp_path / "dist" / "carte-evidence-0.1.0.zip").write_bytes(b"zip")
    _ok(runner.invoke(app, ["build", str(mini), "--no-figures"]))
    _ok(runner.invoke(app, ["build", str(mini), "--no-figures"]))
    dist = tmp_path / "dist"
    assert (dist / "carte-evidence.xlsx").exists() and (dist / "carte-evidence-0.1.0.zip").read_bytes() == b"zip"
    assert (dist / "datapackage.json").exists() and (dist / MARKER).exists()
    # dist/ has the normal permissions, not mkdtemp's 0700
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(dist.stat().st_mode) == 0o777 & ~umask


def test_build_refuses_a_folder_of_other_files(mini, tmp_path):
    out = tmp_path / "project"
    out.mkdir()
    (out / "README.md").write_text("mine")
    _refused(runner.invoke(app, ["build", str(mini), "-o", str(out), "--no-figures"]))
    assert (out / "README.md").read_text() == "mine"


def test_stale_temporary_copies_are_removed_on_the_next_run(mini, tmp_path):
    out = tmp_path / "g"
    stale = tmp_path / ".g.carte-tmp-999-abc"
    stale.mkdir()
    (stale / "half.csv").write_text("x")
    old = tmp_path / ".g.carte-old-999"
    old.mkdir()
    _ok(runner.invoke(app, ["grade", str(mini), "-o", str(out)]))
    assert not stale.exists() and not old.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".g")) == []  # lock file removed too


def test_a_second_run_fails_clearly_while_the_first_holds_the_lock(mini, tmp_path):
    out = tmp_path / "g"
    with output_lock(out):
        with pytest.raises(OutputBusy):
            with owned_directory(out, "grade", wait=0):
                pass
        result = _refused(runner.invoke(app, ["grade", str(mini), "-o", str(out)], env={"CARTE_LOCK_WAIT": "0"}))
        assert "another carte run" in result.output
    _ok(runner.invoke(app, ["grade", str(mini), "-o", str(out)]))  # free again


def test_a_failed_run_leaves_the_previous_output(tmp_path):
    out = tmp_path / "o"
    with owned_directory(out, "test") as tmp:
        (tmp / "a.txt").write_text("first")
    with pytest.raises(RuntimeError):
        with owned_directory(out, "test") as tmp:
            (tmp / "a.txt").write_text("second")
            raise RuntimeError("killed")
    assert (out / "a.txt").read_text() == "first"
    assert [p.name for p in tmp_path.iterdir() if p.name != "o"] == []


def test_replace_path_swaps_folders_and_files(tmp_path):
    for directory in (True, False):
        target, new = tmp_path / f"t{directory}", tmp_path / f"n{directory}"
        if directory:
            target.mkdir(), new.mkdir()
            (target / "v").write_text("old"), (new / "v").write_text("new")
        else:
            target.write_text("old"), new.write_text("new")
        replace_path(new, target)
        assert ((target / "v") if directory else target).read_text() == "new" and not new.exists()


def test_owned_directory_refusal_is_an_exception_for_library_users(tmp_path):
    (tmp_path / "x").write_text("file")
    with pytest.raises(OutputRefused):
        with owned_directory(tmp_path / "x", "test"):
            pass


def test_grade_with_a_missing_rubric_is_a_usage_error(mini):
    result = _refused(runner.invoke(app, ["grade", str(mini), "--rubric", "/nonexistent.yaml"]))
    assert "nonexistent.yaml" in result.output


def test_report_out_onto_a_folder_is_a_usage_error(mini, tmp_path):
    _refused(runner.invoke(app, ["trials", str(mini), "-o", str(tmp_path)]))


# ---- 6. contributors: fmt and new never lose data, never edit the installed package ---------------

from carte_evidence.maintain.fmt import FmtError, fmt  # noqa: E402
from conftest import edit  # noqa: E402


def test_fmt_refuses_a_row_with_more_fields_than_the_header(mini):
    edit(mini / "data" / "arms.csv", "Ten patients were treated.", "Ten patients, all women, were treated.")
    before = (mini / "data" / "arms.csv").read_bytes()
    result = runner.invoke(app, ["fmt", str(mini)])
    assert result.exit_code == 1 and "arms.csv" in result.output and "line 2 has 22 fields" in result.output
    assert (mini / "data" / "arms.csv").read_bytes() == before


def test_fmt_refuses_a_duplicated_column(mini):
    path = mini / "data" / "outcomes.csv"
    path.write_text(path.read_text().replace("quote,notes", "quote,quote", 1))
    with pytest.raises(FmtError, match="outcomes.csv:1.*quote"):
        fmt(mini)


def test_fmt_names_a_windows_1252_file(mini):
    path = mini / "data" / "studies.csv"
    path.write_bytes(path.read_bytes().replace(b"Study one", "Study \u00e9".encode("cp1252")))
    result = runner.invoke(app, ["fmt", str(mini)])
    assert result.exit_code == 1 and "studies.csv:2" in result.output and "UTF-8" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", [["fmt"], ["new", "--name", "X", "--design", "case report", "--disease", "sle", "--product", "prod-a",
                                                "--first-author", "A", "--year", "2025", "--title", "T", "--publication-type", "case report",
                                                "--peer-reviewed", "--url", "https://example.org/x"]])
def test_fmt_and_new_refuse_the_installed_package_without_a_path(tmp_path, monkeypatch, command):
    from carte_evidence.package.paths import shipped_package

    monkeypatch.chdir(tmp_path)  # no ./datapackage here
    before = {p.name: p.read_bytes() for p in (shipped_package().parent / "data").iterdir()}
    result = _refused(runner.invoke(app, command))
    assert "installed with carte-evidence" in result.output
    assert {p.name: p.read_bytes() for p in (shipped_package().parent / "data").iterdir()} == before


def test_fmt_prints_what_it_wrote(mini):
    edit(mini / "data" / "studies.csv", "Study one", " Study one ")
    result = _ok(runner.invoke(app, ["fmt", str(mini)]))
    assert f"reformatted {mini / 'data' / 'studies.csv'}" in result.output


# ---- 7. releases ------------------------------------------------------------------------------------

def test_every_version_agrees():
    import tomllib

    import carte_evidence
    from carte_evidence.maintain.release import versions
    from conftest import ROOT

    found = versions(ROOT)
    assert set(found) == {"schemas/resources.yaml", "datapackage/datapackage.json", "CITATION.cff", "src/carte_evidence/__init__.py"}
    assert set(found.values()) == {carte_evidence.__version__}, found
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in project["project"]["dynamic"] and "version" not in project["project"]
    assert project["tool"]["hatch"]["version"]["path"] == "src/carte_evidence/__init__.py"


def test_release_refuses_without_a_base(tmp_path):
    from test_maintenance import release_repo

    repo, _ = release_repo(tmp_path)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    result = _refused(runner.invoke(app, ["release", "--root", str(repo)]))
    assert "--since" in result.output and "git tag v" in result.output
    assert {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts} == before


def test_a_release_killed_before_its_commit_leaves_the_tree_as_it_was(tmp_path, monkeypatch):
    import carte_evidence.maintain.release as rel
    from test_maintenance import release_repo

    repo, empty = release_repo(tmp_path)
    before = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # stands for SIGKILL at the last moment before the files move

    monkeypatch.setattr(rel, "_commit", killed)
    with pytest.raises(KeyboardInterrupt):
        rel.release(repo, "patch", str(empty), figures=False)
    monkeypatch.undo()
    after = {p: p.read_bytes() for p in repo.rglob("*") if p.is_file() and ".git" not in p.parts}
    staged = [p for p in after if p not in before]
    assert all(".carte-tmp-" in p.name for p in staged)  # only staged copies, cleaned by the next run
    assert {p: b for p, b in after.items() if p in before} == before


def test_a_release_killed_while_moving_files_is_completed_by_the_next_run(tmp_path, monkeypatch):
    import carte_evidence.maintain.release as rel
    from test_maintenance import release_repo

    repo, empty = release_repo(tmp_path)
    real_replace, calls = os.replace, []

    def replace(a, b):
        calls.append(b)
        if len(calls) == 3:  # the journal, the zip, then killed before the third file
            raise KeyboardInterrupt
        return real_replace(a, b)

    monkeypatch.setattr(rel.os, "replace", replace)
    with pytest.raises(KeyboardInterrupt):
        rel.release(repo, "patch", str(empty), figures=False)
    monkeypatch.undo()
    assert (repo / rel.JOURNAL).exists()
    result = _ok(runner.invoke(app, ["release", "--root", str(repo)]))
    assert "completed the interrupted release" in result.output
    version = rel.current_version(repo)
    assert set(rel.versions(repo).values()) == {version}
    assert (repo / "dist" / f"carte-evidence-{version}.zip").exists() and f"## [{version}]" in (repo / "CHANGELOG.md").read_text()
    assert not (repo / rel.JOURNAL).exists()


def test_exports_carry_title_version_licence_citation_and_date(mini, tmp_path):
    import sqlite3

    import duckdb
    import pandas as pd

    from carte_evidence.outputs.export import export

    sqlite_file = export("sqlite", tmp_path / "c.sqlite", mini)
    with sqlite3.connect(sqlite_file) as con:
        meta = dict(con.execute("SELECT key, value FROM metadata").fetchall())
    assert {"title", "version", "licence", "citation", "date"} <= set(meta) and meta["licence"] == "CC-BY-4.0"
    duck_file = export("duckdb", tmp_path / "c.duckdb", mini)
    with duckdb.connect(str(duck_file), read_only=True) as con:
        assert dict(con.execute("SELECT key, value FROM metadata").fetchall()) == meta
    xlsx = export("xlsx", tmp_path / "c.xlsx", mini)
    head = pd.read_excel(xlsx, sheet_name="README", header=None, nrows=5)
    assert dict(zip(head[0], head[1])) == {k: meta[k] for k in ("title", "version", "licence", "citation", "date")}


def test_xlsx_export_survives_nul_and_escape_and_neutralises_hidden_formulas(monkeypatch, tmp_path):
    import pandas as pd

    import carte_evidence.outputs.export as ex

    frame = pd.DataFrame({"a": pd.array(["x\x00y", "\x1b[31mred", "\uff1d1+1", "\x00=cmd()", "ok"], dtype="string")})
    safe = ex._xlsx_safe(ex.neutralise_formulas(frame))
    assert safe["a"].tolist() == ["x\\x00y", "'\\x1b[31mred", "'\uff1d1+1", "'\\x00=cmd()", "ok"]
    with pd.ExcelWriter(tmp_path / "x.xlsx", engine="openpyxl") as writer:
        safe.to_excel(writer, index=False)
    assert pd.read_excel(tmp_path / "x.xlsx")["a"].tolist() == safe["a"].tolist()


# ---- 2, 4. strict types, hints a clinician understands, structural problems first --------------------

from carte_evidence import validate  # noqa: E402


def _problems(pkg):
    return [(p.file, p.line, p.column, p.rule, p.hint) for p in validate(pkg).problems]


def test_enum_case_mismatch_is_one_problem_with_did_you_mean(mini):
    edit(mini / "data" / "adverse_events.csv", ",crs,ASTCT,any", ",CRS,ASTCT,any")
    assert _problems(mini) == [("data/adverse_events.csv", 2, "event", "case", "did you mean crs?")]


def test_foreign_key_case_mismatch_is_one_problem_with_did_you_mean(mini):
    # The id breaks both the id pattern and the foreign key; one problem names the id it means.
    edit(mini / "data" / "outcomes.csv", "study-one.sle.o2,study-one.sle,", "study-one.sle.o2,study-one.SLE,")
    on_arm = [p for p in _problems(mini) if p[2] == "arm_id"]
    assert on_arm == [("data/outcomes.csv", 3, "arm_id", "case", "did you mean study-one.sle?")]


def test_unknown_in_an_optional_count_says_leave_it_empty(mini):
    edit(mini / "data" / "arms.csv", ",30,20,45,8,", ",30,20,45,unknown,")
    assert _problems(mini) == [("data/arms.csv", 2, "n_female", "type-integer", "leave it empty when unknown")]


def test_a_date_in_another_form_gets_the_date_hint(mini):
    edit(mini / "data" / "trials.csv", "2025-01,", "12/03/2024,")
    [(file, line, column, rule, hint)] = _problems(mini)
    assert (file, line, column, rule) == ("data/trials.csv", 2, "status_seen_date", "date") and "e.g. 2024-03-12" in hint


def test_blank_lines_keep_line_numbers(mini):
    path = mini / "data" / "arms.csv"
    lines = path.read_text().split("\n")
    lines.insert(2, "")
    path.write_text("\n".join(lines).replace(",4,1 x", ",four,1 x"))
    found = {(line, column, rule) for _, line, column, rule, _ in _problems(mini)}
    assert found == {(3, None, "blank-row"), (4, "n_treated", "type-integer")}


def test_an_excel_saved_file_is_reported_first_without_cascade(mini):
    path = mini / "data" / "arms.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_text().replace(",", ";").encode())
    edit(mini / "data" / "studies.csv", "case series", "case-series")  # one real mistake elsewhere
    problems = validate(mini).problems
    assert [p.file for p in problems[:3]] == ["data/arms.csv"] * 3
    assert {p.rule for p in problems if p.file == "data/arms.csv"} == {"byte-order-mark", "delimiter", "checks-skipped"}
    assert [p.rule for p in problems if p.file != "data/arms.csv"] == ["enum"]
