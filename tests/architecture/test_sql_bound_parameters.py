"""SQL only through bound parameters (issue #6, item 4): a scan of the production source.

The scanner reads every module of the production packages as an AST and reports each call
that hands the database SQL built from strings at run time:
- `text()`, `literal_column()`, `exec_driver_sql()`, `executescript()` given anything but a
  literal string (or a name bound only to literal strings);
- `execute()` / `executemany()` (SQLAlchemy, Alembic's `op`, DB-API and psycopg cursors) given
  a string built with an f-string, `%`, `.format()`, `.join()` or `+`, directly or through a
  name assigned such a string in the same function or module.
Statements built with SQLAlchemy's expression language, and psycopg's `sql.SQL(...).format`,
are not strings and pass. What is legitimately built must be in `ALLOWED` with the reason;
an entry nothing needs any longer fails the test too, so the list cannot rot.
"""

from __future__ import annotations

import ast
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = ("domain", "integrations", "govflow", "tasks", "flows", "config")
# (module path, enclosing function) -> why the string-built SQL there is safe.
ALLOWED: dict[tuple[str, str], str] = {
    ("integrations/db/migrations/versions/0002_sop_registry.py", "upgrade"): (
        "DDL for the immutability triggers: interpolates only the module constant IMMUTABLE "
        "and `event`, which iterates the literal ('UPDATE', 'DELETE'); DDL takes no bound "
        "parameters and no input reaches it"
    ),
    ("integrations/db/migrations/versions/0011_precedent_section_fts.py", "upgrade"): (
        "DDL for the FTS5 sync triggers: interpolates only the module constants TRIGGERS and "
        "SECTION and the literal row aliases 'new'/'old' of `_routed`; no input reaches it"
    ),
    ("integrations/db/migrations/versions/0011_precedent_section_fts.py", "downgrade"): (
        "DDL dropping the triggers named by the module constant TRIGGERS, and 0009's "
        "triggers made again from literals; no input reaches it"
    ),
}
STRICT_SINKS = frozenset({"text", "literal_column", "exec_driver_sql", "executescript"})
EXECUTE_SINKS = frozenset({"execute", "executemany"})


@dataclass(frozen=True)
class Violation:
    """One call handing the database SQL built at run time."""

    path: str
    line: int
    function: str
    call: str
    why: str

    def render(self) -> str:
        """`path:line (function): call: why`."""
        return f"{self.path}:{self.line} ({self.function}): {self.call}(): {self.why}"


def scan_source(source: str, path: str = "<snippet>") -> list[Violation]:
    """Every string-built SQL handed to a database call in `source`."""
    tree = ast.parse(source)
    module_names = _assignments(tree.body)
    found: list[Violation] = []
    for scope, function in _scopes(tree):
        names = (
            {**module_names, **_assignments(_own_statements(scope))} if function else module_names
        )
        for call in _own_calls(scope):
            sink = _sink_name(call)
            if sink is None or not call.args:
                continue
            why = _problem(sink, call.args[0], names)
            if why is not None:
                found.append(Violation(path, call.lineno, function or "<module>", sink, why))
    return found


def scan_tree(root: Path, packages: tuple[str, ...]) -> list[Violation]:
    """Every violation in the packages' Python modules under `root`."""
    found: list[Violation] = []
    for package in packages:
        for file in sorted((root / package).rglob("*.py")):
            relative = file.relative_to(root).as_posix()
            found.extend(scan_source(file.read_text(encoding="utf-8"), relative))
    return found


def _scopes(tree: ast.Module) -> list[tuple[ast.AST, str]]:
    """The module and every function in it, with the function's qualified name."""
    scopes: list[tuple[ast.AST, str]] = [(tree, "")]

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                name = f"{prefix}{child.name}"
                scopes.append((child, name))
                visit(child, f"{name}.")
            elif isinstance(child, ast.ClassDef):
                visit(child, f"{prefix}{child.name}.")
            else:
                visit(child, prefix)

    visit(tree, "")
    return scopes


