"""Reading the rules file as YAML: its text, the document's nodes, and the problems a YAML
parser would hide (duplicate keys it resolves to the last one, aliases that expand a
document beyond any sane size) or word for programmers (syntax errors).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from config.problem_report import ProblemReport, join_path, short
from domain.errors import ConfigProblem

# A rules file has a few thousand values; more means aliases multiplying or referring to
# themselves, which would make validation take forever.
MAX_VALUES = 100_000


class RulesYamlLoader(yaml.SafeLoader):
    """A SafeLoader that reads plain scalars the YAML 1.2 way.

    YAML 1.1 turns `18:00` into the number 1080 and `NO` (Norway) into false; here both stay
    text, and only true/false, decimal numbers and YYYY-MM-DD dates are read as such.
    """

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if not tag.endswith((":bool", ":int", ":float"))]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }

    def construct_yaml_int(self, node: Node) -> int:
        """A decimal integer (YAML 1.1 would read `010` as octal 8)."""
        return int(str(self.construct_scalar(node)))  # type: ignore[arg-type]

    def construct_object(self, node: Node, deep: bool = False) -> Any:
        """Construct as SafeLoader does, but give a bad scalar (`2026-13-45`) its YAML mark."""
        try:
            return super().construct_object(node, deep)
        except (ValueError, TypeError, OverflowError) as exc:
            what = short(node.value) if isinstance(node, ScalarNode) else node.tag
            raise yaml.constructor.ConstructorError(
                None, None, f"cannot read {what}: {exc}", node.start_mark
            ) from exc


RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9]+$"), list("-+0123456789")
)
RulesYamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+\.[0-9]*|[0-9]+(?:\.[0-9]*)?[eE][-+]?[0-9]+)"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
RulesYamlLoader.add_constructor("tag:yaml.org,2002:int", RulesYamlLoader.construct_yaml_int)


def read_rules_text(path: Path) -> tuple[str, ConfigProblem | None]:
    """The file's text, or the one problem that stops us reading it."""
    source = str(path)
    hint = "set GOVFLOW_RULES to the rules YAML, or unset it to use the packaged config/rules.yaml"
    try:
        raw = path.read_bytes()
    except (OSError, ValueError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return "", ConfigProblem(source, None, "", f"cannot read the rules file: {reason}", hint)
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        return "", ConfigProblem(
            source, line, "", "is not UTF-8 text", "save the file as UTF-8 (it must be YAML)"
        )


def parse_rules_yaml(text: str, report: ProblemReport) -> Any:
    """The document's data, with its node tree kept in `report` to locate later problems."""
    try:
        loader = RulesYamlLoader(text)  # checks for unprintable characters up front
    except yaml.YAMLError as exc:
        report.add_at(*_yaml_problem(exc, text))
        return None
    try:
        root = loader.get_single_node()
        if root is None:
            report.add_at(1, "", "the rules file is empty", "start from the packaged rules.yaml")
            return None
        report.root = root
        _scan(root, report)
        return None if report.problems else loader.construct_document(root)
    except yaml.YAMLError as exc:
        report.add_at(*_yaml_problem(exc, text))
    except RecursionError:
        report.add_at(None, "", "values are nested too deeply", "a rules file nests a few levels")
    finally:
        loader.dispose()
    return None


def _yaml_problem(exc: yaml.YAMLError, text: str) -> tuple[int | None, str, str, str]:
    """Line, where, message and hint for a YAML syntax or construction error."""
    if isinstance(exc, yaml.reader.ReaderError):
        line = text.count("\n", 0, exc.position) + 1
        char = f"U+{exc.character:04X}" if isinstance(exc.character, int) else repr(exc.character)
        return line, "", f"character {char} is not allowed in YAML", "remove it"
    if not isinstance(exc, yaml.MarkedYAMLError):
        return None, "", f"cannot parse YAML: {exc}", "check the file is YAML"
    mark = exc.problem_mark or exc.context_mark
    message = exc.problem or "cannot parse YAML"
    if exc.context:
        at = exc.context_mark
        elsewhere = at is not None and mark is not None and at.line != mark.line
        message += f" ({exc.context}" + (f" on line {at.line + 1})" if at and elsewhere else ")")
    hint = (
        "check indentation (spaces, not tabs), and quote values that contain ': ' or ' #' "
        "or start with * & ! % @ `"
    )
    if "\\t" in message:  # PyYAML shows a tab as '\t'
        hint = "YAML does not allow tabs for indentation: use spaces"
    elif "mapping values are not allowed" in message:
        hint = "quote the value: it contains ': ' (or fix the indentation of this line)"
    elif "could not determine a constructor" in message:
        hint = "remove the tag (!something): rules take plain YAML values"
    return (mark.line + 1 if mark else None), "", message, hint


def _scan(root: Node, report: ProblemReport) -> None:
    """Report duplicate keys, and documents that aliases make enormous or self-referring."""
    seen: set[int] = set()
    stack: list[tuple[Node, str]] = [(root, "")]
    values = 0
    while stack:
        node, where = stack.pop()
        values += 1
        if values > MAX_VALUES:
            report.add_at(
                None,
                "",
                f"the document expands to more than {MAX_VALUES} values",
                "look for aliases (*name) that refer to themselves or multiply each other",
            )
            return
        first_visit = id(node) not in seen
        seen.add(id(node))
        if isinstance(node, MappingNode):
            keys: dict[str, Node] = {}
            for key, value in node.value:
                name = key.value if isinstance(key, ScalarNode) else "?"
                if first_visit and isinstance(key, ScalarNode) and name in keys and name != "<<":
                    earlier = keys[name].start_mark.line + 1
                    report.add_at(
                        key.start_mark.line + 1,
                        join_path(where, name),
                        f"duplicate key (also on line {earlier}); YAML would keep only this one",
                        "merge the two entries, or rename one of them",
                    )
                if isinstance(key, ScalarNode):
                    keys[name] = key
                stack.append((value, join_path(where, name)))
        elif isinstance(node, SequenceNode):
            stack.extend((item, f"{where}[{i}]") for i, item in enumerate(node.value))
