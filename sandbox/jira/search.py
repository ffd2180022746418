"""Give a parsed JQL query its meaning against the stand-in's state.

Each clause becomes a predicate over an issue. A field yields a list of atoms (empty when
unset, several for labels and multi-selects) and the operators compare atoms the way Jira
does: `!=` and `NOT IN` never match an empty field, `=` on a multi-valued field means
"contains". Values are checked against the state first, so an unknown project, status or
option is a 400 with Jira's wording rather than an empty result. Text search (`~`) is a
case-insensitive substring match, simpler than Jira's stemming.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sandbox.jira.jql import (
    And,
    Clause,
    Empty,
    Function,
    JqlError,
    Literal,
    Node,
    Not,
    Or,
    Query,
    SortKey,
    ValueList,
)
from sandbox.jira.model import (
    PRIORITIES,
    RESOLUTIONS,
    FieldDef,
    FieldKind,
    Issue,
    JiraApiError,
    User,
)
from sandbox.jira.tables import JiraTables

Predicate = Callable[[Issue], bool]
Order = Callable[[list[Issue]], list[Issue]]

EQUALITY = frozenset({"=", "!=", "IN", "NOT IN", "IS", "IS NOT"})
ORDERED = EQUALITY | {">", ">=", "<", "<="}
TEXT = frozenset({"~", "!~", "IS", "IS NOT"})
_DATE_FORMATS = ("%Y/%m/%d %H:%M", "%Y-%m-%d %H:%M", "%Y/%m/%d", "%Y-%m-%d")
_PERIOD = re.compile(r"^([+-]?)((?:\d+[wdhm]\s*)+)$")
_KEY = re.compile(r"^[A-Z][A-Z0-9_]*-\d+$", re.IGNORECASE)
_UNITS = {
    "w": timedelta(weeks=1),
    "d": timedelta(days=1),
    "h": timedelta(hours=1),
    "m": timedelta(minutes=1),
}
_CATEGORY_SPELLINGS = {
    "new": ("new", "to do", "2"),
    "indeterminate": ("indeterminate", "in progress", "4"),
    "done": ("done", "3"),
}


def _is_labels(fd: FieldDef) -> bool:
    return fd.id == "labels" or fd.kind is FieldKind.LABELS


def _bad(message: str) -> JiraApiError:
    return JiraApiError(400, [message])


class _Compiler:
    def __init__(self, state: JiraTables, actor: User) -> None:
        self.state = state
        self.actor = actor
        self.zone = ZoneInfo(actor.time_zone)

    # ---- fields ----------------------------------------------------------------------------

    def resolve(self, name: str) -> FieldDef | str:
        """A field definition, or the name of a pseudo-field (`key`, `text`, `comment`)."""
        lowered = name.casefold()
        if lowered in ("key", "issuekey", "id", "issue"):
            return "key"
        if lowered in ("text", "comment", "statuscategory"):
            return lowered
        if lowered.startswith("customfield_") and name in self.state.fields:
            return self.state.fields[name]
        for fd in self.state.fields.values():
            if any(lowered == clause.casefold() for clause in fd.clause_names):
                return fd
        raise _bad(f"Field '{name}' does not exist or you do not have permission to view it.")

    def category(self, fd: FieldDef | str) -> str:
        """How a field compares: key, text, date, datetime, number, or plain equality."""
        if isinstance(fd, str):
            return {"key": "key", "text": "text", "comment": "text"}.get(fd, "equality")
        if fd.id in ("summary", "description") or fd.kind in (FieldKind.TEXT, FieldKind.TEXTAREA):
            return "text"
        if fd.schema_type in ("date", "datetime"):
            return fd.schema_type
        if fd.kind is FieldKind.NUMBER:
            return "number"
        return "equality"

    def atoms(self, fd: FieldDef | str) -> Callable[[Issue], list[Any]]:
        """How to read a field of an issue as a list of comparable atoms."""
        state = self.state
        if fd == "key":
            return lambda issue: [issue.key]
        if fd == "comment":
            return lambda issue: [c.body for c in issue.comments]
        if fd == "statuscategory":
            return lambda issue: [state.statuses[issue.status_id].category.value]
        if fd == "text":
            texts = [f.id for f in state.fields.values() if self.category(f) == "text"]
            return lambda issue: [issue.values[t] for t in texts if issue.values.get(t)]
        assert isinstance(fd, FieldDef)
        fixed: dict[str, Callable[[Issue], Any]] = {
            "project": lambda issue: issue.project_key,
            "status": lambda issue: issue.status_id,
            "issuetype": lambda issue: issue.issuetype_id,
            "created": lambda issue: issue.created,
            "updated": lambda issue: issue.updated,
            "resolution": lambda issue: issue.resolution,
            "resolutiondate": lambda issue: issue.resolution_date,
            "statuscategorychangedate": lambda issue: issue.status_changed,
        }
        getter = fixed.get(fd.id) or (lambda issue: issue.values.get(fd.id))
        is_date = fd.schema_type == "date"
        is_labels = _is_labels(fd)

        def read(issue: Issue) -> list[Any]:
            value = getter(issue)
            if value is None:
                return []
            values = value if isinstance(value, list) else [value]
            if is_labels:
                return [v.casefold() for v in values]
            return [date.fromisoformat(v) for v in values] if is_date else values

        return read

    # ---- values ----------------------------------------------------------------------------

    def atom(self, fd: FieldDef | str, name: str, value: Literal | Function) -> Any:
        """A query value as an atom comparable with the field's atoms, or a 400."""
        category = self.category(fd)
        if isinstance(value, Function):
            return self.function(fd, name, value)
        text = value.text
        if category in ("date", "datetime"):
            moment = self.moment(name, text)
            return moment.astimezone(self.zone).date() if category == "date" else moment
        if category == "number":
            try:
                return float(text)
            except ValueError as exc:
                raise _bad(f"The value '{text}' for field '{name}' is invalid.") from exc
        if category == "text":
            return text.strip("*?").casefold()
        if fd == "key":
            if not _KEY.match(text):
                raise _bad(f"The issue key '{text}' for field '{name}' is invalid.")
            try:
                return self.state.issue(text).key
            except JiraApiError as exc:
                raise _bad(
                    f"An issue with key '{text.upper()}' does not exist for field '{name}'."
                ) from exc
        if fd == "statuscategory":
            for category_value, spellings in _CATEGORY_SPELLINGS.items():
                if text.casefold() in spellings:
                    return category_value
            raise self.unknown(text, name)
        assert isinstance(fd, FieldDef)
        return self.equality_atom(fd, name, text)

    def equality_atom(self, fd: FieldDef, name: str, text: str) -> Any:
        state = self.state
        folded = text.casefold()
        if fd.id == "project":
            for project in state.projects.values():
                if folded in (project.key.casefold(), project.id, project.name.casefold()):
                    return project.key
        elif fd.id == "status":
            for status in state.statuses.values():
                if folded in (status.name.casefold(), status.id):
                    return status.id
        elif fd.id == "issuetype":
            for itype in state.issuetypes.values():
                if folded in (itype.name.casefold(), itype.id):
                    return itype.id
        elif fd.id == "priority":
            for pid, pname in PRIORITIES:
                if folded in (pname.casefold(), pid):
                    return pid
        elif fd.id == "resolution":
            if folded == "unresolved":
                return None
            for _, rname in RESOLUTIONS:
                if folded == rname.casefold():
                    return rname
        elif fd.schema_type == "user":
            for user in state.users.values():
                if folded in (user.account_id.casefold(), user.email.casefold()):
                    return user.account_id
        elif fd.kind in (FieldKind.OPTION, FieldKind.OPTIONS):
            option = fd.option_by(value=text)
            if option is not None:
                return option.id
        else:
            # Labels (matched regardless of case, as Jira does) and other free values.
            return folded if _is_labels(fd) else text
        raise self.unknown(text, name)

    def unknown(self, text: str, name: str) -> JiraApiError:
        return _bad(f"The value '{text}' does not exist for the field '{name}'.")

    def function(self, fd: FieldDef | str, name: str, call: Function) -> Any:
        lowered = call.name.casefold()
        category = self.category(fd)
        if lowered == "currentuser" and isinstance(fd, FieldDef) and fd.schema_type == "user":
            return self.actor.account_id
        if lowered == "now" and category in ("date", "datetime"):
            now = self.state.now()
            return now.astimezone(self.zone).date() if category == "date" else now
        if lowered in ("currentuser", "now"):
            raise _bad(
                f"The field '{name}' does not support searching by the function '{call.name}'."
            )
        raise _bad(f"Unable to find JQL function '{call.name}({', '.join(call.args)})'.")

    def moment(self, name: str, text: str) -> datetime:
        """A JQL date value as an instant, read in the searching user's time zone."""
        period = _PERIOD.match(text.strip())
        if period:
            sign = -1 if period.group(1) == "-" else 1
            total = timedelta()
            for amount, unit in re.findall(r"(\d+)([wdhm])", period.group(2)):
                total += int(amount) * _UNITS[unit]
            return self.state.now() + sign * total
        if text.isdigit():
            return datetime.fromtimestamp(int(text) / 1000, tz=UTC)
        for fmt in _DATE_FORMATS:
            try:
                return datetime.strptime(text, fmt).replace(tzinfo=self.zone)
            except ValueError:
                continue
        raise _bad(
            f"Date value '{text}' for field '{name}' is invalid. Valid formats include: "
            "'yyyy/MM/dd HH:mm', 'yyyy-MM-dd HH:mm', 'yyyy/MM/dd', 'yyyy-MM-dd', "
            "or a period format e.g. '-5d', '4w 2d'."
        )

    # ---- clauses ---------------------------------------------------------------------------

    def node(self, node: Node) -> Predicate:
        if isinstance(node, And):
            parts = [self.node(p) for p in node.parts]
            return lambda issue: all(p(issue) for p in parts)
        if isinstance(node, Or):
            parts = [self.node(p) for p in node.parts]
            return lambda issue: any(p(issue) for p in parts)
        if isinstance(node, Not):
            inner = self.node(node.part)
            return lambda issue: not inner(issue)
        return self.clause(node)

    def clause(self, clause: Clause) -> Predicate:
        fd = self.resolve(clause.field)
        category = self.category(fd)
        allowed = {"text": TEXT, "equality": EQUALITY, "key": EQUALITY - {"IS", "IS NOT"}}.get(
            category, ORDERED
        )
        if clause.op not in allowed:
            raise _bad(
                f"The operator '{clause.op}' is not supported by the '{clause.field}' field."
            )
        read = self.atoms(fd)
        op = clause.op
        if op in ("IS", "IS NOT"):
            want_empty = op == "IS"
            return lambda issue: (not read(issue)) == want_empty
        if isinstance(clause.value, Empty):
            raise _bad(f"The operator '{op}' does not support the EMPTY value.")
        if isinstance(clause.value, ValueList):
            targets = {self.atom(fd, clause.field, v) for v in clause.value.items}
            if op == "IN":
                return lambda issue: any(a in targets for a in read(issue) or [None])
            return lambda issue: bool(read(issue)) and not any(a in targets for a in read(issue))
        target = self.atom(fd, clause.field, clause.value)
        if op in ("~", "!~"):

            def contains(issue: Issue) -> bool:
                return any(target in str(a).casefold() for a in read(issue))

            return (
                contains if op == "~" else (lambda issue: bool(read(issue)) and not contains(issue))
            )
        if op == "=":
            # `resolution = Unresolved` is Jira's spelling of an empty resolution.
            return lambda issue: (target in read(issue)) if target is not None else not read(issue)
        if op == "!=":
            return lambda issue: bool(read(issue)) and target not in read(issue)
        compare: dict[str, Callable[[Any, Any], bool]] = {
            ">": lambda a, b: a > b,
            ">=": lambda a, b: a >= b,
            "<": lambda a, b: a < b,
            "<=": lambda a, b: a <= b,
        }
        check = compare[op]
        return lambda issue: any(check(a, target) for a in read(issue))

    # ---- ORDER BY --------------------------------------------------------------------------

    def sort_value(self, key: SortKey) -> Callable[[Issue], Any]:
        fd = self.resolve(key.field)
        if fd == "key":
            return lambda issue: (issue.project_key, issue.number)
        if (
            not isinstance(fd, FieldDef)
            or fd.id in ("description", "comment")
            or fd.schema_type == "array"
        ):
            raise _bad(f"Field '{key.field}' does not support sorting.")
        state = self.state
        if fd.id == "status":
            return lambda issue: state.statuses[issue.status_id].name.casefold()
        if fd.id == "priority":
            return lambda issue: int(issue.values.get("priority", "3"))
        if fd.kind is FieldKind.OPTION:
            return lambda issue: state.plain_value(issue, fd.id)
        read = self.atoms(fd)
        return lambda issue: next(iter(read(issue)), None)

    def order(self, keys: tuple[SortKey, ...]) -> Order:
        # Without ORDER BY, newest first; the id breaks ties so paging is stable.
        readers = [(self.sort_value(k), k.descending) for k in keys] or [
            (lambda issue: issue.created, True)
        ]

        def compare(a: Issue, b: Issue) -> int:
            for read, descending in readers:
                x, y = read(a), read(b)
                if x == y:
                    continue
                if x is None or y is None:
                    return 1 if x is None else -1  # empty values sort last either way
                result = -1 if x < y else 1
                return -result if descending else result
            return (int(b.id) > int(a.id)) - (int(b.id) < int(a.id))

        return lambda issues: sorted(issues, key=functools.cmp_to_key(compare))


def compile_query(state: JiraTables, query: Query, actor: User) -> tuple[Predicate, Order]:
    """A predicate and an ordering for `query`, or JiraApiError(400) with Jira's message."""
    compiler = _Compiler(state, actor)
    try:
        matches: Predicate = compiler.node(query.where) if query.where else (lambda issue: True)
        return matches, compiler.order(query.order)
    except JqlError as exc:
        raise _bad(str(exc)) from exc
