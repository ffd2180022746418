"""The PM board's publication cost at 100, 1,000 and 10,000 open requests.

    python -m bench board            # 100, 1,000, 10,000 open; PostgreSQL and SQLite
    python -m bench board --quick    # 100 and 1,000 open

Each case fills a fresh ledger with open requests as `bench.watchdog` does (expert review, a
running clock each, 1% of them overdue), starts nothing else, and times:
- `read+render`: `read_board` (the ordered, limited query, the live clocks of the rows
  shown, validating their states, wording each cell with calendar arithmetic) and
  `board_markdown`, median of the warm repeats (the first, `cold`, builds the calendars);
- `publish`: one in-place update of the artifact on a real local Prefect server (started for
  the bench, SQLite-backed), median of the repeats;
- `cpu ms`: the bench process's CPU time over a warm read+render (the machine is shared:
  this moves much less with other people's load than the wall time; the database server's
  CPU is not in it);
- `KB`: the markdown's size.
With `rows = 1000` (the default limit) the cost should stop growing with the open count;
`rows = all` shows what a board of every open request would cost.
"""

from __future__ import annotations

import os
import shutil
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from prefect.settings import PREFECT_API_URL, temporary_settings

from bench.watchdog import NOW, ledger, load_fixture
from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.rules import Rules
from govflow.prefect_server import free_port, start_prefect_server, stop_prefect_server
from integrations.db.engine import make_sessionmaker
from integrations.prefect_ui.artifacts import put_markdown
from integrations.prefect_ui.board import BOARD_ROWS, board_markdown, read_board

REPEATS = 5
JIRA = "https://jira.example.com"


def run(*, quick: bool) -> list[dict[str, object]]:
    """Every case on both backends, publishing to one local Prefect server."""
    sizes = [100, 1_000] if quick else [100, 1_000, 10_000]
    rules = load_rules(DEFAULT_RULES)
    rows: list[dict[str, object]] = []
    with prefect_server():
        for backend in ("postgresql", "sqlite"):
            for size in sizes:
                with ledger(backend) as engine:
                    if engine is None:
                        rows.append({"case": f"{backend}: unreachable"})
                        continue
                    load_fixture(engine, rules, size, max(1, size // 100))
                    for limit in (BOARD_ROWS, None):
                        rows.append(measure(engine, rules, backend, size, limit))
    return rows


def measure(
    engine: object, rules: Rules, backend: str, size: int, limit: int | None
) -> dict[str, object]:
    """Time reading, wording and publishing one board."""
    sessions = make_sessionmaker(engine)  # type: ignore[arg-type]
    renders: list[float] = []
    cpu: list[float] = []
    publishes: list[float] = []
    markdown = ""
    shown = 0
    for _ in range(REPEATS + 1):
        started, cpu_started = time.perf_counter(), time.process_time()
        with sessions.begin() as session:
            board = read_board(session, rules, NOW, jira_browse_url=JIRA, limit=limit)
        markdown = board_markdown(board)
        renders.append(time.perf_counter() - started)
        cpu.append(time.process_time() - cpu_started)
        shown = len(board.rows)
        started = time.perf_counter()
        put_markdown(f"bench-board-{backend}-{size}-{limit or 'all'}", markdown, "bench")
        publishes.append(time.perf_counter() - started)
    return {
        "case": f"{backend} {size:,} open",
        "rows": shown if limit else f"all ({shown:,})",
        "cold ms": round(renders[0] * 1000, 1),
        "read+render ms": round(statistics.median(renders[1:]) * 1000, 1),
        "cpu ms": round(statistics.median(cpu[1:]) * 1000, 1),
        "publish ms": round(statistics.median(publishes[1:]) * 1000, 1),
        "KB": round(len(markdown.encode()) / 1024, 1),
        "load": round(os.getloadavg()[0], 2),
    }


@contextmanager
def prefect_server() -> Iterator[str]:
    """A local Prefect server for the bench, unless PREFECT_API_URL names one."""
    if os.environ.get("PREFECT_API_URL"):
        yield os.environ["PREFECT_API_URL"]
        return
    home = Path(tempfile.mkdtemp(prefix="govflow-bench-prefect-"))
    process, api_url = start_prefect_server(home, port=free_port(), ui=False)
    try:
        with temporary_settings({PREFECT_API_URL: api_url}):
            yield api_url
    finally:
        stop_prefect_server(process)
        shutil.rmtree(home, ignore_errors=True)
