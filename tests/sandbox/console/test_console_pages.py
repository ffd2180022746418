"""The console's pages and forms over real stand-ins (in threads), without a browser or govflow.

What a person gets from each form: Jira's own answer to a bad value, the ticket filed, edited
and commented on as the person the switcher names; a bot message rendered with its buttons;
a click refused when nothing receives it, said on the page.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from config.loader import load_rules
from config.settings import load_settings
from sandbox.console.app import COOKIE, create_console_app
from sandbox.console.backend import Backend
from sandbox.jira_server import JiraSandbox
from sandbox.server import ThreadedServer
from sandbox.slack.sandbox import SlackSandbox
from sandbox.slack.seed import BOT

QA_SIGNOFF = "C0QA00001"


@pytest.fixture
def stand_ins() -> Iterator[tuple[JiraSandbox, SlackSandbox]]:
    with JiraSandbox(seed=True) as jira, SlackSandbox() as slack:
        yield jira, slack


@pytest.fixture
def console(stand_ins: tuple[JiraSandbox, SlackSandbox], tmp_path: Path) -> Iterator[httpx.Client]:
    jira, slack = stand_ins
    settings = load_settings({"GOVFLOW_DATA_DIR": str(tmp_path)})
    backend = Backend(
        jira_url=jira.url,
        slack_url=slack.url,
        prefect_ui_url="http://127.0.0.1:4200",
        rules=load_rules(settings.rules),
    )
    backend.register_people("http://console.test")
    with (
        ThreadedServer(create_console_app(backend)) as server,
        httpx.Client(base_url=server.url, timeout=30) as client,
    ):
        yield client
    backend.close()


TOUR = {
    "request_type": "Review standard change",
    "domain": "Merchant onboarding",
    "market": "SG",
    "summary": "Accept utility bills as address proof for SG home sellers",
    "description": "Home-based sellers in SG often have no tenancy agreement at all.",
    "business_justification": "About 120 sellers a month are rejected for it today.",
    "affected_sop": "SOP-MOB-001",
    "proposed_change": "Accept a utility bill under three months old as address proof.",
}


def test_home_lists_the_example_tickets_and_the_switcher(console: httpx.Client) -> None:
    page = console.get("/").text
    assert "MODREQ-1" in page and "MODREQ-7" in page
    assert ">Priya Raman, QA Lead</option>" in page
    assert ">Aisyah Rahman, merchant services, Jira only</option>" in page


def test_a_bad_value_gets_jiras_answer(console: httpx.Client) -> None:
    page = console.post("/jira/new", data={**TOUR, "market": "ZZ"}, follow_redirects=False)
    assert page.status_code == 400
    assert "Jira refused the ticket" in page.text
    assert "Option value &#39;ZZ&#39; is not valid" in page.text
    # What was typed stays in the form.
    assert "Accept utility bills as address proof" in page.text


def test_file_edit_and_comment_as_the_chosen_person(
    console: httpx.Client, stand_ins: tuple[JiraSandbox, SlackSandbox]
) -> None:
    jira, _ = stand_ins
    console.post("/as", data={"as": "U0QA00002", "back": "/"})
    assert console.cookies[COOKIE] == "U0QA00002"
    filed = console.post("/jira/new", data=TOUR, follow_redirects=False)
    assert filed.status_code == 303
    assert filed.headers["location"].startswith("/jira/MODREQ-8?")
    snapshot = jira.snapshot("MODREQ-8")
    assert snapshot["fields"]["Reporter"] == "tomas.herrera@example.com"
    assert snapshot["fields"]["Market"] == "SG"

    console.post("/jira/MODREQ-8/edit", data={**TOUR, "market": "MY"})
    changes = [c for c in jira.field_changes("MODREQ-8") if c.field_name == "Market"]
    assert [(c.new, c.by_email) for c in changes][-1] == ("MY", "tomas.herrera@example.com")
    console.post("/jira/MODREQ-8/comment", data={"body": "Here is the audit sheet."})
    [comment] = jira.comments("MODREQ-8")
    assert (comment.author_email, comment.body) == (
        "tomas.herrera@example.com",
        "Here is the audit sheet.",
    )
    page = console.get("/jira/MODREQ-8").text
    assert "Here is the audit sheet." in page and "Tomas Herrera" in page
    # What the page polls to reload itself when the ticket changes.
    state = console.get("/jira/MODREQ-8/state").json()
    assert state["status"] == "Open" and state["comments"] == 1
    assert 'href="http://127.0.0.1:4200/runs?tag=MODREQ-8"' in page


def test_a_card_is_drawn_with_its_buttons_and_an_unreceived_click_is_said(
    console: httpx.Client, stand_ins: tuple[JiraSandbox, SlackSandbox]
) -> None:
    _, slack = stand_ins
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Sign-off · QA"}},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*MODREQ-1* by <@U0QA00001>"}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": "govflow.approve",
                    "value": '{"k":"MODREQ-1","t":"qa"}',
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                }
            ],
        },
    ]
    posted = slack.post_as_user(QA_SIGNOFF, BOT.id, "MODREQ-1 sign-off", blocks=blocks)
    console.post("/as", data={"as": "U0QA00002", "back": "/"})
    page = console.get(f"/slack/c/{QA_SIGNOFF}").text
    assert '<div class="bk-header">Sign-off · QA</div>' in page
    assert '<span class="mention">@Priya Raman</span>' in page
    assert 'data-action="govflow.approve">Approve</button>' in page
    assert console.get(f"/slack/c/{QA_SIGNOFF}?fragment=1").text.count("<html") == 0

    clicked = console.post(
        "/slack/click",
        data={
            "channel": QA_SIGNOFF,
            "ts": posted.ts,
            "action_id": "govflow.approve",
            "value": '{"k":"MODREQ-1","t":"qa"}',
            "back": f"/slack/c/{QA_SIGNOFF}",
        },
        follow_redirects=False,
    )
    assert clicked.status_code == 303
    assert "is+govflow%27s+receiver+running" in clicked.headers["location"]


def test_unknown_pages_are_404_and_redirects_stay_on_the_console(console: httpx.Client) -> None:
    assert console.get("/jira/MODREQ-999").status_code == 404
    assert console.get("/slack/c/C0NOPE").status_code == 404
    moved = console.post(
        "/as",
        data={"as": "U0QA00001", "back": "https://elsewhere.example/x"},
        follow_redirects=False,
    )
    assert moved.headers["location"] == "/x"
