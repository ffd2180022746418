"""A small JQL parser: the subset of Jira's query language govflow and its tests use.

    query   := [or] [ORDER BY sort ("," sort)*]
    or      := and (OR and)*
    and     := unary (AND unary)*
    unary   := NOT unary | "(" or ")" | clause
    clause  := field op value
    op      := = | != | > | >= | < | <= | ~ | !~ | IN | NOT IN | IS | IS NOT
    value   := word | "quoted" | 'quoted' | EMPTY | NULL | name "(" [args] ")" | "(" value, ... ")"

Syntax errors are raised as `JqlError` with Jira's wording, ready to go into an
ErrorCollection; the meaning of fields and values is checked later, against the state.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OPERATORS = ("=", "!=", "<", ">", "<=", ">=", "~", "!~", "IN", "NOT IN", "IS", "IS NOT")
_OPERATOR_LIST = "'=', '!=', '<', '>', '<=', '>=', '~', '!~', 'IN', 'NOT IN', 'IS' and 'IS NOT'"
KEYWORDS = frozenset(
    {"AND", "OR", "NOT", "IN", "IS", "EMPTY", "NULL", "ORDER", "BY", "ASC", "DESC"}
)


class JqlError(Exception):
    """A query Jira would reject with 400; `str()` is the message Jira gives."""


@dataclass(frozen=True)
class Token:
    """A lexical token; `kind` is word, string, op, lparen, rparen, comma or end."""

    kind: str
    text: str
    pos: int

    @property
    def upper(self) -> str:
        """The text upper-cased, for keyword comparisons."""
        return self.text.upper() if self.kind == "word" else ""


@dataclass(frozen=True)
class Literal:
    """A single value as written; `quoted` keeps `"EMPTY"` apart from EMPTY."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class Empty:
    """The EMPTY / NULL keyword."""


@dataclass(frozen=True)
class Function:
    """A JQL function call such as `currentUser()` or `now()`."""

    name: str
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class ValueList:
    """A parenthesised list of values for IN / NOT IN."""

    items: tuple[Literal | Function, ...]


Value = Literal | Empty | Function | ValueList


@dataclass(frozen=True)
class Clause:
    """`field op value`."""

    field: str
    op: str
    value: Value
    pos: int


@dataclass(frozen=True)
class And:
    """All parts hold."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Or:
    """Any part holds."""

    parts: tuple[Node, ...]


@dataclass(frozen=True)
class Not:
    """The part does not hold."""

    part: Node


Node = Clause | And | Or | Not


@dataclass(frozen=True)
class SortKey:
    """One ORDER BY key."""

    field: str
    descending: bool


@dataclass(frozen=True)
class Query:
    """A parsed query: an optional condition and the ORDER BY keys."""

    where: Node | None
    order: tuple[SortKey, ...]


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<op>!=|>=|<=|!~|=|>|<|~|!)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<word>[^\s()=!<>~,"']+)
    """,
    re.VERBOSE,
)


def tokenize(text: str) -> list[Token]:
    """Split a query into tokens, or raise JqlError at the first character that fits none."""
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise JqlError(
                _at(f"The quoted string starting at character {pos + 1} is not closed", text, pos)
            )
        kind = match.lastgroup or ""
        if kind != "ws":
            raw = match.group()
            value = re.sub(r"\\(.)", r"\1", raw[1:-1]) if kind == "string" else raw
            tokens.append(Token(kind, value, pos))
        pos = match.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


