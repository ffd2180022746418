"""Health endpoints for load balancers and orchestrators: liveness, readiness and metrics.

    GET /healthz   200 while the process answers (liveness: restart it when this fails)
    GET /readyz    200 when what the process needs answers within a short timeout, else 503
                   with the failing check named (readiness: send it no work meanwhile)
    GET /metrics   Prometheus text (govflow.metrics)

A receiver needs only the ledger to record what Slack and Jira send (the runners take the
work from there), so a Prefect outage does not make it unready: it would refuse clicks it can
record. Its readiness still reports Prefect, for the operator. A runner needs both.

The receiver mounts these routes in its own app; a runner, which serves no HTTP otherwise,
runs them on `GOVFLOW_RUNNER_HEALTH_PORT` in a thread (`start_health_server`).
"""

from __future__ import annotations

import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import datetime

import httpx
import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from config.settings import Settings
from govflow.metrics import ledger_registry

# A probe must answer well inside a load balancer's own timeout (commonly 5 s).
CHECK_TIMEOUT_SECONDS = 2.0

Check = Callable[[], str | None]


@dataclass(frozen=True)
class Readiness:
    """The checks behind /readyz: `required` decide it, `reported` are only shown."""

    required: dict[str, Check]
    reported: dict[str, Check]


class LedgerCheck:
    """`SELECT 1` on the ledger within the timeout; None when it answered, else why not."""

    def __init__(self, engine: Engine, timeout: float = CHECK_TIMEOUT_SECONDS) -> None:
        self.engine = engine
        self.timeout = timeout
        # Two threads at most: a hung database cannot pile up threads, probes queue and fail.
        self._pool = ThreadPoolExecutor(max_workers=2, thread_name_prefix="ledger-check")

    def __call__(self) -> str | None:
        """Why the ledger is not ready, or None."""
        future = self._pool.submit(self._select_one)
        try:
            return future.result(timeout=self.timeout)
        except FutureTimeout:
            return f"no answer within {self.timeout:g} s"

    def _select_one(self) -> str | None:
        try:
            with self.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            return type(exc).__name__
        return None


def prefect_check(
    api_url: str | None = None, timeout: float = CHECK_TIMEOUT_SECONDS
) -> Callable[[], str | None]:
    """A check that the Prefect API's /health answers 200 (URL default: PREFECT_API_URL)."""

    def check() -> str | None:
        url = api_url or os.environ.get("PREFECT_API_URL")
        if not url:
            return "PREFECT_API_URL is not set"
        try:
            answer = httpx.get(f"{url.rstrip('/')}/health", timeout=timeout)
        except httpx.HTTPError as exc:
            return type(exc).__name__
        return None if answer.status_code == 200 else f"HTTP {answer.status_code}"

    return check


def health_routes(readiness: Readiness, registry: CollectorRegistry) -> list[Route]:
    """/healthz, /readyz and /metrics over these checks and this registry."""

    async def healthz(request: Request) -> Response:
        """Liveness: the process answers."""
        return JSONResponse({"ok": True})

    async def readyz(request: Request) -> Response:
        """Readiness: every required check passes (checks block: run them in a thread)."""
        return await run_in_threadpool(_readiness_answer, readiness)

    async def metrics(request: Request) -> Response:
        """Prometheus exposition; the ledger's figures are read now (in a thread)."""
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
    ]


def _readiness_answer(readiness: Readiness) -> JSONResponse:
    checks = {**readiness.required, **readiness.reported}
    results = {name: check() for name, check in checks.items()}
    ready = all(results[name] is None for name in readiness.required)
    body = {
        "ready": ready,
        "checks": {name: "ok" if why is None else why for name, why in results.items()},
        "required": sorted(readiness.required),
    }
    return JSONResponse(body, status_code=200 if ready else 503)


def start_health_server(
    host: str, port: int, readiness: Readiness, registry: CollectorRegistry
) -> uvicorn.Server:
    """Serve the health routes on host:port from a daemon thread; returns the server.

    The port is bound here, before the thread starts: a port already taken fails the caller
    at once instead of ending the thread quietly.
    """
    listening = socket.create_server((host, port))
    config = uvicorn.Config(
        Starlette(routes=health_routes(readiness, registry)),
        log_level="warning",
        access_log=False,
    )
    server = uvicorn.Server(config)
    # uvicorn installs no signal handlers outside the main thread: the runner keeps its own.
    threading.Thread(
        target=server.run, kwargs={"sockets": [listening]}, name="health-server", daemon=True
    ).start()
    return server


def serve_runner_health(
    settings: Settings, engine: Engine, clock: Callable[[], datetime]
) -> uvicorn.Server | None:
    """The runner's health server on GOVFLOW_RUNNER_HEALTH_PORT, or None when it is unset."""
    if settings.runner_health_port is None:
        return None
    readiness = Readiness(
        required={"ledger": LedgerCheck(engine), "prefect": prefect_check()}, reported={}
    )
    registry = ledger_registry(engine, clock)
    return start_health_server(
        settings.runner_health_host, settings.runner_health_port, readiness, registry
    )
