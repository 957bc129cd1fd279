"""Every command through typer's CliRunner."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from carte_evidence import validate
from carte_evidence.cli.main import app
from conftest import REAL, edit

runner = CliRunner()


def test_help_lists_commands():
    result = runner.invoke(app, ["--help"])
    assert result.exit_code == 0
    for command in ("validate", "build"):
        assert command in result.output


def test_validate_valid(mini):
    result = runner.invoke(app, ["validate", str(mini)])
    assert result.exit_code == 0
    assert "valid" in result.output


def test_validate_default_path_is_local_datapackage(mini, monkeypatch):
    monkeypatch.chdir(mini.parent)
    (mini.parent / "datapackage").symlink_to(mini)
    edit(mini / "data" / "studies.csv", "case series", "case-series")
    result = runner.invoke(app, ["validate"])
    assert result.exit_code == 1 and "case-series" in result.output


def test_validate_json_equals_library(mini):
    edit(mini / "data" / "outcomes.csv", "month 12,10,8,", "month 12,10,eight,")
    result = runner.invoke(app, ["validate", str(mini), "--format", "json"])
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data == validate(mini).to_list()
    assert {"file", "line", "column", "value", "message"} <= set(data[0])
    assert {"value": "eight", "line": 3, "column": "n_events"}.items() <= next(d for d in data if d["rule"] == "type-integer").items()


def test_validate_github_annotations(mini):
    edit(mini / "data" / "studies.csv", "case series", "case-series")
    result = runner.invoke(app, ["validate", str(mini), "--format", "github"])
    assert result.exit_code == 1
    line = result.output.strip().splitlines()[0]
    assert line.startswith("::error file=") and "studies.csv,line=3" in line


def test_validate_bad_input_no_traceback(mini):
    (mini / "data" / "arms.csv").write_text("garbage;data\n1;2\n", encoding="utf-8")
    result = runner.invoke(app, ["validate", str(mini)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output and "delimited" in result.output


def test_build_writes_release(mini, tmp_path):
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(mini), "--out", str(out)])
    assert result.exit_code == 0, result.output
    descriptor = json.loads((out / "datapackage.json").read_text())
    names = [r["name"] for r in descriptor["resources"]]
    assert "arms_wide" in names and "arms" in names
    assert (out / "data" / "arms.csv").read_bytes() == (mini / "data" / "arms.csv").read_bytes()


def test_build_failure_writes_nothing_and_keeps_previous(mini, tmp_path):
    out = tmp_path / "dist"
    assert runner.invoke(app, ["build", str(mini), "--out", str(out)]).exit_code == 0
    before = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    source_before = {p: p.read_bytes() for p in mini.rglob("*") if p.is_file()}
    edit(mini / "data" / "adverse_events.csv", "crs,ASTCT,any,7,10", "crs,ASTCT,any,11,10")
    source_before[mini / "data" / "adverse_events.csv"] = (mini / "data" / "adverse_events.csv").read_bytes()
    result = runner.invoke(app, ["build", str(mini), "--out", str(out)])
    assert result.exit_code == 1 and "n_events is larger than n_evaluable" in result.output
    after = {p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert {p: p.read_bytes() for p in mini.rglob("*") if p.is_file()} == source_before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dist")]


def test_build_real_package(tmp_path):
    result = runner.invoke(app, ["build", str(REAL), "--out", str(tmp_path / "dist")])
    assert result.exit_code == 0, result.output


def test_help_does_not_import_heavy_libraries():
    import subprocess
    import sys

    code = "import sys; from carte_evidence.cli.main import app; print(sorted(m for m in ('pandas','pandera','frictionless') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_validate_leaves_its_objects_to_the_end_of_its_own_process_only(mini):
    """`carte` run as a command (cli.main.main) ends its process with the command, so validate
    freezes what it made (gc.freeze) instead of having the collector walk it on the way out; the
    app called in a process that goes on (CliRunner here, a notebook) freezes nothing."""
    import gc
    import subprocess
    import sys

    code = ("import gc, sys; from carte_evidence.cli.main import main; sys.argv = ['carte', 'validate', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    print(done.code, gc.get_freeze_count() > 0, gc.isenabled())")
    out = subprocess.run([sys.executable, "-c", code, str(mini)], capture_output=True, text=True, check=True).stdout
    assert out.split()[-3:] == ["0", "True", "True"]
    frozen = gc.get_freeze_count()
    assert runner.invoke(app, ["validate", str(mini)]).exit_code == 0
    assert gc.get_freeze_count() == frozen and gc.isenabled()


def test_validate_low_memory_prints_the_same_report(mini):
    """`carte validate --low-memory` (tables read in blocks, only the columns checked across rows
    kept) prints what `carte validate` prints, in every format, valid or not."""
    from carte_evidence.package import parse

    for broken in (False, True):
        if broken:
            # a cell of a dropped column (a formula) and of a kept one (value_source's enum)
            edit(mini / "data" / "outcomes.csv", ",month 6,", ",=month 6,")
            edit(mini / "data" / "outcomes.csv", ",reported,source_reread,All 5", ",reportd,source_reread,All 5")
        for fmt in ("text", "json", "github"):
            whole = runner.invoke(app, ["validate", str(mini), "--format", fmt])
            parse_block, parse.ROW_BLOCK = parse.ROW_BLOCK, 200  # (several blocks per table)
            try:
                low = runner.invoke(app, ["validate", str(mini), "--format", fmt, "--low-memory"])
            finally:
                parse.ROW_BLOCK = parse_block
            assert (low.exit_code, low.output) == (whole.exit_code, whole.output), (broken, fmt)
            assert whole.exit_code == (1 if broken else 0)


def test_validate_reads_a_large_package_in_blocks_unless_told_otherwise(mini, monkeypatch):
    """`carte validate` reads in blocks (``validate(keep=...)``) a package of more CSV than
    LOW_MEMORY_FROM, and each table whole below it; --low-memory and --no-low-memory choose either
    way, whatever the size. The report is the same (see the test above)."""
    from carte_evidence.cli import validate as cli_validate
    from carte_evidence.package import validate as library
    from carte_evidence.package.validate import csv_bytes

    kept = []
    real = library.validate
    monkeypatch.setattr(library, "validate", lambda *args, keep=None, **kw: kept.append(keep) or real(*args, keep=keep, **kw))
    size = csv_bytes(mini)
    assert size == sum(f.stat().st_size for f in (mini / "data").glob("*.csv")) > 0
    for threshold, flag, in_blocks in ((size, None, False), (size - 1, None, True), (size - 1, "--no-low-memory", False),
                                       (size, "--low-memory", True)):
        monkeypatch.setattr(cli_validate, "LOW_MEMORY_FROM", threshold)
        result = runner.invoke(app, ["validate", str(mini), *([flag] if flag else [])])
        assert result.exit_code == 0, result.output
        assert (kept.pop() is not None) == in_blocks, (threshold, flag)


def test_csv_bytes_counts_the_files_validate_reads(mini):
    from carte_evidence.package.validate import csv_bytes

    descriptor = json.loads((mini / "datapackage.json").read_text(encoding="utf-8"))
    whole = csv_bytes(mini)
    descriptor["resources"][0]["path"] = "../outside.csv"  # refused by validate: not counted
    (mini / "datapackage.json").write_text(json.dumps(descriptor), encoding="utf-8")
    first = mini / "data" / f"{descriptor['resources'][0]['name']}.csv"
    assert csv_bytes(mini) == whole - first.stat().st_size
    (mini / "datapackage.json").write_text("[]", encoding="utf-8")
    assert csv_bytes(mini) == 0
    (mini / "datapackage.json").unlink()
    assert csv_bytes(mini) == 0


def test_low_memory_hands_freed_memory_back_in_its_own_process_only(mini):
    """`carte validate --low-memory` as its own process switches arrow to an allocator that hands
    freed memory back soon (jemalloc with a short decay; where this pyarrow has it); the app
    called in a process that goes on keeps the process's allocator."""
    import subprocess
    import sys

    import pyarrow as pa

    code = ("import sys, pyarrow as pa; from carte_evidence.cli.main import main; sys.argv = ['carte', 'validate', '--low-memory', sys.argv[1]]\n"
            "try:\n    main()\nexcept SystemExit as done:\n    print(done.code, pa.default_memory_pool().backend_name)")
    out = subprocess.run([sys.executable, "-c", code, str(mini)], capture_output=True, text=True, check=True).stdout
    try:
        pa.jemalloc_memory_pool()
        expected = "jemalloc"
    except (NotImplementedError, pa.ArrowException):
        expected = pa.default_memory_pool().backend_name  # (this pyarrow has no jemalloc: unchanged)
    assert out.split()[-2:] == ["0", expected]
    before = pa.default_memory_pool().backend_name
    assert runner.invoke(app, ["validate", str(mini), "--low-memory"]).exit_code == 0
    assert pa.default_memory_pool().backend_name == before
