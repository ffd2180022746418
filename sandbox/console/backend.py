"""What the console reads and does, over the stand-ins' own HTTP control APIs.

The console holds no copy of Jira or Slack: every page reads the stand-ins (`/_sandbox/...`)
and every action goes through them, so what a person does here reaches govflow exactly as
it would from Jira (a filed issue, an edit, a comment: the stand-in's webhooks) and from
Slack (the stand-in signs and delivers the click, submission or command). The console keeps
only what the Slack client keeps in a person's browser: which modals they closed and the
answers to their slash commands.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from domain.rules import Rules
from integrations.prefect_ui.urls import board_url, runs_url
from sandbox.console.blockkit import metadata_key
from sandbox.jira.control import RemoteJiraSandbox
from sandbox.jira.seed import CUSTOM_FIELDS
from sandbox.jira.seed import USERS as JIRA_ONLY_USERS
from sandbox.slack.interactivity import Delivery, _with_block_ids
from sandbox.slack.sandbox import RemoteSlackSandbox
from sandbox.slack.seed import EXAMPLE_WORKSPACE
from sandbox.slack.state import Ephemeral, Message, View

JIRA_KEY = re.compile(r"\b([A-Z][A-Z0-9]+-\d+)\b")
# How long a click waits for the modal govflow opens (Slack's trigger_id lives 3 s).
MODAL_WAIT_SECONDS = 4.0
# Modals older than this are not offered again as "still open".
OPEN_VIEW_SECONDS = 30 * 60
PRIORITIES = ("Highest", "High", "Medium", "Low", "Lowest")


@dataclass(frozen=True)
class Person:
    """Someone the console can act as: a seeded Slack person (also in Jira) or Jira-only."""

    key: str
    name: str
    title: str
    email: str
    slack_id: str | None

    @property
    def label(self) -> str:
        """ "Priya Raman, QA Lead"."""
        return f"{self.name}, {self.title}" if self.title else self.name


def seeded_people() -> list[Person]:
    """The example workspace's people, then the Jira-only reporters of the example tickets."""
    people = [
        Person(u.id, u.real_name, u.title, u.email or "", u.id)
        for u in EXAMPLE_WORKSPACE.users
        if u.email
    ]
    people += [
        Person(f"jira:{u.email}", u.display_name, f"{u.team}, Jira only", u.email, None)
        for u in JIRA_ONLY_USERS
    ]
    return people


@dataclass(frozen=True)
class FormField:
    """One field of the "Create request" form, from the rules and the Jira field."""

    key: str
    jira: str
    label: str
    help: str
    options: tuple[str, ...]
    multiline: bool
    required_for: tuple[str, ...]


def request_form(rules: Rules) -> list[FormField]:
    """The fields the rules ask for, with the options the Jira field offers."""
    jira_options = {f.name: f.options for f in CUSTOM_FIELDS}
    rule_options: dict[str, tuple[str, ...]] = {
        "request_type": tuple(t.jira_value for t in rules.request_types.values()),
        "domain": tuple(d.jira_value for d in rules.domains.values()),
        "market": tuple(rules.markets),
    }
    form: list[FormField] = []
    for key, spec in rules.fields.items():
        needed_by = tuple(t.label for t in rules.request_types.values() if key in t.required_fields)
        options = jira_options.get(spec.jira) or tuple(spec.allowed or ()) or ()
        if not options and spec.kind.value == "option":
            options = rule_options.get(key, ())
        form.append(
            FormField(
                key=key,
                jira=spec.jira,
                label=spec.label,
                help=spec.help,
                options=tuple(options),
                multiline=spec.min_length >= 30 or key == "description",
                required_for=needed_by,
            )
        )
    return form


@dataclass(frozen=True)
class Answer:
    """What govflow answered one person directly (a slash command's reply)."""

    user: str
    channel: str
    text: str
    at: float


@dataclass
class ClickOutcome:
    """What a click led to: a modal to show, or a note for the page."""

    view_id: str | None = None
    note: str | None = None


@dataclass
class SubmitOutcome:
    """What a modal submission led to: closed, or open again with errors or a note."""

    closed: bool
    errors: dict[str, str] = field(default_factory=dict)
    note: str | None = None


