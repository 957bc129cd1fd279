"""A problem found in the data: where it is, what is wrong, how to fix it."""

from __future__ import annotations

from typing import Iterable, NamedTuple


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


def column_part(column: str | None) -> str:
    return f" [{column}]" if column else ""


def value_part(value: str | None) -> str:
    return f" value {value!r}:" if value not in (None, "") else ""


def tail_part(message: str, hint: str | None) -> str:
    return f" {message} (hint: {hint})" if hint else f" {message}"


def text(file: str, line: int | None, column: str | None, value: str | None, rule: str, message: str, hint: str = "") -> str:
    """A problem's one line of text: where (file and line), the column, the value, the message and
    the hint (each part also worded once per distinct value by the text report of a
    :class:`ProblemTable`, :func:`carte_evidence.outputs.problem_report.render_problems`)."""
    where = file if line is None else f"{file}:{line}"
    return f"{where}{column_part(column)}{value_part(value)}{tail_part(message, hint)}"


FIELDS = Problem._fields
FILE, LINE, COLUMN, VALUE, RULE, MESSAGE, HINT = range(len(FIELDS))  # a field's position in a Problem and a ProblemTable


class ProblemTable:
    """Problems as columns: one numpy object array per field of :class:`Problem`, in its order.

    A package with a problem in every row has hundreds of thousands of them; they are collected,
    cleaned, sorted and printed a column at a time (:mod:`~carte_evidence.package.triage`), and
    made into :class:`Problem` tuples only when asked for (:meth:`to_list`). Each column is also
    kept as codes into its distinct values (:meth:`codes`), worked out once: the problems of one
    check share their file, column, rule, message and hint, so those cost nothing to code.
    """

    __slots__ = ("columns", "_codes")

    def __init__(self, columns, codes: dict | None = None):
        self.columns = tuple(columns)
        self._codes = dict(codes or {})

    @classmethod
    def of(cls, problems: Iterable[Problem]) -> "ProblemTable":
        """The table of a list of problems."""
        import numpy as np

        problems = list(problems)
        n = len(problems)
        fields = zip(*problems) if n else [()] * len(FIELDS)
        return cls(np.fromiter(values, dtype=object, count=n) for values in fields)

    @classmethod
    def group(cls, file: str, lines: list, column: str | None, values: list, rule: str, message: str, hint: str) -> "ProblemTable":
        """Problems of one check in one column: one file, column, rule, message and hint; a line
        and a value each (``lines`` and ``values``: lists of equal length)."""
        import numpy as np

        n = len(lines)
        same = {FILE: file, COLUMN: column, RULE: rule, MESSAGE: message, HINT: hint}

        def repeated(value) -> "np.ndarray":
            out = np.empty(n, dtype=object)
            out.fill(value)  # (one object in every row; np.full would copy a string per row)
            return out

        columns = [repeated(same[i]) if i in same else np.fromiter(lines if i == LINE else values, dtype=object, count=n) for i in range(len(FIELDS))]
        return cls(columns, {i: (np.zeros(n, dtype=np.int64), [value]) for i, value in same.items()})

    @classmethod
    def concat(cls, tables: Iterable["ProblemTable"]) -> "ProblemTable":
        """The problems of several tables, one after the other (the codes each has, merged)."""
        import numpy as np

        tables = [t for t in tables if len(t)] or list(tables)[:1]
        if not tables:
            return cls.of([])
        if len(tables) == 1:
            return tables[0]
        codes = {}
        for i in range(len(FIELDS)):
            if i in (LINE, VALUE) and any(i not in t._codes for t in tables):
                continue  # lines and values (a value of their own in each row): coded once, if needed
            parts = [t.codes(i) for t in tables]
            index: dict = {}
            remapped = [np.array([index.setdefault(v, len(index)) for v in distinct], dtype=np.int64)[c] if distinct else c for c, distinct in parts]
            codes[i] = (np.concatenate(remapped), list(index))
        return cls((np.concatenate([t.columns[i] for t in tables]) for i in range(len(FIELDS))), codes)

    def codes(self, field: int) -> tuple:
        """(each row's code, the distinct values) of one field (by its position; None is a value)."""
        import numpy as np
        import pandas as pd

        if field not in self._codes:
            column = self.columns[field]
            if field == LINE:  # lines (whole numbers, or None): coded by a sort of the numbers, not by hashing objects
                empty = pd.isna(column)
                lines = np.where(empty, 0, column).astype(np.int64)
                numbers, codes = np.unique(lines[~empty], return_inverse=True)
                out = np.zeros(len(column), dtype=np.int64)  # code 0: no line
                out[~empty] = codes.ravel() + 1
                self._codes[field] = (out, [None, *numbers.tolist()])
                return self._codes[field]
            codes, distinct = pd.factorize(column, use_na_sentinel=False)
            self._codes[field] = (codes.astype(np.int64), [None if v is None or v != v else v for v in distinct.tolist()])
        return self._codes[field]

    def __len__(self) -> int:
        return len(self.columns[0])

    def take(self, rows) -> "ProblemTable":
        """The problems at ``rows`` (an index array or a boolean mask), in that order."""
        return ProblemTable((c[rows] for c in self.columns), {i: (codes[rows], distinct) for i, (codes, distinct) in self._codes.items()})

    def with_value(self, field: int, rows, value) -> "ProblemTable":
        """A copy with ``value`` in one field at ``rows`` (its codes kept up to date)."""
        column = self.columns[field].copy()
        column[rows] = value
        codes = dict(self._codes)
        if field in codes:
            numbers, distinct = codes[field]
            numbers = numbers.copy()
            if value in distinct:
                numbers[rows] = distinct.index(value)
            else:
                numbers[rows], distinct = len(distinct), [*distinct, value]
            codes[field] = (numbers, distinct)
        return ProblemTable((column if i == field else c for i, c in enumerate(self.columns)), codes)

    def replaced(self, changes: dict) -> "ProblemTable":
        """A copy with some columns replaced (``changes``: field position -> new column)."""
        return ProblemTable((changes.get(i, c) for i, c in enumerate(self.columns)), {i: v for i, v in self._codes.items() if i not in changes})

    def to_list(self) -> list[Problem]:
        return list(map(Problem, *(c.tolist() for c in self.columns)))


class ValidationError(Exception):
    """Raised by :func:`carte_evidence.load` when the package is not valid."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        head = "\n".join(str(p) for p in problems[:20])
        more = f"\n... and {len(problems) - 20} more" if len(problems) > 20 else ""
        super().__init__(f"{len(problems)} problem(s) in the data package:\n{head}{more}")
