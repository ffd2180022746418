"""Run every benchmark module in this package and print one table.

python -m bench            # full size (minutes)
python -m bench --quick    # CI size (seconds)
python -m bench watchdog   # only the modules named
python -m bench --json out.json hitl   # also the rows (and a module's DETAILS) as JSON
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import pkgutil
import platform
from collections.abc import Sequence
from pathlib import Path

import bench


def modules(only: Sequence[str]) -> list[str]:
    """The bench modules to run, in name order."""
    found = sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if m.name != "__main__")
    unknown = sorted(set(only) - set(found))
    if unknown:
        raise SystemExit(f"no bench module {', '.join(unknown)}; there are {', '.join(found)}")
    return [name for name in found if not only or name in only]


def table(rows: Sequence[dict[str, object]]) -> str:
    """Rows as aligned columns (numbers right-aligned), the header first."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    widths = [max(len(c), *(len(r[i]) for r in cells)) for i, c in enumerate(columns)]
    numeric = [all(_is_number(row.get(c)) for row in rows if c in row) for c in columns]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *map(line, cells)])


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def main() -> None:
    """Parse the command line, run the benchmarks, print the table."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CI-sized inputs")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    parser.add_argument("modules", nargs="*", help="only these bench modules")
    args = parser.parse_args()
    rows: list[dict[str, object]] = []
    details: dict[str, object] = {}
    for name in modules(args.modules):
        module = importlib.import_module(f"bench.{name}")
        rows += [{"bench": name, **row} for row in module.run(quick=args.quick)]
        if hasattr(module, "DETAILS"):  # every sample behind a module's rows
            details[name] = module.DETAILS
    print(table(rows))
    if args.json:
        machine = {"cpus": os.cpu_count(), "python": platform.python_version()}
        report = {"quick": args.quick, "machine": machine, "rows": rows, "details": details}
        args.json.write_text(json.dumps(report, indent=2, default=str))


if __name__ == "__main__":
    main()
