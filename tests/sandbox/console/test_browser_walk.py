"""The sandbox console in a real browser: a request filed and clicked to Done by five people.

`govflow serve` runs as `make run` runs it (stand-ins, Prefect server with its UI, runner,
receiver, console) in a temporary data directory; headless chromium from Debian's packages
does what the README's tour says, through the console's pages only:

- Priya Raman (QA lead) files a review-standard change for SG onboarding in Jira;
- Daniel Kim (onboarding expert) claims it in his channel and assesses it in the modal,
  first leaving out the affected SOP, which govflow refuses inside the modal;
- Priya tries to approve her own request in #qa-signoff: refused, she sees the ephemeral;
- Tomas Herrera (QA), Grace Okafor (BPO) and Lucas Martin (merchant services) approve;
- Daniel publishes the SOP update; the Jira ticket reads Done; the Prefect UI lists the
  request's runs under its key's tag.

GOVFLOW_SCREENSHOTS=docs/screenshots keeps a screenshot of each step (`make screenshots`).
GOVFLOW_CONSOLE_URL=http://127.0.0.1:8400 walks a console already running instead.
"""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.sandbox.console.browser import (
    Person,
    Stuck,
    browser_or_skip,
    chromium,
    screenshots_dir,
)
from tests.sandbox.console.conftest import SandboxServe

REQUESTER = "Priya Raman"
EXPERT = "Daniel Kim"
APPROVERS = (
    ("Tomas Herrera", "qa-signoff"),
    ("Grace Okafor", "bpo-operations"),
    ("Lucas Martin", "merchant-services"),
)


@pytest.fixture(scope="module")
def console_url(sandbox_serve: SandboxServe) -> str:
    """The console of the session's `govflow serve` (or GOVFLOW_CONSOLE_URL's)."""
    browser_or_skip()
    return sandbox_serve.console_url


# --- the walk ----------------------------------------------------------------------------


def file_request(person: Person) -> str:
    """Priya files a complete review-standard change; returns the new ticket's key."""
    person.open("/jira/new")
    person.become(REQUESTER)
    person.fill("request_type", "Review standard change")
    person.fill("domain", "Merchant onboarding")
    person.fill("market", "SG")
    person.fill("summary", "Accept utility bills as address proof for SG home sellers")
    person.fill(
        "description",
        "Home-based sellers in SG often have no tenancy agreement, so onboarding rejects them.",
    )
    person.fill(
        "business_justification",
        "About 120 sellers a month are rejected; 80% of them re-apply with a utility bill.",
    )
    person.fill("affected_sop", "SOP-MOB-001 Merchant KYC onboarding checks")
    person.fill(
        "proposed_change",
        "Accept a utility bill under three months old as proof of address for home sellers.",
    )
    person.driver.execute_script("window.scrollTo(0, 0)")  # the form's top, for the picture
    person.shot("01-create-request")
    person.press(person.driver.find_element(By.ID, "create"))

    def new_key() -> str | None:
        person.driver.find_element(By.ID, "status")  # on the ticket page
        return str(person.driver.current_url).rsplit("/", 1)[1].split("?")[0]

    key = person.until("the new ticket's page", new_key, reload=False)
    assert key.startswith("MODREQ-"), key
    return key


def status_is(person: Person, key: str, status: str) -> None:
    """Wait on the Jira ticket page until it shows `status`."""
    person.open(f"/jira/{key}")
    person.until(
        f"{key} in status {status!r}",
        lambda: person.driver.find_element(By.ID, "status").text == status,
    )


def click_card(person: Person, channel: str, key: str, button: str) -> None:
    """In #channel, find the card about `key` with `button` (in a thread if need be); click."""
    person.open("/slack")
    person.press(person.driver.find_element(By.LINK_TEXT, f"#{channel}"))
    channel_url = person.driver.current_url.split("?")[0]

    def find() -> bool:
        person.open(channel_url)
        card = person.message_about(key, button)
        if card is None:
            threads = [
                link.get_attribute("href")
                for message in person.driver.find_elements(By.CSS_SELECTOR, ".msg")
                if message.get_attribute("data-key") == key
                for link in message.find_elements(By.CSS_SELECTOR, "a.thread-link")
            ]
            for thread in threads:
                person.open(str(thread))
                card = person.message_about(key, button)
                if card is not None:
                    break
        if card is None:
            return False
        found = person.button(button, card)
        assert found is not None
        person.press(found)
        return True

    person.until(f"a {button!r} button about {key} in #{channel}", find, reload=False)


