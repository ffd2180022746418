"""Problems found in one rules file, each located at its line and dotted place.

The composed YAML node tree is kept beside the problems, so a place in the rules
(`("routing", 3, "signoff", 1, "team")`) finds its line even when pydantic or a cross-check
reports it long after parsing.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from domain.errors import ConfigProblem

Loc = Sequence[str | int]


class ProblemReport:
    """Collects problems for one rules file, locating each in the composed YAML."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.root: Node | None = None
        self.problems: list[ConfigProblem] = []

    def add_at(self, line: int | None, where: str, message: str, hint: str) -> None:
        """Record a problem at a known line."""
        self.problems.append(ConfigProblem(self.source, line, where, message, hint))

    def add(self, loc: Loc, message: str, hint: str = "") -> None:
        """Record a problem at a place in the rules, e.g. ("routing", 3, "signoff", 1, "team")."""
        where, line = locate(self.root, loc)
        self.add_at(line, where, message, hint)

    def sorted(self) -> list[ConfigProblem]:
        """The problems in file order; problems without a line come last."""
        return sorted(self.problems, key=lambda p: (p.line is None, p.line or 0))


def locate(root: Node | None, loc: Loc) -> tuple[str, int | None]:
    """The dotted place of `loc` and the line of the deepest YAML node it reaches.

    A key missing from the YAML takes the line of the mapping that lacks it.
    """
    node = root
    line = root.start_mark.line + 1 if root is not None else None
    where = ""
    for part in loc:
        if part == "[key]":  # pydantic's marker for an error in a dict key, not a place
            continue
        if isinstance(node, SequenceNode) and isinstance(part, int):
            where += f"[{part}]"
            node = node.value[part] if 0 <= part < len(node.value) else None
            if node is not None:
                line = node.start_mark.line + 1
        elif isinstance(node, MappingNode):
            where = join_path(where, part)
            entry = _entry(node, str(part))
            node = entry[1] if entry is not None else None
            if entry is not None:
                line = entry[0].start_mark.line + 1
        else:
            # Past what the YAML holds: a missing key, or a value of another shape.
            where = f"{where}[{part}]" if isinstance(part, int) else join_path(where, part)
            node = None
    return where, line


def _entry(node: MappingNode, key: str) -> tuple[Node, Node] | None:
    """The last `key: value` pair of a mapping with this key, as YAML itself resolves it."""
    found = None
    for key_node, value in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            found = (key_node, value)
    return found


def join_path(where: str, key: str | int) -> str:
    """A dotted place one key deeper: "routing[3]" and "name" give "routing[3].name"."""
    return f"{where}.{key}" if where else str(key)


def short(value: object) -> str:
    """A value as quoted in a message, cut to 60 characters."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def names_text(names: Iterable[str], limit: int = 12) -> str:
    """Names for a message, comma-separated, the first `limit` of them and "and N more"."""
    listed = list(names)
    more = f" and {len(listed) - limit} more" if len(listed) > limit else ""
    return ", ".join(listed[:limit]) + more


def report_unknown(
    report: ProblemReport, loc: Loc, what: str, value: str, known: Iterable[str]
) -> None:
    """Report a reference to something that is not defined, suggesting the closest name."""
    names = list(known)
    close = difflib.get_close_matches(value, names, n=1)
    guess = f"did you mean `{close[0]}`? " if close else ""
    report.add(
        loc, f"no {what} `{value}` is defined", f"{guess}known: {names_text(names) or 'none'}"
    )
