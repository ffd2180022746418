"""Run the Slack stand-in as its own process: `python -m sandbox.slack_server --port N [--seed]`.

Prints `slack sandbox listening on http://127.0.0.1:PORT/api/` once the socket is bound
(so `--port 0` is usable: read the port from that line), then serves until interrupted.
Drive it with `sandbox.slack.RemoteSlackSandbox(url)`.
"""

from __future__ import annotations

import argparse

import uvicorn

from sandbox.faults import FaultPlan
from sandbox.server import bind_loopback
from sandbox.slack.app import SlackApp
from sandbox.slack.interactivity import Interactivity
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from sandbox.slack.state import SlackWorkspace
from sandbox.slack_socket import SocketModeHub


def main(argv: list[str] | None = None) -> None:
    """Parse arguments, bind 127.0.0.1, announce the URL and serve in the foreground."""
    parser = argparse.ArgumentParser(description="Slack Web API stand-in")
    parser.add_argument("--port", type=int, default=0, help="TCP port (0 picks a free one)")
    parser.add_argument("--seed", action="store_true", help="load the example workspace")
    parser.add_argument("--receiver-url", help="deliver interactions to this Request URL")
    parser.add_argument("--signing-secret", default="", help="sign deliveries with this secret")
    parser.add_argument("--app-token", help="accept this xapp- token for Socket Mode")
    args = parser.parse_args(argv)

    workspace = SlackWorkspace()
    if args.seed:
        workspace.load(EXAMPLE_WORKSPACE)
    sock = bind_loopback(args.port)
    port = sock.getsockname()[1]
    print(f"slack sandbox listening on http://127.0.0.1:{port}/api/", flush=True)
    if args.seed:
        print(f"bot token: {EXAMPLE_WORKSPACE.bot_token}", flush=True)
    interactivity = Interactivity(workspace)
    interactivity.public_url = f"http://127.0.0.1:{port}"
    if args.receiver_url:
        interactivity.configure(args.receiver_url, args.signing_secret)
    socket = SocketModeHub(workspace)
    if args.app_token:
        socket.add_app_token(args.app_token)
    app = SlackApp(workspace, FaultPlan(), interactivity=interactivity, socket=socket)
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
