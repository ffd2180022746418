"""The layers, checked from the imports themselves: every production module is parsed.

Layers, lowest first; a module may import its own layer and those below it, never above:

    domain < config < integrations < sandbox < govflow (use cases) < tasks < flows

The stand-ins (`sandbox/`) sit below the use cases: `govflow serve` starts them on its embedded
defaults, and they never call govflow. `bench/`, `reliability/`, `screenshots/` and `tests/`
stand outside: they may import any layer, and no layer imports them. An import that breaks
this and is known today is listed in `KNOWN` with the reason it is still there, and a new one
fails; an entry fixed since fails too, until it is struck. Production modules over
`MAX_LINES` are listed in `LONG` the same way. Imports inside functions
and under `TYPE_CHECKING` count: they tie the modules just the same.
"""

from __future__ import annotations

import ast
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = ("domain", "config", "integrations", "sandbox", "govflow", "tasks", "flows")
OUTSIDE = ("bench", "reliability", "screenshots", "tests")
RANK = {name: rank for rank, name in enumerate(LAYERS)}
# A production module this long holds more than one concept; the known ones say why.
MAX_LINES = 500

# (importing module, imported module): why it is still allowed.
KNOWN: dict[tuple[str, str], str] = {}
# Production modules over MAX_LINES: why each is still one file.
LONG: dict[str, str] = {
    "domain/lifecycle.py": "the state machine: events, state and apply; the SOP steps could go",
    "domain/entitlement.py": "who may do what, with the reasons worded; barely over",
}


@cache
def modules() -> tuple[tuple[str, ast.Module, int], ...]:
    """Every production module of the layers: path from the root, its tree, its lines."""
    found = []
    for layer in LAYERS:
        for path in sorted((ROOT / layer).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            text = path.read_text()
            name = path.relative_to(ROOT).as_posix()
            found.append((name, ast.parse(text, str(path)), len(text.splitlines())))
    return tuple(found)


def module_path(dotted: str) -> str | None:
    """The file of our own module `dotted` (a package is its __init__.py); None if not ours."""
    parts = dotted.split(".")
    if parts[0] not in LAYERS + OUTSIDE:
        return None
    base = ROOT.joinpath(*parts)
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py").relative_to(ROOT).as_posix()
    if (base / "__init__.py").is_file():
        return (base / "__init__.py").relative_to(ROOT).as_posix()
    return None


def imports(tree: ast.Module) -> set[str]:
    """The files of ours that a module imports, wherever in it the import stands."""
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            # `from pkg import mod` imports the module when `mod` is one.
            names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {path for name in names if (path := module_path(name)) is not None}
    return found


@cache
def graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (parsed once per test run)."""
    return {path: imports(tree) for path, tree, _ in modules()}


def top(path: str) -> str:
    return path.split("/", 1)[0]


def test_no_import_climbs_a_layer() -> None:
    """Nothing imports a higher layer or anything outside the layers, unless listed."""
    broken = {
        (module, target)
        for module, targets in graph().items()
        for target in targets
        if top(target) in OUTSIDE or RANK[top(target)] > RANK[top(module)]
    }
    assert sorted(broken - set(KNOWN)) == [], "imports that climb; see the module docstring"


def test_every_listed_exception_is_still_there() -> None:
    """An import or a long module fixed since it was listed is struck from the list."""
    imported = {(module, target) for module, targets in graph().items() for target in targets}
    long = long_modules()
    assert sorted(set(KNOWN) - imported) == [], "gone: strike it from KNOWN"
    assert sorted(set(LONG) - long) == [], "short enough now: strike it from LONG"


def test_domain_imports_nothing_of_ours_above_it() -> None:
    """The domain stands on its own: no config, no integrations, nothing above."""
    climbing = {
        (module, target)
        for module, targets in graph().items()
        if top(module) == "domain"
        for target in targets
        if top(target) != "domain"
    }
    assert climbing == set()


def test_no_package_cycle() -> None:
    """Top-level packages, and sibling sub-packages, import each other one way only.

    Known climbs are left out (they are listed above); a package's loose modules and its
    sub-packages (`integrations/delivery.py` and `integrations/slack/`) are not siblings.
    """
    edges: set[tuple[str, str]] = set()
    for module, targets in graph().items():
        for target in targets:
            if (module, target) in KNOWN:
                continue
            edges.add((top(module), top(target)))
            a, b = module.split("/"), target.split("/")
            if len(a) > 2 and len(b) > 2 and a[0] == b[0]:
                edges.add(("/".join(a[:2]), "/".join(b[:2])))
    cycles = sorted((a, b) for a, b in edges if a < b and (b, a) in edges)
    assert cycles == []


def long_modules() -> set[str]:
    """Production modules over MAX_LINES. Not the stand-ins: they never run in production,
    and each mirrors one vendor API's surface (Slack's Web API methods, Jira's REST routes)."""
    return {path for path, _, lines in modules() if lines > MAX_LINES and top(path) != "sandbox"}


def test_no_production_module_is_too_long() -> None:
    """A module over MAX_LINES lines is listed in LONG with the reason it is still one file."""
    long = long_modules()
    assert sorted(long - set(LONG)) == [], "split the module, or say in LONG why not"


def test_the_checker_sees_every_form_of_import() -> None:
    """`import a.b`, `from a import b` (a module) and imports inside functions are all seen."""
    source = (
        "import config.loader\nfrom domain import stages\ndef f():\n    from flows import advance\n"
    )
    assert imports(ast.parse(source)) == {
        "config/loader.py",
        "domain/__init__.py",
        "domain/stages.py",
        "flows/__init__.py",
        "flows/advance.py",
    }
