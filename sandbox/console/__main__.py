"""`python -m sandbox.console --port N`: serve the console over the running stand-ins.

The stand-ins' addresses come from the environment `govflow serve` gives its children:
GOVFLOW_JIRA_URL, GOVFLOW_SLACK_API_URL and (when it started one) PREFECT_API_URL.
"""

from __future__ import annotations

import argparse
import os

import uvicorn

from config.loader import load_rules
from config.settings import load_settings
from sandbox.console.app import create_console_app
from sandbox.console.backend import Backend
from sandbox.server import bind_loopback


def main(argv: list[str] | None = None) -> None:
    """Bind 127.0.0.1:PORT, point Jira's browse links here, serve until interrupted."""
    parser = argparse.ArgumentParser(prog="python -m sandbox.console", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    args = parser.parse_args(argv)
    settings = load_settings()
    prefect_api = os.environ.get("PREFECT_API_URL", "")
    backend = Backend(
        jira_url=os.environ["GOVFLOW_JIRA_URL"],
        slack_url=os.environ["GOVFLOW_SLACK_API_URL"].rstrip("/").removesuffix("/api"),
        prefect_ui_url=prefect_api.rstrip("/").removesuffix("/api") or None,
        rules=load_rules(settings.rules),
    )
    sock = bind_loopback(args.port)
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    backend.register_people(url)
    print(f"sandbox console on {url}", flush=True)
    config = uvicorn.Config(
        create_console_app(backend), log_level="warning", access_log=False, lifespan="off"
    )
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        backend.close()


if __name__ == "__main__":
    main()
