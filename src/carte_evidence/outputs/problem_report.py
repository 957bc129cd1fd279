"""Render validation problems as text, JSON or GitHub Actions annotations."""

from __future__ import annotations

import json
from itertools import starmap
from pathlib import Path

from carte_evidence.package.problems import ProblemTable, text


def _gh_escape(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def render_problems(problems, fmt: str = "text", base: Path | None = None) -> str:
    """The problems in one of the formats of `carte validate --format`.

    ``problems``: a list of Problems or a ProblemTable (the text is then made from its columns,
    without a Problem per row). ``base`` is prefixed to file paths in GitHub annotations so they
    point into the repository.
    """
    if fmt == "text" and isinstance(problems, ProblemTable):
        body = "\n".join(starmap(text, zip(*(column.tolist() for column in problems.columns))))
        return f"{body}\n{len(problems)} problem(s) found." if len(problems) else "valid: no problems found."
    if isinstance(problems, ProblemTable):
        problems = problems.to_list()
    if fmt == "json":
        return json.dumps([p.to_dict() for p in problems], indent=2, ensure_ascii=False)
    if fmt == "github":
        lines = []
        for p in problems:
            file = str(base / p.file) if base else p.file
            where = f"file={file}" + (f",line={p.line}" if p.line else "")
            title = f"{p.rule}" + (f" in {p.column}" if p.column else "")
            msg = p.message + (f" (value {p.value!r})" if p.value else "") + (f". Hint: {p.hint}" if p.hint else "")
            lines.append(f"::error {where},title={_gh_escape(title)}::{_gh_escape(msg)}")
        return "\n".join(lines)
    body = "\n".join(starmap(text, problems))  # (a Problem is the tuple of text's arguments)
    return f"{body}\n{len(problems)} problem(s) found." if problems else "valid: no problems found."
