"""Screenshots of the PM's board and of one request's journey in the Prefect UI.

    .venv/bin/python -m screenshots.pm_views       # docs/screenshots/11-*.png and 12-*.png
    .venv/bin/python -m screenshots.pm_views --out /tmp/shots

Starts everything it needs and stops it again: a Prefect server with its UI, the seeded Jira
and Slack stand-ins, the receiver and the runner's dispatcher, a fresh SQLite ledger in a
temporary directory. It runs the intake flow once (which routes the seeded tickets), then
people click in the Slack stand-in as they would in Slack: an expert claims MODREQ-1 and
assesses it, and one QA and one BPO approver approve it, so the board shows a request in
sign-off with its progress. It then opens the board's page and MODREQ-1's journey page in
headless chromium (Debian's `chromium` and `chromium-driver` packages, through Selenium) and
saves what a PM sees. Nothing is drawn by hand: the pictures are the UI showing what govflow
published.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from sqlalchemy.orm import Session, sessionmaker

    from sandbox.slack.sandbox import SlackSandbox

T = TypeVar("T")

JOURNEY_KEY = "MODREQ-1"
BOARD_SHOT = "11-pm-board.png"
JOURNEY_SHOT = "12-request-journey.png"


def main() -> None:
    """Take both screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/screenshots"))
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="govflow-shots-") as work, pipeline(Path(work)) as api:
        from integrations.prefect_ui.artifacts import artifact_key
        from integrations.prefect_ui.urls import artifact_page, board_page

        journey = latest_id(api, artifact_key(JOURNEY_KEY))
        pages = [
            (board_page(api), "held by", args.out / BOARD_SHOT, 2400),
            (
                artifact_page(api, journey),
                "Filed the request in Jira",
                args.out / JOURNEY_SHOT,
                2000,
            ),
        ]
        for url, text, path, width in pages:
            shoot(url, text, path, width)
            print(f"wrote {path}")


def latest_id(api_url: str, key: str) -> str:
    """The id of the artifact a key shows."""
    import httpx

    answer = httpx.post(
        f"{api_url}/artifacts/latest/filter", json={"artifacts": {"key": {"any_": [key]}}}
    )
    answer.raise_for_status()
    return str(answer.json()[0]["latest_id"])


@contextmanager
def pipeline(work: Path) -> Iterator[str]:
    """A Prefect server with UI, the stand-ins and a ledger, with intake run once; the API URL."""
    from govflow.prefect_server import free_port, start_prefect_server, stop_prefect_server
    from sandbox.jira_server import JiraSandbox
    from sandbox.slack.sandbox import SlackSandbox

    process, api_url = start_prefect_server(work / "prefect", port=free_port(), ui=True)
    try:
        with JiraSandbox(seed=True) as jira, SlackSandbox(seed=True) as slack:
            user, token = jira.credentials
            os.environ.update(
                {
                    "PREFECT_API_URL": api_url,
                    "GOVFLOW_JIRA_URL": jira.url,
                    "GOVFLOW_JIRA_USER": user,
                    "GOVFLOW_JIRA_TOKEN": token,
                    "GOVFLOW_SLACK_BOT_TOKEN": slack.bot_token,
                    "GOVFLOW_SLACK_API_URL": slack.api_url,
                    "GOVFLOW_SLACK_SIGNING_SECRET": "screenshots",
                    "GOVFLOW_DATABASE_URL": f"sqlite:///{work / 'ledger.db'}",
                }
            )
            run_intake()
            with people(slack) as click:
                walk_to_signoff(click)
            yield api_url
    finally:
        stop_prefect_server(process)


