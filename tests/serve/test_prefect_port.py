"""Two Prefect servers started at the same moment on the same port each end up with their own.

`govflow serve` without PREFECT_API_URL starts its own Prefect server on 4200 when that looks
free; two serves started together both see it free. Before the fix the one that lost the bind
carried on with the winner's server (its health check was answered by the winner before its
own server gave up), and lost it when the winner stopped.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from govflow.prefect_server import PortTaken, free_port, start_prefect_server

pytestmark = pytest.mark.prefect


class Started:
    """Servers started by a test, each stopped at the end."""

    def __init__(self) -> None:
        self.processes: list[subprocess.Popen[bytes]] = []
        self.lock = threading.Lock()

    def start(self, home: Path, **where: int) -> str:
        """Start a server with its state in `home`; its API URL."""
        process, api_url = start_prefect_server(home, ui=False, timeout=180, **where)
        with self.lock:
            self.processes.append(process)
        return api_url


@pytest.fixture
def started() -> Iterator[Started]:
    """Stops every server the test started."""
    servers = Started()
    yield servers
    for process in servers.processes:
        process.kill()
        process.wait()


def home_of(api_url: str) -> Path:
    """Where the server answering at `api_url` keeps its state."""
    answer = httpx.get(f"{api_url}/admin/settings", timeout=10)
    answer.raise_for_status()
    return Path(answer.json()["home"]).resolve()


def at_once(*starts: tuple[Path, dict[str, int]], started: Started) -> list[str | Exception]:
    """Start the servers in threads released together; each one's API URL or error."""
    gate = threading.Barrier(len(starts))
    results: list[str | Exception] = [RuntimeError("did not finish")] * len(starts)

    def one(index: int, home: Path, where: dict[str, int]) -> None:
        gate.wait()
        try:
            results[index] = started.start(home, **where)
        except (PortTaken, RuntimeError) as error:
            results[index] = error

    threads = [
        threading.Thread(target=one, args=(i, home, where))
        for i, (home, where) in enumerate(starts)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(300)
    return results


def test_two_servers_preferring_one_port_each_get_their_own(
    tmp_path: Path, started: Started
) -> None:
    """Both prefer the same free port (as two serves prefer 4200): one gets it, the other
    starts on another port, and each URL is answered by the server with its own state."""
    port = free_port()
    homes = tmp_path / "a", tmp_path / "b"
    results = at_once(*((home, {"prefer": port}) for home in homes), started=started)
    assert all(isinstance(url, str) for url in results), results
    urls = [str(url) for url in results]
    assert len(set(urls)) == 2
    assert any(f":{port}/" in url for url in urls)
    for home, url in zip(homes, urls, strict=True):
        assert home_of(url) == home.resolve()
    assert all(process.poll() is None for process in started.processes)


def test_a_server_that_must_have_a_taken_port_says_so(tmp_path: Path, started: Started) -> None:
    """Both must have the same port (PREFECT_SERVER_API_PORT, the tests' server): one gets
    it, the other fails with PortTaken rather than carry on with a server not its own."""
    port = free_port()
    homes = tmp_path / "a", tmp_path / "b"
    results = at_once(*((home, {"port": port}) for home in homes), started=started)
    urls = [r for r in results if isinstance(r, str)]
    errors = [r for r in results if not isinstance(r, str)]
    assert len(urls) == 1, results
    assert len(errors) == 1 and isinstance(errors[0], PortTaken), results
    winner = homes[results.index(urls[0])]
    assert home_of(urls[0]) == winner.resolve()
    # The loser left nothing running.
    loser = homes[1 - results.index(urls[0])]
    assert not running_from(loser)


def running_from(home: Path) -> list[int]:
    """Processes whose environment names `home` as their PREFECT_HOME."""
    wanted = f"PREFECT_HOME={home}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue  # gone meanwhile, or not ours to read
        if wanted in environ:
            found.append(int(entry.name))
    return found
