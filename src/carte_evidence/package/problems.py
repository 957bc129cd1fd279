"""A problem found in the data: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from typing import NamedTuple


class Problem(NamedTuple):
    """One problem in one cell (or row, or file) of the data package.

    ``line`` is the 1-based line of the CSV file (1 = header); ``None`` for a problem of the
    whole file. ``column`` is ``None`` for a problem of a whole row or file.

    Immutable, hashable and ordered by its fields. A named tuple rather than a frozen dataclass:
    a package with a problem in every row makes hundreds of thousands of them, and a tuple is
    made about 3.5 times faster.
    """

    file: str
    line: int | None
    column: str | None
    value: str | None
    rule: str
    message: str
    hint: str = ""

    def to_dict(self) -> dict:
        """The problem as a plain JSON-ready dict."""
        return self._asdict()

    def __str__(self) -> str:
        return text(*self)


def text(file: str, line: int | None, column: str | None, value: str | None, rule: str, message: str, hint: str = "") -> str:
    """A problem's one line of text, from its fields (``starmap(text, problems)`` words a long
    list without a method call per problem)."""
    where = file if line is None else f"{file}:{line}"
    col = f" [{column}]" if column else ""
    val = f" value {value!r}:" if value not in (None, "") else ""
    return f"{where}{col}{val} {message} (hint: {hint})" if hint else f"{where}{col}{val} {message}"


class ValidationError(Exception):
    """Raised by :func:`carte_evidence.load` when the package is not valid."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the data package:\n{head}{more}")
