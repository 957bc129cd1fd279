"""The CI workflow is valid YAML and runs the same test command as .ci/run."""

from __future__ import annotations

import re

import yaml

from conftest import ROOT


def test_workflow_runs_the_ci_commands():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "ci.yml").read_text())
    steps = workflow["jobs"]["check"]["steps"]
    runs = [s.get("run", "") for s in steps]
    ci = (ROOT / ".ci" / "run").read_text()
    install, test = re.search(r"(python3 -m venv \.venv && \.venv/bin/pip install -e '\.\[test\]') && (\.venv/bin/python -m pytest)", ci).groups()
    assert install in runs and test in runs
    assert {".venv/bin/carte fmt --check", ".venv/bin/carte validate --format github"} <= set(runs)
    assert any(r.startswith(".venv/bin/carte build") for r in runs)
    assert any(s.get("uses", "").startswith("actions/upload-artifact@") for s in steps)


def test_readme_starts_with_the_two_commands():
    readme = (ROOT / "README.md").read_text().splitlines()
    block = readme[readme.index("```sh") + 1: readme.index("```sh") + 3]
    assert block[0].endswith("carte build")
    assert block[1] in (ROOT / ".ci" / "run").read_text()


def test_issue_form_and_pr_template_exist():
    form = yaml.safe_load((ROOT / ".github" / "ISSUE_TEMPLATE" / "suggest-a-study.yml").read_text())
    assert any(item.get("id") == "identifier" and item["validations"]["required"] for item in form["body"])
    template = (ROOT / ".github" / "pull_request_template.md").read_text()
    for item in ("Source read", "Locator and quote", "Overlap checked", "Values checked twice"):
        assert item in template