def _own_nodes(scope: ast.AST) -> list[ast.AST]:
    """Nodes of `scope` that are not inside a nested function (those are their own scope)."""
    nodes: list[ast.AST] = []
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
            continue
        nodes.append(node)
        stack.extend(ast.iter_child_nodes(node))
    return nodes


def _own_calls(scope: ast.AST) -> list[ast.Call]:
    return [node for node in _own_nodes(scope) if isinstance(node, ast.Call)]


def _own_statements(scope: ast.AST) -> list[ast.stmt]:
    return [node for node in _own_nodes(scope) if isinstance(node, ast.stmt)]


def _assignments(statements: list[ast.stmt]) -> dict[str, list[ast.expr]]:
    """Every value each plain name is assigned (including `+=`) among `statements`."""
    names: dict[str, list[ast.expr]] = {}
    for statement in statements:
        if isinstance(statement, ast.Assign):
            for target in statement.targets:
                if isinstance(target, ast.Name):
                    names.setdefault(target.id, []).append(statement.value)
        elif (
            isinstance(statement, ast.AnnAssign | ast.AugAssign)
            and statement.value is not None
            and isinstance(statement.target, ast.Name)
        ):
            value = statement.value
            if isinstance(statement, ast.AugAssign):
                value = ast.BinOp(left=statement.target, op=statement.op, right=value)
            names.setdefault(statement.target.id, []).append(value)
    return names


def _sink_name(call: ast.Call) -> str | None:
    func = call.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    return name if name in STRICT_SINKS | EXECUTE_SINKS else None


def _problem(sink: str, sql: ast.expr, names: dict[str, list[ast.expr]]) -> str | None:
    """Why handing `sql` to `sink` is not SQL with bound parameters, or None."""
    if _built(sql, names, set()):
        return "SQL built from strings at run time; bind the values as parameters"
    if sink in STRICT_SINKS and not _literal(sql, names, set()):
        return "SQL that is not a literal string; write the statement out and bind values"
    return None


def _literal(node: ast.expr, names: dict[str, list[ast.expr]], seen: set[str]) -> bool:
    """Whether `node` is a string known when the module is written."""
    if isinstance(node, ast.Constant):
        return isinstance(node.value, str)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _literal(node.left, names, seen) and _literal(node.right, names, seen)
    if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
        return all(_literal(v, names, seen | {node.id}) for v in names[node.id])
    return False


def _built(node: ast.expr, names: dict[str, list[ast.expr]], seen: set[str]) -> bool:
    """Whether `node` is a string assembled at run time from parts that may vary."""
    if isinstance(node, ast.JoinedStr):
        return any(isinstance(part, ast.FormattedValue) for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        return _stringy(node.left, names, seen)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        either = _stringy(node.left, names, seen) or _stringy(node.right, names, seen)
        return either and not _literal(node, names, seen)
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("format", "join", "format_map")
    ):
        return _stringy(node.func.value, names, seen)
    if isinstance(node, ast.Name) and node.id in names and node.id not in seen:
        return any(_built(v, names, seen | {node.id}) for v in names[node.id])
    return False


def _stringy(node: ast.expr, names: dict[str, list[ast.expr]], seen: set[str]) -> bool:
    """Whether `node` is a str value (literal or assembled)."""
    return (
        _literal(node, names, seen) or _built(node, names, seen) or isinstance(node, ast.JoinedStr)
    )


class TestProductionSource:
    """The production packages send SQL only with bound parameters."""

    def test_no_sql_is_built_from_strings(self) -> None:
        """Every string-built SQL call is on the justified allow-list."""
        found = scan_tree(ROOT, PRODUCTION)

        unexplained = [v.render() for v in found if (v.path, v.function) not in ALLOWED]
        assert unexplained == [], "\n".join(unexplained)

    def test_every_allowance_is_still_needed(self) -> None:
        """An allow-list entry that no longer matches anything is removed, not kept."""
        used = {(v.path, v.function) for v in scan_tree(ROOT, PRODUCTION)}

        assert set(ALLOWED) - used == set()

    def test_the_scan_reads_the_packages(self) -> None:
        """The scan covers the ledger's modules (a wrong root would find nothing, silently)."""
        files = [p.relative_to(ROOT).as_posix() for p in (ROOT / "integrations/db").rglob("*.py")]

        assert "integrations/db/clocks.py" in files and "integrations/db/engine.py" in files