def _at(message: str, text: str, pos: int) -> str:
    """Jira's error wording: the message, then where in the query it happened."""
    return f"Error in the JQL Query: {message}. (line 1, character {pos + 1})"


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.index = 0

    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def error(self, message: str, token: Token | None = None) -> JqlError:
        token = token or self.current
        return JqlError(_at(message, self.text, token.pos))

    def found(self, token: Token) -> str:
        return "the end of the query" if token.kind == "end" else f"'{token.text}'"

    def query(self) -> Query:
        where: Node | None = None
        if self.current.kind != "end" and self.current.upper != "ORDER":
            where = self.or_()
        order: tuple[SortKey, ...] = ()
        if self.current.upper == "ORDER":
            self.take()
            if self.current.upper != "BY":
                raise self.error(f"Expecting 'BY' but got {self.found(self.current)}")
            self.take()
            order = self.order_keys()
        if self.current.kind != "end":
            raise self.error(f"Expecting either 'OR' or 'AND' but got {self.found(self.current)}")
        return Query(where, order)

    def order_keys(self) -> tuple[SortKey, ...]:
        keys: list[SortKey] = []
        while True:
            token = self.take()
            if token.kind not in ("word", "string") or token.upper in KEYWORDS:
                raise self.error(f"Expecting a field name but got {self.found(token)}", token)
            descending = False
            if self.current.upper in ("ASC", "DESC"):
                descending = self.take().upper == "DESC"
            keys.append(SortKey(token.text, descending))
            if self.current.kind != "comma":
                return tuple(keys)
            self.take()

    def or_(self) -> Node:
        parts = [self.and_()]
        while self.current.upper == "OR":
            self.take()
            parts.append(self.and_())
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self) -> Node:
        parts = [self.unary()]
        while self.current.upper == "AND":
            self.take()
            parts.append(self.unary())
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self) -> Node:
        token = self.current
        if token.upper == "NOT" or (token.kind == "op" and token.text == "!"):
            self.take()
            return Not(self.unary())
        if token.kind == "lparen":
            self.take()
            node = self.or_()
            if self.current.kind != "rparen":
                raise self.error(f"Expecting ')' but got {self.found(self.current)}")
            self.take()
            return node
        return self.clause()

    def clause(self) -> Clause:
        token = self.take()
        if token.kind not in ("word", "string") or (
            token.kind == "word" and token.upper in KEYWORDS
        ):
            raise self.error(f"Expecting a field name but got {self.found(token)}", token)
        op = self.operator()
        if op in ("IN", "NOT IN"):
            value: Value = self.value_list()
        else:
            value = self.value()
        if op in ("IS", "IS NOT") and not isinstance(value, Empty):
            raise self.error("Expecting 'EMPTY' or 'NULL' after 'IS'", self.tokens[self.index - 1])
        return Clause(token.text, op, value, token.pos)

    def operator(self) -> str:
        token = self.take()
        if token.kind == "op":
            return token.text
        if token.upper == "IN":
            return "IN"
        if token.upper == "IS":
            if self.current.upper == "NOT":
                self.take()
                return "IS NOT"
            return "IS"
        if token.upper == "NOT" and self.current.upper == "IN":
            self.take()
            return "NOT IN"
        raise self.error(
            f"Expecting operator but got {self.found(token)}. The valid operators are "
            + _OPERATOR_LIST,
            token,
        )

    def value(self) -> Literal | Empty | Function:
        token = self.take()
        if token.kind == "string":
            return Literal(token.text, quoted=True)
        if token.kind != "word":
            raise self.error(
                f"Expecting either a value, list or function but got {self.found(token)}", token
            )
        if token.upper in ("EMPTY", "NULL"):
            return Empty()
        if token.upper in KEYWORDS:
            raise self.error(
                f"Expecting either a value, list or function but got {self.found(token)}", token
            )
        if self.current.kind == "lparen":
            return self.function(token)
        return Literal(token.text)

    def function(self, name: Token) -> Function:
        self.take()
        args: list[str] = []
        while self.current.kind != "rparen":
            arg = self.take()
            if arg.kind not in ("word", "string"):
                raise self.error(f"Expecting ')' but got {self.found(arg)}", arg)
            args.append(arg.text)
            if self.current.kind == "comma":
                self.take()
        self.take()
        return Function(name.text, tuple(args))

    def value_list(self) -> ValueList:
        if self.current.kind != "lparen":
            value = self.value()
            if isinstance(value, Function):
                return ValueList((value,))
            raise self.error(
                f"Expecting '(' but got {self.found(self.tokens[self.index - 1])}",
                self.tokens[self.index - 1],
            )
        self.take()
        items: list[Literal | Function] = []
        while True:
            value = self.value()
            if isinstance(value, Empty):
                raise self.error("EMPTY is not allowed in a list", self.tokens[self.index - 1])
            items.append(value)
            token = self.take()
            if token.kind == "rparen":
                return ValueList(tuple(items))
            if token.kind != "comma":
                raise self.error(f"Expecting ',' or ')' but got {self.found(token)}", token)


def parse(text: str) -> Query:
    """Parse a JQL query, or raise JqlError with the message Jira would give."""
    return _Parser(text).query()