class Backend:
    """The stand-ins as one person at a time sees and uses them."""

    def __init__(
        self,
        *,
        jira_url: str,
        slack_url: str,
        prefect_ui_url: str | None,
        rules: Rules,
    ) -> None:
        self.jira_url = jira_url.rstrip("/")
        self.slack_url = slack_url.rstrip("/")
        self.prefect_ui_url = prefect_ui_url.rstrip("/") if prefect_ui_url else None
        self.rules = rules
        self.jira = RemoteJiraSandbox(self.jira_url)
        self.slack = RemoteSlackSandbox(self.slack_url)
        self.people = seeded_people()
        self.form = request_form(rules)
        self._lock = threading.Lock()
        self._closed_views: set[str] = set()
        self._answers: list[Answer] = []
        self._names: dict[str, str] = {}

    def close(self) -> None:
        """Close the HTTP clients."""
        self.jira.close()
        self.slack.close()

    # --- people --------------------------------------------------------------------------

    def person(self, key: str | None) -> Person:
        """The person behind a switcher key (the first seeded person if unknown)."""
        return next((p for p in self.people if p.key == key), self.people[0])

    def register_people(self, console_url: str) -> None:
        """Give every Slack person a Jira account and point Jira's browse links here."""
        known = {u["email"].lower() for u in self.jira._call("GET", "/users")}
        for person in self.people:
            if person.slack_id and person.email.lower() not in known:
                tz = next(u.tz for u in EXAMPLE_WORKSPACE.users if u.id == person.slack_id)
                self.jira.add_user(person.email, person.name, time_zone=tz)
        self.jira._call("PUT", "/console", {"url": console_url})

    def name(self, slack_id: str) -> str:
        """A Slack user's real name (their id if unknown)."""
        if not self._names:
            state = self.slack._call("GET", "state")
            self._names = {u["id"]: u["real_name"] or u["name"] for u in state["users"]}
        return self._names.get(slack_id, slack_id)

    # --- Jira ----------------------------------------------------------------------------

    def issues(self) -> list[dict[str, Any]]:
        """Every issue, newest first, as the stand-in's snapshots."""
        return list(self.jira._call("GET", "/issues"))

    def issue(self, key: str) -> dict[str, Any]:
        """One issue's snapshot (JiraApiError 404 if there is none)."""
        return self.jira.snapshot(key)

    def file_request(self, person: Person, fields: Mapping[str, Any]) -> str:
        """File an issue as `person` with the form's fields; JiraApiError as Jira answers."""
        return self.jira.file_issue(reporter=person.email, fields=dict(fields))

    def edit_request(self, person: Person, key: str, fields: Mapping[str, Any]) -> None:
        """Change fields as `person` (Jira sends govflow its issue_updated webhook)."""
        self.jira.edit_fields(key, dict(fields), by=person.email)

    def comment(self, person: Person, key: str, body: str) -> None:
        """Comment as `person` (Jira sends govflow its comment_created webhook)."""
        self.jira.comment_as(key, person.email, body)

    def jira_people(self) -> dict[str, str]:
        """Display names by account id and by email, for mentions and comment authors."""
        names: dict[str, str] = {}
        for user in self.jira._call("GET", "/users"):
            names[user["account_id"]] = names[user["email"]] = user["display_name"]
        return names

    def prefect_runs_url(self, key: str) -> str | None:
        """The Prefect UI's flow runs tagged with this Jira key."""
        if self.prefect_ui_url is None:
            return None
        return runs_url(f"{self.prefect_ui_url}/api", key)

    def prefect_board_url(self) -> str | None:
        """The Prefect UI page of govflow's open-requests board (its latest artifact)."""
        if self.prefect_ui_url is None:
            return None
        return board_url(f"{self.prefect_ui_url}/api")

    # --- Slack: reading -------------------------------------------------------------------

    def channels(self, person: Person) -> list[dict[str, Any]]:
        """Public and private channels (no DMs), the person's own first."""
        state = self.slack._call("GET", "state")
        channels = [c for c in state["channels"] if not c["is_im"] and not c["is_mpim"]]
        mine = [c for c in channels if person.slack_id in c["members"]]
        others = [c for c in channels if person.slack_id not in c["members"]]
        return [{**c, "member": True} for c in mine] + [{**c, "member": False} for c in others]

    def dms(self, person: Person) -> list[dict[str, Any]]:
        """The app's direct messages with this person."""
        state = self.slack._call("GET", "state")
        return [
            c
            for c in state["channels"]
            if c["is_im"] and person.slack_id in c["members"] and c.get("im_user")
        ]

    def channel(self, channel_id: str) -> dict[str, Any]:
        """One conversation's record (KeyError if unknown)."""
        state = self.slack._call("GET", "state")
        for found in state["channels"]:
            if found["id"] == channel_id:
                return dict(found)
        raise KeyError(channel_id)

    def top_level(self, channel_id: str) -> list[tuple[Message, int]]:
        """A channel's top-level messages, oldest first, with their reply counts."""
        messages = self.slack.messages(channel_id)
        replies: dict[str, int] = {}
        for m in messages:
            if m.is_reply and m.thread_ts:
                replies[m.thread_ts] = replies.get(m.thread_ts, 0) + 1
        return [(m, replies.get(m.ts, 0)) for m in messages if not m.is_reply or m.reply_broadcast]

    def thread(self, channel_id: str, ts: str) -> list[Message]:
        """A thread's parent and replies."""
        return self.slack.thread(channel_id, ts)

    def ephemerals(self, person: Person, channel_id: str) -> list[dict[str, Any]]:
        """What only this person saw in this channel: govflow's ephemerals and command answers."""
        if person.slack_id is None:
            return []
        shown: list[dict[str, Any]] = [
            {"text": e.text, "blocks": e.blocks, "ts": float(e.ts), "thread_ts": e.thread_ts}
            for e in self.slack.ephemerals(user=person.slack_id, channel=channel_id)
        ]
        with self._lock:
            shown += [
                {"text": a.text, "blocks": None, "ts": a.at, "thread_ts": None}
                for a in self._answers
                if a.user == person.slack_id and a.channel == channel_id
            ]
        return sorted(shown, key=lambda e: float(e["ts"]))[-6:]

    def threads_about(self, key: str) -> list[tuple[dict[str, Any], Message]]:
        """Every top-level message in any channel that is about this Jira key."""
        found: list[tuple[dict[str, Any], Message]] = []
        state = self.slack._call("GET", "state")
        for channel in state["channels"]:
            for message in self.slack.messages(channel["id"]):
                if message.is_reply:
                    continue
                if message_key(message) == key:
                    found.append((channel, message))
        return found

    def open_views(self, person: Person) -> list[View]:
        """Modals govflow opened for this person that they have not submitted or closed."""
        if person.slack_id is None:
            return []
        now = time.time()
        with self._lock:
            closed = set(self._closed_views)
        return [
            v
            for v in self.slack.views(user=person.slack_id)
            if v.id not in closed and now - _view_time(v) < OPEN_VIEW_SECONDS
        ]

    def view(self, person: Person, view_id: str) -> View:
        """One of this person's modals, with Slack's block ids filled in."""
        for found in self.slack.views(user=person.slack_id or "-"):
            if found.id == view_id:
                blocks = _with_block_ids(found.payload.get("blocks", []), found.id)
                found.payload = {**found.payload, "blocks": blocks}
                return found
        raise KeyError(view_id)

    # --- Slack: doing ---------------------------------------------------------------------

    def click(
        self, person: Person, channel: str, ts: str, action_id: str, value: str | None
    ) -> ClickOutcome:
        """Click a button as `person`; wait briefly for a modal the click opens."""
        if person.slack_id is None:
            return ClickOutcome(note=f"{person.name} has no Slack account; switch person.")
        before = {v.id for v in self.slack.views(user=person.slack_id)}
        try:
            delivery = self.slack.click(channel, ts, action_id, person.slack_id, value=value)
        except RuntimeError as exc:
            if "HTTP 409" in str(exc):
                return ClickOutcome(
                    note="Nothing receives Slack's clicks: is govflow's receiver running?"
                )
            return ClickOutcome(note=f"That button is gone (the card changed): {exc}")
        note = _delivery_problem(delivery)
        if note:
            return ClickOutcome(note=note)
        deadline = time.monotonic() + MODAL_WAIT_SECONDS
        while time.monotonic() < deadline:
            new = [v for v in self.slack.views(user=person.slack_id) if v.id not in before]
            if new:
                return ClickOutcome(view_id=new[-1].id)
            if self._has_new_ephemeral(person, channel, delivery):
                break
            time.sleep(0.2)
        return ClickOutcome()

    def _has_new_ephemeral(self, person: Person, channel: str, delivery: Delivery) -> bool:
        """Whether govflow answered the click with an ephemeral already (no modal coming)."""
        clicked_at = float(delivery.payload.get("actions", [{}])[0].get("action_ts", 0) or 0)
        return any(
            float(e.ts) >= clicked_at
            for e in self.slack.ephemerals(user=person.slack_id, channel=channel)
        )

    def submit(self, person: Person, view: View, values: Mapping[str, Any]) -> SubmitOutcome:
        """Submit a modal as `person`; closed unless govflow answered with errors."""
        assert person.slack_id is not None
        delivery = self.slack.submit_view(view.id, person.slack_id, dict(values))
        problem = _delivery_problem(delivery)
        if problem:
            return SubmitOutcome(closed=False, note=problem)
        answer = delivery.json()
        if isinstance(answer, dict) and answer.get("response_action") == "errors":
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            return SubmitOutcome(closed=False, errors=errors)
        if delivery.body and not isinstance(answer, dict):
            return SubmitOutcome(closed=False, note=f"govflow answered: {delivery.body[:500]}")
        self.dismiss(view.id)
        return SubmitOutcome(closed=True)

    def dismiss(self, view_id: str) -> None:
        """Close a modal (Cancel, or after a submission that went through)."""
        with self._lock:
            self._closed_views.add(view_id)

    def _escape_mentions(self, text: str) -> str:
        """`@tomas.herrera` as Slack sends a picked mention: `<@U0QA00002|tomas.herrera>`."""
        state = self.slack._call("GET", "state")
        ids = {u["name"]: u["id"] for u in state["users"]}

        def escape(match: re.Match[str]) -> str:
            login = match.group(1)
            return f"<@{ids[login]}|{login}>" if login in ids else match.group(0)

        return _AT_LOGIN.sub(escape, text)

    def slash(self, person: Person, channel: str, text: str) -> str:
        """Type `/govflow text` as `person` in `channel`; the answer only they see."""
        assert person.slack_id is not None
        delivery = self.slack.slash(person.slack_id, self._escape_mentions(text), channel=channel)
        answer = delivery.json()
        if isinstance(answer, dict) and answer.get("text"):
            shown = str(answer["text"])
        else:
            shown = _delivery_problem(delivery) or delivery.body or "(no answer)"
        with self._lock:
            answer = Answer(person.slack_id, channel, f"/govflow {text}\n{shown}", time.time())
            self._answers.append(answer)
        return shown


_AT_LOGIN = re.compile(r"(?<![<\w])@([a-z0-9][a-z0-9._-]*[a-z0-9])")


def message_key(message: Message) -> str | None:
    """The Jira key a message is about: from its metadata, else the first key in its text."""
    found = metadata_key(message.metadata)
    if found:
        return found
    match = JIRA_KEY.search(message.text or "")
    return match.group(1) if match else None


def _view_time(view: View) -> float:
    """When a view was opened or last updated (its hash starts with that second)."""
    try:
        return float(view.hash.split(".", 1)[0])
    except ValueError:
        return 0.0


def _delivery_problem(delivery: Delivery) -> str | None:
    """A sentence when govflow did not acknowledge an interaction, else None."""
    if delivery.status is None:
        return f"govflow did not answer within Slack's 3 seconds ({delivery.error}); try again."
    if delivery.status != 200:
        return f"govflow answered HTTP {delivery.status}: {delivery.body[:300]}"
    return None


__all__ = ["Backend", "Ephemeral", "Person", "request_form", "seeded_people"]