PLANTED = {
    "f-string in text()": """
        def find(session, key):
            return session.execute(text(f"SELECT * FROM requests WHERE jira_key = '{key}'"))
    """,
    "% in execute()": """
        def find(cursor, key):
            cursor.execute("SELECT * FROM requests WHERE jira_key = '%s'" % key)
    """,
    ".format in exec_driver_sql()": """
        def drop(connection, table):
            connection.exec_driver_sql("DROP TABLE {}".format(table))
    """,
    "concatenation in execute()": """
        def find(conn, key):
            conn.execute("SELECT * FROM requests WHERE jira_key = '" + key + "'")
    """,
    "built string through a name": """
        def find(session, key):
            query = f"SELECT * FROM requests WHERE jira_key = '{key}'"
            return session.execute(query)
    """,
    "built with += through a name": """
        def find(cur, keys):
            sql = "SELECT * FROM requests WHERE jira_key IN ("
            sql += ",".join(keys)
            cur.execute(sql + ")")
    """,
    "join in executemany()": """
        def put(cur, cols, rows):
            cur.executemany("INSERT INTO t (" + ", ".join(cols) + ") VALUES (?, ?)", rows)
    """,
    "parameter handed to text()": """
        def run(session, sql):
            return session.execute(text(sql))
    """,
    "method of a class, module-level helper name": """
        class Repo:
            def find(self, key):
                return self.session.execute(sa.text("SELECT 1 WHERE x = '%s'" % key))
    """,
    "literal_column with an f-string": """
        def pick(column):
            return select(literal_column(f"{column}"))
    """,
}
CLEAN = {
    "bound parameters in text()": """
        QUERY = text("SELECT * FROM requests WHERE jira_key = :key")
        def find(session, key):
            return session.execute(QUERY, {"key": key})
    """,
    "expression language": """
        def find(session, key):
            return session.execute(select(RequestRow).where(RequestRow.jira_key == key))
    """,
    "literal pragma": """
        def on_connect(cursor):
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA " "journal_mode=WAL")
    """,
    "psycopg composition": """
        def drop(conn, schema):
            conn.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))
    """,
    "name bound to a literal": """
        SQL = "SELECT 1"
        def ping(connection):
            connection.exec_driver_sql(SQL)
    """,
}


class TestScanner:
    """The scanner itself: it catches planted violations and passes clean code."""

    @pytest.mark.parametrize("source", PLANTED.values(), ids=list(PLANTED))
    def test_a_planted_violation_is_caught(self, source: str) -> None:
        """Each way of building SQL from strings is reported, with its line."""
        [violation] = scan_source(textwrap.dedent(source))

        assert violation.line >= 2
        assert "SQL" in violation.why

    @pytest.mark.parametrize("source", CLEAN.values(), ids=list(CLEAN))
    def test_clean_code_passes(self, source: str) -> None:
        """Bound parameters, the expression language and literals are not reported."""
        assert scan_source(textwrap.dedent(source)) == []

    def test_a_violation_planted_in_a_copy_of_the_tree_fails_the_scan(self, tmp_path: Path) -> None:
        """The real scan catches a violation added to a production module."""
        module = tmp_path / "integrations" / "db" / "planted.py"
        module.parent.mkdir(parents=True)
        module.write_text(
            "def find(session, key):\n"
            "    return session.execute(text(f\"SELECT 1 WHERE k = '{key}'\"))\n",
            encoding="utf-8",
        )

        [violation] = scan_tree(tmp_path, ("integrations",))

        assert (violation.path, violation.line, violation.function) == (
            "integrations/db/planted.py",
            2,
            "find",
        )
