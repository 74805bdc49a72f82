"""``chunk search --where`` on a Parquet file: the SQL filter subset that LanceDB also accepts,
turned into a pyarrow compute expression, so one ``--where`` works on both kinds of index.

Supported: comparisons (``= != <> < <= > >=``), ``[NOT] LIKE``, ``[NOT] IN (...)``,
``IS [NOT] NULL``, ``[NOT] BETWEEN a AND b``, ``AND``/``OR``/``NOT``, parentheses; string literals
in single quotes ('' escapes a quote), numbers, TRUE/FALSE/NULL; columns bare or in double quotes
or backticks.
"""

from __future__ import annotations

import re
from typing import Any

from chunkwise.errors import UsageError

_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)"
    r"|(?P<qid>\"[^\"]+\"|`[^`]+`)|(?P<op><>|!=|<=|>=|=|<|>|\(|\)|,)|(?P<word>[A-Za-z_]\w*))"
)
_KEYWORDS = {"AND", "OR", "NOT", "LIKE", "IN", "IS", "NULL", "TRUE", "FALSE", "BETWEEN"}


def _tokens(text: str) -> list[tuple[str, Any]]:
    out: list[tuple[str, Any]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise UsageError(f"--where: cannot read {text[pos:].strip()[:30]!r}")
        pos = m.end()
        kind = m.lastgroup
        value = m.group(kind) if kind else ""
        if kind == "str":
            out.append(("lit", value[1:-1].replace("''", "'")))
        elif kind == "num":
            out.append(("lit", float(value) if any(c in value for c in ".eE") else int(value)))
        elif kind == "qid":
            out.append(("col", value[1:-1]))
        elif kind == "word" and value.upper() in _KEYWORDS:
            out.append(("kw", value.upper()))
        elif kind == "word":
            out.append(("col", value))
        else:
            out.append(("op", value))
    return out


class _Parser:
    def __init__(self, text: str, columns: set[str]) -> None:
        self.toks = _tokens(text)
        self.i = 0
        self.columns = columns

    def peek(self, kind: str, value: Any = None) -> bool:
        if self.i >= len(self.toks):
            return False
        k, v = self.toks[self.i]
        return k == kind and (value is None or v == value)

    def take(self, kind: str, value: Any = None) -> Any:
        if not self.peek(kind, value):
            got = self.toks[self.i][1] if self.i < len(self.toks) else "the end"
            raise UsageError(f"--where: expected {value or kind}, found {got!r}")
        self.i += 1
        return self.toks[self.i - 1][1]

    def parse(self) -> Any:
        expr = self.or_()
        if self.i != len(self.toks):
            raise UsageError(f"--where: unexpected {self.toks[self.i][1]!r}")
        return expr

    def or_(self) -> Any:
        expr = self.and_()
        while self.peek("kw", "OR"):
            self.i += 1
            expr = expr | self.and_()
        return expr

    def and_(self) -> Any:
        expr = self.not_()
        while self.peek("kw", "AND"):
            self.i += 1
            expr = expr & self.not_()
        return expr

    def not_(self) -> Any:
        if self.peek("kw", "NOT"):
            self.i += 1
            return ~self.not_()
        return self.predicate()

    def operand(self) -> Any:
        import pyarrow.compute as pc

        if self.peek("col"):
            name = self.take("col")
            if name not in self.columns:
                raise UsageError(
                    f"--where: no column {name!r}; columns: {', '.join(sorted(self.columns))}"
                )
            return pc.field(name)
        return pc.scalar(self.literal())

    def literal(self) -> Any:
        if self.peek("lit"):
            return self.take("lit")
        for word, value in (("TRUE", True), ("FALSE", False), ("NULL", None)):
            if self.peek("kw", word):
                self.i += 1
                return value
        got = self.toks[self.i][1] if self.i < len(self.toks) else "the end"
        raise UsageError(f"--where: expected a value, found {got!r}")

    def predicate(self) -> Any:
        import pyarrow.compute as pc

        if self.peek("op", "("):
            self.i += 1
            expr = self.or_()
            self.take("op", ")")
            return expr
        left = self.operand()
        if self.peek("kw", "IS"):
            self.i += 1
            negate = self.peek("kw", "NOT")
            self.i += negate
            self.take("kw", "NULL")
            return ~left.is_null() if negate else left.is_null()
        negate = self.peek("kw", "NOT")
        self.i += negate
        if self.peek("kw", "LIKE"):
            self.i += 1
            pattern = self.take("lit")
            expr = pc.match_like(left, pattern=str(pattern))
        elif self.peek("kw", "IN"):
            self.i += 1
            self.take("op", "(")
            values = [self.literal()]
            while self.peek("op", ","):
                self.i += 1
                values.append(self.literal())
            self.take("op", ")")
            expr = left.isin(values)
        elif self.peek("kw", "BETWEEN"):
            self.i += 1
            low = self.operand()
            self.take("kw", "AND")
            high = self.operand()
            expr = (left >= low) & (left <= high)
        elif negate:
            raise UsageError("--where: NOT must be followed by LIKE, IN or BETWEEN here")
        else:
            op = self.take("op")
            right = self.operand()
            ops = {
                "=": left.__eq__,
                "!=": left.__ne__,
                "<>": left.__ne__,
                "<": left.__lt__,
                "<=": left.__le__,
                ">": left.__gt__,
                ">=": left.__ge__,
            }
            if op not in ops:
                raise UsageError(f"--where: unexpected {op!r}")
            return ops[op](right)
        return ~expr if negate else expr


def parse_where(text: str, columns: set[str]) -> Any:
    """A pyarrow compute expression for ``text``; a clear UsageError when it cannot be read."""
    if not text.strip():
        raise UsageError("--where is empty")
    return _Parser(text, columns).parse()
