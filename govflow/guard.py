"""A child's guard: runs one command and takes its whole process group down with its supervisor.

    python -m govflow.guard <lifeline-fd> -- <command> [args...]

`govflow serve` starts every child through a guard, in a process group of their own. The
guard holds the reading end of a pipe whose writing end only the supervisor holds: when the
supervisor ends, however it ends (SIGKILL included), the pipe reads end-of-file, and the
guard stops the group (SIGTERM, then SIGKILL after a grace period). A parent-death signal
alone would reach the direct child only, not the flow-run processes a runner starts or the
children of a Prefect server. On Linux the command also gets SIGTERM if the guard itself dies.

The guard ignores the group signals the supervisor sends (the command receives them too)
and exits with the command's exit code, so the supervisor sees the command's fate. It
imports nothing beyond the standard library: it starts in a few milliseconds.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

# How long the group gets between SIGTERM and SIGKILL once the supervisor is gone.
GRACE_SECONDS = 8.0
PR_SET_PDEATHSIG = 1


def parent_death_signal(signum: int) -> Callable[[], None] | None:
    """A preexec function that has the kernel send `signum` to the child when its parent dies.

    Linux only (prctl); None elsewhere. The parent may already be gone by the time the child
    runs it: then the child sends itself the signal rather than live on as an orphan.
    """
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(None, use_errno=True)
    parent = os.getpid()

    def arm() -> None:
        libc.prctl(PR_SET_PDEATHSIG, signum, 0, 0, 0)
        if os.getppid() != parent:
            os.kill(os.getpid(), signum)

    return arm


def _ignore(_signum: int, _frame: object) -> None:
    """A handler, not SIG_IGN: an ignored signal would stay ignored in the exec'd command."""


def supervise(lifeline: int, argv: Sequence[str], grace: float = GRACE_SECONDS) -> int:
    """Run `argv`; stop its process group when `lifeline` reads end-of-file; its exit code."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _ignore)
    # preexec_fn is safe here: the guard runs no threads.
    command = subprocess.Popen(argv, preexec_fn=parent_death_signal(signal.SIGTERM))
    while True:
        code = command.poll()
        if code is not None:
            return code
        try:
            readable, _, _ = select.select([lifeline], [], [], 0.5)
        except InterruptedError:
            continue
        if readable and not os.read(lifeline, 1):
            _stop_group(command, grace)
            return 1


def _stop_group(command: subprocess.Popen[bytes], grace: float) -> None:
    """The supervisor is gone: SIGTERM the group, then SIGKILL it, this guard included."""
    group = os.getpgid(0)
    os.killpg(group, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while command.poll() is None and time.monotonic() < deadline:
        time.sleep(0.1)
    # Flow-run processes and other grandchildren may outlive the command; none outlives this.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(group, signal.SIGKILL)


def main(args: Sequence[str]) -> int:
    """Parse `<fd> -- <command...>` and supervise the command."""
    if len(args) < 3 or args[1] != "--":
        print(
            "usage: python -m govflow.guard <lifeline-fd> -- <command> [args...]", file=sys.stderr
        )
        return 2
    return supervise(int(args[0]), args[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
