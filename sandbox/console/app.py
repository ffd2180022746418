"""The sandbox console: Jira and Slack as a newcomer needs them, in server-rendered pages.

Why server-rendered HTML (Starlette + Jinja2, a dozen lines of script for polling): the
console only shows what the stand-ins hold and posts forms to them, so every page is one
read of the stand-ins and every action is one form post; there is no client state worth a
front-end build, the pages work without script, and the browser test drives real forms.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode, urlsplit

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from sandbox.console.backend import Backend, Person, message_key
from sandbox.console.blockkit import ButtonTarget, ModalState, blocks_html, submission_values
from sandbox.jira.model import JiraApiError
from sandbox.slack.state import Message

COOKIE = "govflow_as"
JIRA_MENTION = re.compile(r"\[~accountid:([^\]]+)\]")
TEMPLATES = Path(__file__).parent / "templates"


def _local(url: str | None, default: str) -> str:
    """A same-site path to go back to (never another site)."""
    if not url:
        return default
    parts = urlsplit(url)
    path = parts.path or default
    return path + (f"?{parts.query}" if parts.query else "") if path.startswith("/") else default


def create_console_app(backend: Backend) -> Starlette:
    """The console's ASGI app over one `Backend`."""
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape())
    env.filters["clock"] = _clock

    def acting(request: Request) -> Person:
        return backend.person(request.cookies.get(COOKIE))

    def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        person = acting(request)
        page = env.get_template(name).render(
            me=person,
            people=backend.people,
            path=request.url.path + (f"?{request.url.query}" if request.url.query else ""),
            prefect_ui=backend.prefect_ui_url,
            jira_url=backend.jira_url,
            note=request.query_params.get("note"),
            **context,
        )
        return HTMLResponse(page, status_code=status)

    def form_context() -> dict[str, Any]:
        types = list(backend.rules.request_types.values())
        return {"form": backend.form, "types": types, "form_types": len(types)}

    def names(slack_id: str) -> str:
        return backend.name(slack_id)

    def message_html(message: Message, back: str) -> Markup:
        target = ButtonTarget(
            "/slack/click", {"channel": message.channel, "ts": message.ts, "back": back}
        )
        if message.blocks:
            return Markup(blocks_html(message.blocks, names=names, target=target))
        plain = [{"type": "section", "text": {"type": "mrkdwn", "text": message.text}}]
        return Markup(blocks_html(plain, names=names))

    def ephemeral_html(item: Mapping[str, Any]) -> Markup:
        blocks = item.get("blocks") or [
            {"type": "section", "text": {"type": "mrkdwn", "text": item.get("text", "")}}
        ]
        return Markup(blocks_html(blocks, names=names))

    # --- pages ---------------------------------------------------------------------------

    async def healthz(request: Request) -> Response:
        return JSONResponse({"ok": True})

    def home(request: Request) -> Response:
        person = acting(request)
        return render(
            request,
            "home.html",
            issues=backend.issues()[:8],
            channels=[c for c in backend.channels(person) if c["member"]],
            open_views=backend.open_views(person),
        )

    async def switch(request: Request) -> Response:
        form = await _form(request)
        back = _local(str(form.get("back") or ""), "/")
        response = RedirectResponse(back, status_code=303)
        response.set_cookie(COOKIE, str(form.get("as") or ""), samesite="lax")
        return response

    def jira_list(request: Request) -> Response:
        return render(request, "jira_list.html", issues=backend.issues())

    def jira_new(request: Request) -> Response:
        return render(request, "jira_new.html", values={}, errors={}, **form_context())

    async def jira_create(request: Request) -> Response:
        form = await _form(request)
        values = {f.key: str(form.get(f.key) or "").strip() for f in backend.form}
        priority = str(form.get("priority") or "").strip()
        fields: dict[str, Any] = {f.jira: values[f.key] for f in backend.form if values[f.key]}
        if priority:
            fields["Priority"] = priority
        try:
            key = backend.file_request(acting(request), _jira_names(fields))
        except JiraApiError as exc:
            return render(
                request,
                "jira_new.html",
                status=400,
                **form_context(),
                values={**values, "priority": priority},
                errors=exc.errors or {},
                messages=exc.messages or [],
            )
        return RedirectResponse(f"/jira/{quote(key)}?note=Filed+{quote(key)}", status_code=303)

    def jira_ticket(request: Request) -> Response:
        key = request.path_params["key"].upper()
        try:
            issue = backend.issue(key)
        except JiraApiError:
            return render(request, "missing.html", status=404, what=f"issue {key}")
        threads = []
        seen: dict[str, int] = {}
        for channel, message in backend.threads_about(key):
            seen[channel["id"]] = seen.get(channel["id"], 0) + 1
            count = seen[channel["id"]]
            threads.append(
                {
                    "label": f"#{channel['name']}" + (f" ({count})" if count > 1 else ""),
                    "url": f"/slack/c/{channel['id']}/t/{message.ts}",
                }
            )
        people = backend.jira_people()
        comments = [
            {
                **c,
                "author": people.get(c["author_email"], c["author_email"]),
                "body": JIRA_MENTION.sub(
                    lambda m: "@" + people.get(m.group(1), m.group(1)), c["body"]
                ),
            }
            for c in issue["comments"]
        ]
        return render(
            request,
            "jira_ticket.html",
            issue=issue,
            comments=comments,
            form=backend.form,
            threads=threads,
            runs_url=backend.prefect_runs_url(key),
            board_url=backend.prefect_board_url(),
        )

    def jira_state(request: Request) -> Response:
        """What the ticket page polls: status, update time and comment count."""
        try:
            issue = backend.issue(request.path_params["key"].upper())
        except JiraApiError:
            return JSONResponse({"missing": True}, status_code=404)
        return JSONResponse(
            {
                "status": issue["status"],
                "updated": issue["updated"],
                "comments": len(issue["comments"]),
            }
        )

    async def jira_edit(request: Request) -> Response:
        key = request.path_params["key"].upper()
        form = await _form(request)
        issue = backend.issue(key)
        current = issue["fields"]
        changed: dict[str, Any] = {}
        for f in backend.form:
            name = _jira_name(f.jira)
            new = str(form.get(f.key) or "").strip()
            old = current.get(name)
            if new != ("" if old is None else str(old)):
                changed[name] = new or None
        if not changed:
            return RedirectResponse(f"/jira/{quote(key)}?note=Nothing+changed", status_code=303)
        try:
            backend.edit_request(acting(request), key, changed)
        except JiraApiError as exc:
            problem = "; ".join([*exc.messages, *exc.errors.values()])
            return RedirectResponse(
                f"/jira/{quote(key)}?{urlencode({'note': 'Jira refused: ' + problem})}",
                status_code=303,
            )
        return RedirectResponse(f"/jira/{quote(key)}?note=Saved", status_code=303)

    async def jira_comment(request: Request) -> Response:
        key = request.path_params["key"].upper()
        form = await _form(request)
        body = str(form.get("body") or "").strip()
        if body:
            backend.comment(acting(request), key, body)
        return RedirectResponse(f"/jira/{quote(key)}?note=Commented#comments", status_code=303)

    def slack_home(request: Request) -> Response:
        person = acting(request)
        return render(
            request,
            "slack_home.html",
            channels=backend.channels(person),
            dms=backend.dms(person),
            open_views=backend.open_views(person),
        )

    def slack_channel(request: Request) -> Response:
        person = acting(request)
        channel_id = request.path_params["channel"]
        try:
            channel = backend.channel(channel_id)
        except KeyError:
            return render(request, "missing.html", status=404, what=f"channel {channel_id}")
        back = request.url.path
        items = [
            {
                "message": m,
                "who": names(m.user),
                "html": message_html(m, back),
                "replies": count,
                "key": message_key(m),
                "thread_url": f"/slack/c/{channel_id}/t/{m.ts}",
            }
            for m, count in backend.top_level(channel_id)
        ]
        ephemerals = [
            {**e, "html": ephemeral_html(e)} for e in backend.ephemerals(person, channel_id)
        ]
        context: dict[str, Any] = {
            "channel": channel,
            "items": items,
            "ephemerals": ephemerals,
            "thread": None,
            "open_views": backend.open_views(person),
            "member": person.slack_id in channel["members"],
        }
        if request.query_params.get("fragment"):
            return render(request, "slack_feed.html", **context)
        context["channels"] = backend.channels(person)
        return render(request, "slack_channel.html", **context)

    def slack_thread(request: Request) -> Response:
        person = acting(request)
        channel_id, ts = request.path_params["channel"], request.path_params["ts"]
        try:
            channel = backend.channel(channel_id)
            messages = backend.thread(channel_id, ts)
        except (KeyError, RuntimeError):
            return render(request, "missing.html", status=404, what=f"thread {ts}")
        back = request.url.path
        items = [
            {
                "message": m,
                "who": names(m.user),
                "html": message_html(m, back),
                "replies": 0,
                "key": message_key(m),
                "thread_url": None,
            }
            for m in messages
        ]
        ephemerals = [
            {**e, "html": ephemeral_html(e)} for e in backend.ephemerals(person, channel_id)
        ]
        key = next((message_key(m) for m in messages if message_key(m)), None)
        context: dict[str, Any] = {
            "channel": channel,
            "items": items,
            "ephemerals": ephemerals,
            "thread": ts,
            "key": key,
            "runs_url": backend.prefect_runs_url(key) if key else None,
            "open_views": backend.open_views(person),
            "member": person.slack_id in channel["members"],
        }
        if request.query_params.get("fragment"):
            return render(request, "slack_feed.html", **context)
        context["channels"] = backend.channels(person)
        return render(request, "slack_channel.html", **context)

    async def slack_click(request: Request) -> Response:
        form = await _form(request)
        back = _local(str(form.get("back") or ""), "/slack")
        outcome = await _threadpool(
            backend.click,
            acting(request),
            str(form.get("channel")),
            str(form.get("ts")),
            str(form.get("action_id")),
            str(form["value"]) if "value" in form else None,
        )
        if outcome.view_id:
            return RedirectResponse(
                f"/slack/modal/{outcome.view_id}?{urlencode({'back': back})}", status_code=303
            )
        suffix = f"?{urlencode({'note': outcome.note})}" if outcome.note else ""
        return RedirectResponse(back + suffix, status_code=303)

    def modal_page(
        request: Request, view_id: str, state: ModalState, note: str | None = None
    ) -> Response:
        person = acting(request)
        try:
            view = backend.view(person, view_id)
        except KeyError:
            return render(request, "missing.html", status=404, what=f"modal {view_id}")
        blocks = view.payload.get("blocks", [])
        return render(
            request,
            "modal.html",
            status=400 if state.errors else 200,
            view=view,
            title=_plain(view.payload.get("title")),
            submit=_plain(view.payload.get("submit")) or "Submit",
            close=_plain(view.payload.get("close")) or "Cancel",
            body=Markup(blocks_html(blocks, names=names, modal=state)),
            back=_local(request.query_params.get("back"), "/slack"),
            modal_note=note,
        )

    def slack_modal(request: Request) -> Response:
        return modal_page(request, request.path_params["view"], ModalState())

    async def slack_modal_submit(request: Request) -> Response:
        person = acting(request)
        view_id = request.path_params["view"]
        back = _local(request.query_params.get("back"), "/slack")
        try:
            view = backend.view(person, view_id)
        except KeyError:
            return render(request, "missing.html", status=404, what=f"modal {view_id}")
        form = await _form(request)
        posted = {k: [str(v) for v in form.getlist(k)] for k in form}
        values = submission_values(view.payload.get("blocks", []), posted)
        outcome = await _threadpool(backend.submit, person, view, values)
        if outcome.closed:
            return RedirectResponse(back + "?note=Submitted", status_code=303)
        return modal_page(request, view_id, ModalState(values, outcome.errors), outcome.note)

    async def slack_modal_close(request: Request) -> Response:
        backend.dismiss(request.path_params["view"])
        back = _local(request.query_params.get("back"), "/slack")
        return RedirectResponse(back, status_code=303)

    async def slack_slash(request: Request) -> Response:
        form = await _form(request)
        back = _local(str(form.get("back") or ""), "/slack")
        person = acting(request)
        text = str(form.get("text") or "").strip().removeprefix("/govflow").strip()
        if person.slack_id is None:
            return RedirectResponse(back + "?note=Switch+to+a+Slack+person", status_code=303)
        await _threadpool(backend.slash, person, str(form.get("channel")), text)
        return RedirectResponse(back, status_code=303)

    routes = [
        Route("/healthz", healthz),
        Route("/", home),
        Route("/as", switch, methods=["POST"]),
        Route("/jira", jira_list),
        Route("/jira/new", jira_new),
        Route("/jira/new", jira_create, methods=["POST"]),
        Route("/jira/{key}", jira_ticket),
        Route("/jira/{key}/state", jira_state),
        Route("/jira/{key}/edit", jira_edit, methods=["POST"]),
        Route("/jira/{key}/comment", jira_comment, methods=["POST"]),
        Route("/slack", slack_home),
        Route("/slack/c/{channel}", slack_channel),
        Route("/slack/c/{channel}/t/{ts}", slack_thread),
        Route("/slack/click", slack_click, methods=["POST"]),
        Route("/slack/slash", slack_slash, methods=["POST"]),
        Route("/slack/modal/{view}", slack_modal),
        Route("/slack/modal/{view}", slack_modal_submit, methods=["POST"]),
        Route("/slack/modal/{view}/close", slack_modal_close, methods=["POST"]),
    ]
    return Starlette(routes=routes)


