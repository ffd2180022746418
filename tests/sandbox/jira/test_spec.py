"""The stand-in's answers checked against Atlassian's published Jira Cloud OpenAPI spec.

The spec describes v3 only. v2 shares its paths and shapes except rich text, so v2 answers
are validated against the v3 path of the same name, and the v3 answers (ADF rich text) too.
Two honest adjustments, both checked rather than hidden:

- Rich text: the spec types `IssueBean.fields` as a free map and `Comment.body` as any
  value, so a v2 wiki-markup string and a v3 ADF document both pass; the tests assert
  which one each version sends.
- Timestamps: Jira Cloud sends `2026-11-27T10:00:00.000+0000` (offset without a colon)
  while the spec says `format: date-time` (RFC 3339 wants `+00:00`). The stand-in sends
  Jira's real form; offsets are rewritten only for validation, and a test pins the form.

Most error responses in the spec carry no schema (openapi-core then checks nothing), so
error bodies are checked against `components.schemas.ErrorCollection` directly.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlparse

import pytest
import requests
from openapi_core.testing import MockRequest, MockResponse
from openapi_schema_validator import OAS30Validator

from sandbox.jira.seed import FIELD_IDS, MARKET, USERS
from sandbox.jira_server import JiraSandbox

SPEC_HOST = "https://your-domain.atlassian.net"
JIRA_TIME = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})([+-]\d\d)(\d\d)$")


def rfc3339(value: Any) -> Any:
    """Rewrite Jira's `+0000` offsets as `+00:00`, everywhere in a JSON value."""
    if isinstance(value, str) and (match := JIRA_TIME.match(value)):
        return f"{match.group(1)}{match.group(2)}:{match.group(3)}"
    if isinstance(value, dict):
        return {k: rfc3339(v) for k, v in value.items()}
    if isinstance(value, list):
        return [rfc3339(v) for v in value]
    return value


def validate(spec: Any, response: requests.Response) -> Any:
    """Validate a stand-in response against the v3 operation of the same path; return JSON."""
    url = urlparse(response.request.url or "")
    path = re.sub(r"^/rest/api/(2|latest)/", "/rest/api/3/", url.path)
    request = MockRequest(
        SPEC_HOST, str(response.request.method), path, args=dict(parse_qsl(url.query))
    )
    body = response.json()
    answer = MockResponse(
        json.dumps(rfc3339(body)).encode(),
        status_code=response.status_code,
        content_type="application/json",
    )
    spec.validate_response(request, answer)
    return body


@pytest.fixture(scope="module")
def site() -> Iterator[tuple[JiraSandbox, requests.Session]]:
    """A seeded stand-in with some history on MODREQ-1, and an authenticated session."""
    with JiraSandbox(seed=True) as sandbox:
        sandbox.edit_fields("MODREQ-1", {MARKET: "SG", "Labels": ["x"]}, by=USERS[0].email)
        sandbox.set_status("MODREQ-1", "In review")
        sandbox.comment_as("MODREQ-1", USERS[0].email, "first\n\nsecond paragraph")
        session = requests.Session()
        session.auth = sandbox.credentials
        yield sandbox, session


def get(site: tuple[JiraSandbox, requests.Session], path: str, **params: Any) -> requests.Response:
    """GET below /rest/api/2/ (or a full /rest/api/N/ path)."""
    sandbox, session = site
    url = path if path.startswith("/rest/") else f"/rest/api/2/{path}"
    return session.get(sandbox.url + url, params=params, timeout=5)


def post(site: tuple[JiraSandbox, requests.Session], path: str, body: Any) -> requests.Response:
    """POST JSON below /rest/api/2/ (or a full /rest/api/N/ path)."""
    sandbox, session = site
    url = path if path.startswith("/rest/") else f"/rest/api/2/{path}"
    return session.post(sandbox.url + url, json=body, timeout=5)


READS = [
    ("serverInfo", {}),
    ("myself", {}),
    ("field", {}),
    ("search/jql", {"jql": "project = MODREQ"}),
    ("search/jql", {"jql": "project = MODREQ", "fields": "*all", "expand": "names,schema"}),
    ("search/jql", {"jql": "project = MODREQ", "fields": "summary", "maxResults": "2"}),
    ("issue/MODREQ-1", {"expand": "names,schema,changelog,transitions"}),
    ("issue/MODREQ-1", {"fields": "summary,status"}),
    ("issue/MODREQ-1/comment", {}),
    ("issue/MODREQ-1/transitions", {}),
    ("user/search", {"query": "chloe"}),
    # A user hiding their email: found by the whole address, answered without it.
    ("user/search", {"query": "vendor.ops@example.com"}),
    ("project/MODREQ", {}),
    ("issuetype", {}),
]


