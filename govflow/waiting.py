"""Waiting for a freshly started child process to answer over HTTP."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Callable

import httpx


def wait_for_http(
    url: str,
    process: subprocess.Popen[bytes],
    timeout: float,
    *,
    what: str,
    require_ok: bool = False,
    interval: float = 0.1,
    abort: Callable[[], bool] | None = None,
) -> None:
    """Poll `url` until it answers (200 if `require_ok`); fail if the process dies or time is up.

    Returns early, without an answer, once `abort()` is true (a stop asked for meanwhile).
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if abort is not None and abort():
            return
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        try:
            answer = httpx.get(url, timeout=2)
            if not require_ok or answer.status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: that is what we are waiting for
        time.sleep(interval)
    raise RuntimeError(f"{what} did not answer within {timeout:.0f} s")