@pytest.mark.timeout(900)  # serve's start and a dozen waits on a shared 2-CPU machine
def test_request_walked_to_done_by_clicks(console_url: str) -> None:
    """File, claim, assess, a refused self-approval, three approvals, publish: Done; /govflow."""
    shots = screenshots_dir()
    with chromium() as driver:
        person = Person(driver, console_url, shots=shots, patience=120)
        person.open("/")
        person.shot("00-home")
        key = file_request(person)
        status_is(person, key, "In review")
        person.shot("02-ticket-in-review")

        # The expert claims in the thread of the request's card, then assesses.
        person.become(EXPERT)
        click_card(person, "onboarding-experts", key, "Claim")
        person.until(
            f"{EXPERT} holding {key}",
            lambda: any(
                key in m.text and EXPERT in m.text and "Held by" in m.text
                for m in driver.find_elements(By.CSS_SELECTOR, ".msg")
            ),
        )
        person.shot("03-claimed")
        click_card(person, "onboarding-experts", key, "Submit assessment")
        person.until("the assessment modal", lambda: driver.find_elements(By.ID, "modal"))
        person.fill("recommendation", "Proceed to sign-off")
        person.fill("risk", "Low")
        person.fill("rationale", "Utility bills are the proof of address the other markets accept.")
        person.fill(
            "proposed_change",
            "### 9 Proof of address\nA utility bill under three months old proves a home "
            "seller's address.",
        )
        person.press(driver.find_element(By.ID, "modal-submit"))
        # Proceeding names no affected SOP: govflow refuses inside the modal, as Slack shows.
        error = person.until(
            "govflow's validation error in the modal",
            lambda: driver.find_element(By.CSS_SELECTOR, ".bk-input.has-error .error").text,
            reload=False,
        )
        assert "SOP" in error, error
        person.shot("04-assessment-validation-error")
        box = driver.find_element(By.CSS_SELECTOR, "input[type=checkbox][value='SOP-MOB-001']")
        box.click()
        person.press(driver.find_element(By.ID, "modal-submit"))
        person.until("the modal closed", lambda: not driver.find_elements(By.ID, "modal"))
        status_is(person, key, "Awaiting approval")

        # The requester may not approve her own request: an ephemeral says so.
        person.become(REQUESTER)
        click_card(person, "qa-signoff", key, "Approve")
        ephemeral = person.until(
            "the ephemeral refusing a self-approval",
            lambda: next(
                (
                    e.text
                    for e in driver.find_elements(By.CSS_SELECTOR, ".ephemeral")
                    if key in e.text
                ),
                None,
            ),
        )
        assert "Only visible to you" in ephemeral
        assert f"You filed {key}, so you cannot approve it" in ephemeral, ephemeral
        person.shot("05-self-approval-refused")

        for approver, channel in APPROVERS:
            person.become(approver)
            click_card(person, channel, key, "Approve")
            person.until(
                f"govflow telling {approver} the approval is recorded",
                lambda: any(
                    f"Your approval on {key} is recorded" in e.text
                    for e in driver.find_elements(By.CSS_SELECTOR, ".ephemeral")
                ),
            )
            person.shot(f"06-approved-{channel}")

        # Every team approved: the SOP owner (the expert team) publishes the update.
        person.become(EXPERT)
        _publish(person, key)
        status_is(person, key, "Done")
        person.shot("08-ticket-done")

        runs = driver.find_element(By.PARTIAL_LINK_TEXT, "Prefect runs for").get_attribute("href")
        assert runs is not None and runs.endswith(f"/runs?tag={key}")
        person.open(runs)
        person.until(
            f"the Prefect UI listing runs tagged {key}",
            lambda: f"{key} · DONE" in person.text() or f"{key} · " in person.text(),
            reload=False,
        )
        person.shot("09-prefect-runs")

        # `/govflow status KEY` answers only the person who typed it.
        person.open("/slack")
        person.become(REQUESTER)
        person.press(driver.find_element(By.LINK_TEXT, "#qa-signoff"))
        person.fill("text", f"/govflow status {key}")
        person.press(driver.find_element(By.CSS_SELECTOR, "#slash button"))
        person.until(
            "the answer to /govflow status",
            lambda: any(
                f"{key}" in e.text and "done" in e.text.lower() and "/govflow status" in e.text
                for e in driver.find_elements(By.CSS_SELECTOR, ".ephemeral")
            ),
        )
        person.shot("10-slash-status")


def _publish(person: Person, key: str) -> None:
    """Find the SOP update card (expert channel or a DM from govflow) and publish it."""
    for place in ("onboarding-experts",):
        try:
            click_card(person, place, key, "Publish")
        except Stuck:
            continue
        break
    if person.driver.find_elements(By.ID, "modal"):
        person.shot("07-publish-modal")
        person.press(person.driver.find_element(By.ID, "modal-submit"))
