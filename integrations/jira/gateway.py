"""The Jira gateway: the one place that holds a `jira.JIRA` client.

The client is built at first use, never at import or construction: building it already
calls `GET serverInfo`, which tells the library it talks to Cloud (and so must search with
`search/jql` and `nextPageToken`). Retries stay with the library's `ResilientSession`
(429 and 503, honouring `Retry-After`); this gateway adds none of its own. Every
`JIRAError` and `requests` exception leaves as `JiraError` with the HTTP status and
`Retry-After` when Jira gave them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar, cast

import requests
from jira import JIRA
from jira.exceptions import JIRAError
from pydantic import SecretStr

from domain.errors import ConfigError, ConfigProblem, JiraError

if TYPE_CHECKING:
    from config.settings import Settings

T = TypeVar("T")

# The most issues Jira Cloud returns per search page when fields beyond id/key are asked.
MAX_PAGE = 100
# Users one `user/search` page returns; one email matching more accounts than this is no person.
USER_PAGE = 50
# Beyond this many characters the JQL goes in a POST body instead of the URL.
POST_JQL_OVER = 1500
# A status conflict found before any request: the issue's workflow offers no way there.
NO_TRANSITION = 409


class JiraGateway:
    """Jira Cloud over REST v2 through the `jira` library, with plain data in and out."""

    def __init__(
        self,
        url: str,
        user: str,
        token: str | SecretStr,
        *,
        max_retries: int = 3,
        timeout: float = 30.0,
        page_size: int = MAX_PAGE,
    ) -> None:
        self._url = url.rstrip("/")
        self._user = user
        self._token = token if isinstance(token, SecretStr) else SecretStr(token)
        self._max_retries = max_retries
        self._timeout = timeout
        self._page_size = max(1, min(page_size, MAX_PAGE))
        self._jira: JIRA | None = None
        self._lock = threading.Lock()
        self._timezone: str | None = None

    @classmethod
    def from_settings(
        cls, settings: Settings, *, timeout: float | None = None, max_retries: int = 3
    ) -> JiraGateway:
        """A gateway for the Jira the settings name (the client is still built lazily)."""
        token = settings.jira_token or SecretStr("")
        url = str(settings.jira_url) if settings.jira_url is not None else ""
        wait = settings.http_timeout_seconds if timeout is None else timeout
        return cls(url, settings.jira_user or "", token, timeout=wait, max_retries=max_retries)

    @property
    def browse_url(self) -> str:
        """The site's base URL, under which `/browse/KEY` shows an issue to people."""
        return self._url

    def close(self) -> None:
        """Close the client's HTTP session; the next call builds a new client."""
        with self._lock:
            if self._jira is not None:
                # The library leaves close() unannotated.
                cast(Any, self._jira).close()
                self._jira = None

    # ---- reads ------------------------------------------------------------------------------

    def search(self, jql: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        """Every issue matching `jql`, following `nextPageToken` through all pages."""
        issues: list[dict[str, Any]] = []
        token: str | None = None
        seen: set[str] = set()
        while True:
            page = self._call(
                f"search {jql!r}", partial(self._search_page, jql=jql, fields=fields, token=token)
            )
            issues.extend(page.get("issues") or [])
            token = page.get("nextPageToken")
            if not token:
                return issues
            if token in seen:
                raise JiraError(f"search {jql!r}: Jira returned the same nextPageToken twice")
            seen.add(token)

    def _search_page(
        self, client: JIRA, *, jql: str, fields: Sequence[str], token: str | None
    ) -> dict[str, Any]:
        # json_result with maxResults set fetches exactly one page and leaves paging to us,
        # so the page size is ours to choose; the library's own fetch-all uses 100.
        page = client.enhanced_search_issues(
            jql,
            nextPageToken=token,
            maxResults=self._page_size,
            fields=list(fields),  # the library rewrites this list in place
            json_result=True,
            use_post=len(jql) > POST_JQL_OVER,
        )
        if not isinstance(page, dict):
            raise JiraError(f"search {jql!r}: expected a JSON page, got {type(page).__name__}")
        return page

    def fields(self) -> list[dict[str, Any]]:
        """Jira's field list (`GET field`): ids, names, schemas, clause names."""
        return self._call("list fields", lambda j: list(j.fields()))

    def field_ids(self) -> dict[str, str]:
        """Field display name -> field id; the first field wins where two share a name."""
        ids: dict[str, str] = {}
        for field in self.fields():
            ids.setdefault(str(field.get("name")), str(field.get("id")))
        return ids

    def get_issue(self, key: str, fields: Sequence[str] | None = None) -> dict[str, Any]:
        """One issue by key, with all fields unless `fields` narrows them."""
        wanted = ",".join(fields) if fields is not None else None
        return self._call(f"get {key}", lambda j: dict(j.issue(key, fields=wanted).raw))

    def comments(self, key: str) -> list[dict[str, Any]]:
        """Every comment of an issue, oldest first, across all comment pages."""

        def read(client: JIRA) -> list[dict[str, Any]]:
            found: list[dict[str, Any]] = []
            while True:
                page = client.comments(key, start_at=len(found), max_results=MAX_PAGE)
                found.extend(dict(c.raw) for c in page)
                if len(page) < MAX_PAGE:
                    return found

        return self._call(f"read comments of {key}", read)

    def user_email(self, account_id: str) -> str | None:
        """The email of an account, or None where the user's privacy settings hide it."""
        raw = self._call(f"look up user {account_id}", lambda j: dict(j.user(account_id).raw))
        email = raw.get("emailAddress")
        return str(email) if email else None

    def account_ids(self, email: str) -> list[str]:
        """The active accounts `user/search` finds for `email`, those hiding their email included.

        Jira matches `query` against display names and email prefixes, and answers a user who
        hides their email without `emailAddress`. An account showing a different email is
        someone else; one showing none may be this person, so it stays (a false match only
        refuses a click, a missed one would let a requester approve their own request).
        """
        wanted = email.strip().casefold()

        def find(client: JIRA) -> list[dict[str, Any]]:
            return [dict(u.raw) for u in client.search_users(query=wanted, maxResults=USER_PAGE)]

        found = self._call("search users by email", find)
        return [
            str(u["accountId"])
            for u in found
            if u.get("accountId")
            and str(u.get("emailAddress") or wanted).strip().casefold() == wanted
        ]

    def timezone(self) -> str:
        """The API user's time zone (IANA name), in which Jira reads JQL dates."""
        if self._timezone is None:
            me = self._call("read the API user", lambda j: dict(j.myself()))
            self._timezone = str(me.get("timeZone") or "UTC")
        return self._timezone

    # ---- writes -----------------------------------------------------------------------------

    def add_comment(self, key: str, body: str) -> str:
        """Comment (wiki markup) as the API user; returns the new comment's id."""
        return self._call(f"comment on {key}", lambda j: str(j.add_comment(key, body).id))

    def transition(self, key: str, status: str) -> bool:
        """Move an issue to the status named `status`; False if it is there already."""
        # Found by target status, not transition name (names are a workflow admin's whim).
        # With none leading there, JiraError(status=409) names what is open instead.

        def move(client: JIRA) -> bool:
            current = client.issue(key, fields="status").raw["fields"]["status"]["name"]
            if str(current).casefold() == status.casefold():
                return False
            offered = client.transitions(key)
            chosen = [t for t in offered if str(t["to"]["name"]).casefold() == status.casefold()]
            if not chosen:
                open_to = ", ".join(sorted(str(t["to"]["name"]) for t in offered)) or "nothing"
                raise JiraError(
                    f"transition {key}: no transition from {current!r} to {status!r} "
                    f"(open: {open_to})",
                    status=NO_TRANSITION,
                )
            # Passing the id (a numeric string) spares the library a second GET transitions.
            client.transition_issue(key, str(chosen[0]["id"]))
            return True

        return self._call(f"transition {key} to {status!r}", move)

    def update_fields(self, key: str, fields: Mapping[str, Any]) -> None:
        """Set fields by id, values in Jira's REST form (`{"value": "MY"}` for an option)."""
        self._call(
            f"update fields of {key}",
            lambda j: j.issue(key, fields="summary").update(fields=dict(fields)),
        )

    def add_label(self, key: str, label: str) -> None:
        """Add a label (Jira ignores a label the issue has already)."""
        self._call(
            f"label {key}",
            lambda j: j.issue(key, fields="labels").add_field_value("labels", label),
        )

    # ---- plumbing ---------------------------------------------------------------------------

    def _client(self) -> JIRA:
        with self._lock:
            if self._jira is None:
                if not self._url:
                    raise ConfigError(
                        [
                            ConfigProblem(
                                source="settings",
                                line=None,
                                where="GOVFLOW_JIRA_URL",
                                message="no Jira is configured",
                                hint="set GOVFLOW_JIRA_URL, GOVFLOW_JIRA_USER and "
                                "GOVFLOW_JIRA_TOKEN, or use `govflow serve`, which starts "
                                "the local stand-in",
                            )
                        ]
                    )
                with _translated(f"connect to {self._url}"):
                    self._jira = JIRA(
                        server=self._url,
                        basic_auth=(self._user, self._token.get_secret_value()),
                        max_retries=self._max_retries,
                        timeout=self._timeout,
                    )
            return self._jira

    def _call(self, action: str, work: Callable[[JIRA], T]) -> T:
        client = self._client()
        with _translated(action):
            return work(client)


@contextmanager
def _translated(action: str) -> Iterator[None]:
    """Re-raise the library's and requests' errors as JiraError, keeping status and Retry-After."""
    try:
        yield
    except JIRAError as exc:
        # Not str(exc): it dumps request and response headers into the message.
        detail = exc.text or "no detail"
        raise JiraError(
            f"{action}: {detail}",
            status=exc.status_code,
            retry_after=_retry_after(exc.response),
        ) from exc
    except requests.RequestException as exc:
        raise JiraError(f"{action}: {type(exc).__name__}: {exc}") from exc


def _retry_after(response: requests.Response | None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), if any."""
    value = response.headers.get("Retry-After") if response is not None else None
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - datetime.now(UTC)).total_seconds())


if TYPE_CHECKING:
    from integrations.jira.port import JiraPort

    # mypy checks here that the gateway satisfies the port the pipeline depends on.
    _conforms: JiraPort = JiraGateway("", "", "")
