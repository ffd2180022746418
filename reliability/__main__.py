"""`python -m reliability soak ...`: the fault soak and crash test (see `reliability.soak`)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from reliability.soak import SoakConfig, run, write_json


def main(argv: Sequence[str] | None = None) -> int:
    """Run the soak, print its table; exit 1 when a check failed."""
    parser = argparse.ArgumentParser(prog="python -m reliability")
    commands = parser.add_subparsers(dest="command", required=True)
    soak = commands.add_parser("soak", help="requests through the lifecycle under faults and kills")
    soak.add_argument("--requests", type=int, default=200)
    soak.add_argument("--fault-rate", type=float, default=0.10)
    soak.add_argument("--kills", type=int, default=6, help="SIGKILLs in all, spread over pieces")
    soak.add_argument("--seed", type=int, default=1)
    soak.add_argument("--people", type=int, default=8, help="scripted people (threads)")
    soak.add_argument("--database-url", help="a PostgreSQL URL (default: a SQLite file)")
    soak.add_argument("--workdir", type=Path, help="where the run's files go (default: /tmp)")
    soak.add_argument("--keep", action="store_true", help="keep logs and ledger afterwards")
    soak.add_argument("--json", type=Path, help="also write every figure here")
    soak.add_argument("--receivers", type=int, default=1, help="receivers behind a balancer")
    soak.add_argument("--runners", type=int, default=1, help="runners (PostgreSQL only if > 1)")
    args = parser.parse_args(argv)
    config = SoakConfig(
        requests=args.requests,
        fault_rate=args.fault_rate,
        kills=args.kills,
        seed=args.seed,
        people=args.people,
        database_url=args.database_url,
        workdir=args.workdir,
        keep=args.keep,
        receivers=args.receivers,
        runners=args.runners,
    )
    # SIGTERM unwinds like Ctrl-C, so the soak still stops the children it started.
    signal.signal(signal.SIGTERM, _exit_on_signal)
    result = run(config, say=lambda text: print(text, file=sys.stderr, flush=True))
    print(result.table())
    if args.json:
        write_json(result, args.json)
    return 0 if result.ok else 1


def _exit_on_signal(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main())