class Form:
    """A posted urlencoded form (the console's pages post nothing else)."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        self.fields = fields

    def get(self, name: str, default: str | None = None) -> str | None:
        """The field's first value."""
        values = self.fields.get(name)
        return values[0] if values else default

    def getlist(self, name: str) -> list[str]:
        """Every value of the field (a multi-select posts one per choice)."""
        return list(self.fields.get(name, []))

    def __contains__(self, name: object) -> bool:
        return name in self.fields

    def __getitem__(self, name: str) -> str:
        return self.fields[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self.fields)


async def _form(request: Request) -> Form:
    """The request's urlencoded form (no python-multipart needed for that)."""
    body = (await request.body()).decode("utf-8", "replace")
    return Form(parse_qs(body, keep_blank_values=True))


async def _threadpool(fn: Any, *args: Any) -> Any:
    """Run a blocking stand-in call off the event loop."""
    from starlette.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args)


def _clock(ts: str | float) -> str:
    """A Slack ts as the time of day it names (UTC), as the client shows beside a message."""
    try:
        moment = datetime.fromtimestamp(float(ts), UTC)
    except (TypeError, ValueError, OverflowError):
        return str(ts)
    return moment.strftime("%H:%M:%S UTC")


def _plain(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, Mapping) else ""


def _jira_name(name: str) -> str:
    """The snapshot's display name for a rules `jira:` name (`summary` is "Summary")."""
    return {"summary": "Summary", "description": "Description"}.get(name, name)


def _jira_names(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {_jira_name(k): v for k, v in fields.items()}


__all__ = ["create_console_app", "html"]