class TestSuccessShapes:
    @pytest.mark.parametrize(("path", "params"), READS)
    @pytest.mark.parametrize("version", ["2", "3"])
    def test_reads(
        self, site: Any, jira_spec: Any, path: str, params: dict[str, str], version: str
    ) -> None:
        """Every read the pipeline uses matches the spec on v2 and v3."""
        response = get(site, f"/rest/api/{version}/{path}", **params)
        assert response.status_code == 200
        validate(jira_spec, response)

    def test_user_by_account_id(self, site: Any, jira_spec: Any) -> None:
        """GET user matches the User schema, hidden email or not."""
        sandbox, _ = site
        for email in (USERS[0].email, "vendor.ops@example.com"):
            account_id = sandbox.state.user(email).account_id
            validate(jira_spec, get(site, "user", accountId=account_id))

    def test_search_post_with_the_clients_nulls(self, site: Any, jira_spec: Any) -> None:
        """POST search/jql as the library sends it answers SearchAndReconcileResults."""
        body = {
            "jql": "project = MODREQ",
            "fields": ["summary"],
            "expand": None,
            "properties": None,
            "reconcileIssues": [],
            "maxResults": 3,
        }
        page = validate(jira_spec, post(site, "search/jql", body))
        assert len(page["issues"]) == 3 and page["nextPageToken"]

    def test_writes(self, site: Any, jira_spec: Any) -> None:
        """POST issue (CreatedIssue), POST comment (201 Comment), GET comment/{id}."""
        created = post(
            site,
            "issue",
            {
                "fields": {
                    "project": {"key": "MODREQ"},
                    "issuetype": {"name": "Request"},
                    "summary": "spec check",
                    FIELD_IDS[MARKET]: {"value": "TH"},
                }
            },
        )
        assert created.status_code == 201
        key = validate(jira_spec, created)["key"]
        comment = post(site, f"issue/{key}/comment", {"body": "hello"})
        assert comment.status_code == 201
        comment_id = validate(jira_spec, comment)["id"]
        validate(jira_spec, get(site, f"issue/{key}/comment/{comment_id}"))

    def test_rich_text_per_version(self, site: Any) -> None:
        """v2 sends wiki-markup strings, v3 ADF documents, for the same stored text."""
        v2 = get(site, "issue/MODREQ-1/comment").json()["comments"][0]["body"]
        v3 = get(site, "/rest/api/3/issue/MODREQ-1/comment").json()["comments"][0]["body"]
        assert v2 == "first\n\nsecond paragraph"
        assert v3["type"] == "doc" and len(v3["content"]) == 2
        description = get(site, "/rest/api/3/issue/MODREQ-1", fields="description").json()
        assert description["fields"]["description"]["type"] == "doc"

    def test_timestamps_are_jiras_form(self, site: Any) -> None:
        """Timestamps go out as Jira sends them, offset without a colon."""
        fields = get(site, "issue/MODREQ-1").json()["fields"]
        assert JIRA_TIME.match(fields["updated"]) and fields["updated"].endswith("+0000")


ERRORS = [
    ("GET", "search/jql", {"jql": "project = "}, None, 400),
    ("GET", "search/jql", {"jql": "project = NOPE"}, None, 400),
    ("GET", "issue/MODREQ-999", {}, None, 404),
    ("GET", "issue/MODREQ-1/comment/1", {}, None, 404),
    ("POST", "issue/MODREQ-2/transitions", {}, {"transition": {"id": "999"}}, 400),
    ("POST", "issue/MODREQ-2/comment", {}, {"body": ""}, 400),
    ("POST", "issue", {}, {"fields": {"summary": "no project"}}, 400),
    ("GET", "search", {"jql": "project = MODREQ"}, None, 410),
    ("GET", "user", {"accountId": "nobody"}, None, 404),
]


class TestErrorShapes:
    @pytest.mark.parametrize(("method", "path", "params", "body", "status"), ERRORS)
    def test_error_collections(
        self,
        site: Any,
        jira_spec: Any,
        jira_spec_dict: dict[str, Any],
        method: str,
        path: str,
        params: dict[str, str],
        body: Any,
        status: int,
    ) -> None:
        """Refusals carry Jira's ErrorCollection, valid against the spec's schema."""
        response = get(site, path, **params) if method == "GET" else post(site, path, body)
        assert response.status_code == status
        schema = jira_spec_dict["components"]["schemas"]["ErrorCollection"]
        OAS30Validator(schema).validate(response.json())
        assert response.json()["errorMessages"] or response.json()["errors"]
        if status != 410:  # the spec still lists /search (deprecated) without its 410
            validate(jira_spec, response)


class TestErrata:
    def test_changelog_erratum_is_still_needed(
        self, site: Any, jira_spec_dict: dict[str, Any]
    ) -> None:
        """Without the ChangeDetails erratum, Jira's real changelog shape fails the spec."""
        from openapi_core import Config, OpenAPI
        from openapi_core.validation.response.exceptions import InvalidData

        literal = OpenAPI.from_dict(jira_spec_dict, config=Config(spec_validator_cls=None))
        with pytest.raises(InvalidData):
            validate(literal, get(site, "issue/MODREQ-1", expand="changelog"))