def run_intake() -> None:
    """Migrate the ledger, import the SOPs, and run intake once (it publishes the artifacts)."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from config.check import load_config
    from flows.intake import intake
    from govflow.startup import prepare_ledger
    from integrations.db.engine import make_engine

    settings, rules = load_config()
    engine = make_engine(settings.database_url)
    try:
        prepare_ledger(settings, rules, engine, datetime.now(UTC))
    finally:
        engine.dispose()
    with temporary_settings({PREFECT_API_URL: os.environ["PREFECT_API_URL"]}):
        intake()


class Clicks:
    """Cards found through the ledger's outbox, clicked and submitted in the Slack stand-in."""

    def __init__(self, slack: SlackSandbox, sessions: sessionmaker[Session]) -> None:
        self.slack = slack
        self.sessions = sessions

    def card(self, suffix: str) -> tuple[str, str]:
        """Channel and ts of one of MODREQ-1's cards, once posted."""
        from sqlalchemy import select

        from integrations.db.models import OutboxRow

        def posted() -> tuple[str, str] | None:
            with self.sessions.begin() as session:
                row = session.scalar(
                    select(OutboxRow).where(OutboxRow.idempotency_key == f"{JOURNEY_KEY}:{suffix}")
                )
                if row is None or "ts" not in row.result:
                    return None
                return str(row.result["channel"]), str(row.result["ts"])

        return wait(posted)

    def click(self, suffix: str, action: str, user: str) -> None:
        """`user` presses a button of a card."""
        channel, ts = self.card(suffix)
        answer = self.slack.click(channel, ts, action, user)
        if answer.status != 200:
            raise RuntimeError(f"{action} by {user}: {answer.body}")

    def submit(self, user: str, values: dict[str, Any]) -> None:
        """`user` fills in and submits the modal the last click opened."""
        view = wait(lambda: self.slack.views(user=user))[-1]
        answer = self.slack.submit_view(view.id, user, values)
        if answer.status != 200 or answer.body:
            raise RuntimeError(f"modal refused: {answer.body}")

    def stage_is(self, stage: str) -> bool:
        """Whether MODREQ-1 reached `stage`."""
        from sqlalchemy import select

        from integrations.db.models import RequestRow

        with self.sessions.begin() as session:
            found = session.scalar(
                select(RequestRow.stage).where(RequestRow.jira_key == JOURNEY_KEY)
            )
        return found == stage


@contextmanager
def people(slack: SlackSandbox) -> Iterator[Clicks]:
    """The receiver and the dispatcher running, the stand-in delivering clicks to them."""
    import threading

    from flows.advance import run_advance
    from govflow.dispatch import Dispatcher
    from govflow.receiver import create_app, ledger_only
    from govflow.runtime import Runtime, utc_now
    from sandbox.server import ThreadedServer

    runtime = Runtime.load()
    stop = threading.Event()
    dispatcher = Dispatcher(engine=runtime.engine, run=run_advance, clock=utc_now, workers=2)
    thread = threading.Thread(target=dispatcher.serve, args=(stop,), daemon=True)
    thread.start()
    try:
        with ThreadedServer(create_app(runtime, advance=ledger_only)) as server:
            slack.configure_receiver(f"{server.url}/slack/events", "screenshots")
            clicks = Clicks(slack, runtime.sessions)
            yield clicks
            wait(dispatcher.idle)
            time.sleep(6)  # the board's debounced publication
    finally:
        stop.set()
        thread.join(timeout=60)


def walk_to_signoff(clicks: Clicks) -> None:
    """An expert claims and assesses MODREQ-1; one QA and one BPO approver approve."""
    from integrations.slack.action_ids import ActionId

    expert = "U0EX00003"  # Listing Experts' lead
    clicks.click("assignment:0", ActionId.CLAIM, expert)
    clicks.click("assignment:0", ActionId.ASSESS, expert)
    clicks.submit(
        expert,
        {
            "recommendation": "PROCEED",
            "risk": "MEDIUM",
            "proposed_change": "### 3.2 Luxury handbags\nA serial-number photo above MYR 1,500.",
            "affected_sops": ["SOP-LST-002"],
            "rationale": "Counterfeit complaints rose 40%; a second check is cheap.",
        },
    )
    wait(lambda: clicks.stage_is("SIGN_OFF"))
    clicks.click("approval:1:qa", ActionId.APPROVE, "U0QA00001")
    clicks.click("approval:1:bpo_ops", ActionId.APPROVE, "U0BP00001")


def wait(check: Callable[[], T | None], timeout: float = 120.0) -> T:
    """Poll until `check` answers."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise RuntimeError("the walk stalled")
        time.sleep(0.3)


def shoot(url: str, text: str, path: Path, width: int) -> None:
    """Open `url` in headless chromium, wait until `text` shows, save a PNG of the page."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    browser = shutil.which("chromium") or "/usr/bin/chromium"
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    options = Options()
    options.binary_location = browser
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        f"--window-size={width},1100",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        driver.get(url)
        deadline = time.monotonic() + 60
        while text not in driver.find_element("tag name", "body").text:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} never showed {text!r}")
            time.sleep(0.5)
        time.sleep(1.0)  # let the last layout settle
        driver.save_screenshot(str(path))
    finally:
        driver.quit()


if __name__ == "__main__":
    main()
