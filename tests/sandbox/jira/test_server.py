"""The Jira stand-in, driven over HTTP by the real `jira` client (no mocks)."""

from __future__ import annotations

import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest
import requests
from jira import JIRA
from jira.exceptions import JIRAError

from sandbox.faults import Fault, FaultKind
from sandbox.jira.control import RemoteJiraSandbox
from sandbox.jira.seed import FIELD_IDS, MARKET, PROJECT_KEY, USERS
from sandbox.jira_server import API_USER_EMAIL, API_USER_TOKEN, JiraSandbox

REQUESTER = USERS[0].email


def keys(client: JIRA, jql: str, **kwargs: object) -> list[str]:
    """Keys of every issue `jql` finds, through the library's own fetch-all paging."""
    return [
        i.key for i in client.search_issues(jql, maxResults=False, fields=["summary"], **kwargs)
    ]


def new_issue(sandbox: JiraSandbox, summary: str = "A request", **fields: object) -> str:
    """File a fresh MODREQ issue as the first seed requester."""
    return sandbox.file_issue(reporter=REQUESTER, fields={"Summary": summary, **fields})


class TestServerInfoAndUsers:
    def test_client_sees_cloud(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """serverInfo makes the library switch to Cloud behaviour and names our base URL."""
        assert client._is_cloud
        assert client.server_info()["baseUrl"] == sandbox.url

    def test_myself(self, client: JIRA) -> None:
        """myself is the API user, in UTC."""
        me = client.myself()
        assert (me["emailAddress"], me["timeZone"]) == (API_USER_EMAIL, "UTC")

    def test_user_lookup_and_hidden_email(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """Users are found by accountId and by query; a private profile has no emailAddress."""
        chloe = client.search_users(query="chloe")
        assert [u.emailAddress for u in chloe] == ["chloe.tan@example.com"]
        assert client.user(chloe[0].accountId).displayName == "Chloe Tan"
        hidden = sandbox.state.user("vendor.ops@example.com").account_id
        assert "emailAddress" not in client.user(hidden).raw

    def test_user_search_finds_a_hidden_email_only_by_the_whole_address(
        self, client: JIRA, sandbox: JiraSandbox
    ) -> None:
        """As on Jira Cloud: a hidden email matches exactly, never by prefix, and stays hidden."""
        hidden = sandbox.state.user("vendor.ops@example.com").account_id
        [found] = client.search_users(query="Vendor.Ops@example.com")
        assert found.accountId == hidden
        assert "emailAddress" not in found.raw
        assert client.search_users(query="vendor.ops@") == []

    def test_user_search_matches_prefixes_of_active_users(
        self, client: JIRA, sandbox: JiraSandbox
    ) -> None:
        """Visible emails and display-name words match by prefix; inside a word they do not."""
        assert [u.displayName for u in client.search_users(query="maria.re")] == ["Maria Reyes"]
        assert [u.displayName for u in client.search_users(query="reyes")] == ["Maria Reyes"]
        assert client.search_users(query="example.com") == []
        gone = sandbox.add_user("left.company@example.com", "Left Company")
        sandbox.state.users[gone].active = False
        assert client.search_users(query="left.company@example.com") == []

    def test_unknown_user_is_404(self, client: JIRA) -> None:
        """An unknown accountId is a 404."""
        with pytest.raises(JIRAError) as caught:
            client.user("nobody")
        assert caught.value.status_code == 404


class TestFields:
    def test_field_list_has_system_and_custom_fields(self, client: JIRA) -> None:
        """GET field lists system fields and the seeded custom fields with their schemas."""
        fields = {f["id"]: f for f in client.fields()}
        assert {
            "summary",
            "description",
            "priority",
            "reporter",
            "labels",
            "duedate",
            "status",
        } <= set(fields)
        market = fields[FIELD_IDS[MARKET]]
        assert market["name"] == MARKET and market["custom"] is True
        assert market["schema"]["type"] == "option"
        assert market["clauseNames"][:2] == ["cf[10052]", MARKET]

    def test_custom_field_kinds(self, sandbox: JiraSandbox, client: JIRA) -> None:
        """A test can define fields of each kind; they show up with Jira's schema types."""
        ids = {
            kind: sandbox.add_custom_field(f"Test {kind}", kind, options=("a", "b"))
            if kind in ("option", "options")
            else sandbox.add_custom_field(f"Test {kind}", kind)
            for kind in ("option", "options", "text", "number", "date")
        }
        schemas = {f["id"]: f["schema"] for f in client.fields() if f["id"] in ids.values()}
        assert schemas[ids["options"]] == {
            "type": "array",
            "items": "option",
            "custom": "com.atlassian.jira.plugin.system.customfieldtypes:multiselect",
            "customId": int(ids["options"].removeprefix("customfield_")),
        }
        assert [schemas[ids[k]]["type"] for k in ("option", "text", "number", "date")] == [
            "option",
            "string",
            "number",
            "date",
        ]


@pytest.fixture(scope="module")
def load(sandbox: JiraSandbox) -> list[str]:
    """150 issues in their own project, to page through."""
    sandbox.add_project("LOAD", "Paging load")
    return [
        sandbox.file_issue(project="LOAD", reporter=REQUESTER, fields={"Summary": f"n{n}"})
        for n in range(150)
    ]


class TestSearch:
    def test_fetch_all_pages_with_next_page_token(
        self, client: JIRA, sandbox_clean: JiraSandbox, load: list[str]
    ) -> None:
        """maxResults=False makes the library page by 100 via nextPageToken; all come back once."""
        found = keys(client, "project = LOAD ORDER BY key ASC")
        assert found == load
        searches = [r for r in sandbox_clean.requests() if r.operation == "GET search/jql"]
        assert len(searches) == 2
        first, second = (parse_qs(r.query) for r in searches)
        assert first["maxResults"] == ["100"] and "nextPageToken" not in first
        assert second["nextPageToken"] and second["fields"] == ["summary"]

    def test_small_pages(self, client: JIRA, load: list[str]) -> None:
        """A page holds maxResults issues, says isLast, and the token leads on."""
        page = client.enhanced_search_issues(
            "project = LOAD ORDER BY key DESC", maxResults=40, fields=["summary"], json_result=True
        )
        assert isinstance(page, dict)
        assert [i["key"] for i in page["issues"]] == list(reversed(load))[:40]
        assert page["isLast"] is False and "total" not in page
        last = client.enhanced_search_issues(
            "project = LOAD ORDER BY key DESC",
            nextPageToken=page["nextPageToken"],
            maxResults=200,
            fields=["summary"],
            json_result=True,
        )
        assert isinstance(last, dict)
        assert len(last["issues"]) == 100  # capped like Cloud for full issues
        assert "nextPageToken" in last

    def test_default_fields_are_ids_only(self, client: JIRA, load: list[str]) -> None:
        """Without `fields`, search/jql returns issue ids only."""
        raw = client._session.get(
            f"{client.server_url}/rest/api/2/search/jql",
            params={"jql": "project = LOAD", "maxResults": 2},
        ).json()
        assert raw["issues"] == [{"id": raw["issues"][0]["id"]}, {"id": raw["issues"][1]["id"]}]

    def test_post_search_accepts_the_clients_nulls(
        self, client: JIRA, sandbox_clean: JiraSandbox, load: list[str]
    ) -> None:
        """use_post sends expand/properties as null; the stand-in accepts them like Jira."""
        found = keys(client, "project = LOAD AND key in (LOAD-1, LOAD-2)", use_post=True)
        assert sorted(found) == ["LOAD-1", "LOAD-2"]
        body = sandbox_clean.requests()[-1].body
        assert body["expand"] is None and body["properties"] is None
        assert body["reconcileIssues"] == []

    def test_token_is_bound_to_its_query(self, client: JIRA, load: list[str]) -> None:
        """A token from one query is refused for another."""
        page = client.enhanced_search_issues("project = LOAD", maxResults=1, json_result=True)
        assert isinstance(page, dict)
        with pytest.raises(JIRAError) as caught:
            client.enhanced_search_issues(
                "project = MODREQ", nextPageToken=page["nextPageToken"], json_result=True
            )
        assert caught.value.status_code == 400

    def test_old_search_is_gone(self, client: JIRA) -> None:
        """/rest/api/2/search answers 410, as on Cloud since 2025."""
        for call in (
            lambda: client._get_json("search", params={"jql": "project = MODREQ"}),
            lambda: client._get_json("search", params={"jql": "x"}, use_post=True),
        ):
            with pytest.raises(JIRAError) as caught:
                call()
            assert caught.value.status_code == 410
            assert "/rest/api/3/search/jql" in (caught.value.text or "")


class TestJql:
    def test_project_and_key_filters(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """project in, key in, and combinations with OR and parentheses."""
        sandbox.add_project("PIN", "Project filter")
        other = sandbox.file_issue(project="PIN", reporter=REQUESTER, fields={"Summary": "p"})
        both = keys(client, f"project in ({PROJECT_KEY}, PIN)")
        assert other in both and "MODREQ-1" in both
        assert keys(client, "project = pin") == [other]
        assert sorted(keys(client, "key in (MODREQ-1, MODREQ-3)")) == ["MODREQ-1", "MODREQ-3"]
        assert keys(
            client, "project = MODREQ AND (key = MODREQ-2 OR key = MODREQ-4) ORDER BY key"
        ) == [
            "MODREQ-2",
            "MODREQ-4",
        ]

    def test_custom_field_by_name_and_cf_id(self, client: JIRA) -> None:
        """Select fields are searchable by name or cf[id], by option value."""
        by_name = keys(client, 'project = MODREQ AND Market = "TW"')
        assert by_name == keys(client, "project = MODREQ AND cf[10052] = TW") == ["MODREQ-5"]

    def test_updated_window_in_user_time_zone(self, sandbox: JiraSandbox, client: JIRA) -> None:
        """`updated >=` reads "yyyy/MM/dd HH:mm" in the API user's zone, to the minute."""
        key = new_issue(sandbox, "window")
        sandbox.set_updated(key, datetime(2030, 1, 2, 10, 0, 30, tzinfo=UTC))
        jql = f'key = {key} AND updated >= "2030/01/02 10:00" AND updated < "2030-01-02 10:01"'
        assert keys(client, jql) == [key]
        assert keys(client, f'key = {key} AND updated > "2030-01-02"') == [key]
        assert keys(client, f'key = {key} AND updated <= "2030/01/02 09:59"') == []

    def test_relative_dates_follow_the_sandbox_clock(
        self, sandbox: JiraSandbox, client: JIRA
    ) -> None:
        """`-10m` is relative to the stand-in's clock, which a test may move."""
        key = new_issue(sandbox, "recent")
        assert keys(client, f"key = {key} AND created >= -10m") == [key]
        sandbox.advance_clock(3600)
        try:
            assert keys(client, f"key = {key} AND created >= -10m") == []
        finally:
            sandbox.advance_clock(-3600)

    def test_status_labels_and_text(self, sandbox: JiraSandbox, client: JIRA) -> None:
        """status =, labels =, labels IS EMPTY, summary ~ and NOT IN."""
        key = new_issue(sandbox, "Zebra crossing policy", Labels=["sla-breached"])
        sandbox.set_status(key, "In review")
        assert keys(client, f'status = "in review" AND labels = sla-breached AND key = {key}') == [
            key
        ]
        assert keys(client, f"key = {key} AND summary ~ zebra") == [key]
        assert keys(client, f"key = {key} AND labels in (SLA-Breached, other)") == [key]
        assert keys(client, f"key = {key} AND labels is EMPTY") == []
        assert keys(client, f"key = {key} AND status not in (Open, Done)") == [key]

    def test_order_by_updated_then_key(self, sandbox: JiraSandbox, client: JIRA) -> None:
        """ORDER BY updated ASC, key ASC orders by time, then key."""
        first, second, third = (new_issue(sandbox, f"order {n}") for n in range(3))
        moment = datetime(2031, 5, 1, tzinfo=UTC)
        sandbox.set_updated(first, moment + timedelta(minutes=5))
        sandbox.set_updated(second, moment)
        sandbox.set_updated(third, moment)
        jql = f"key in ({first}, {second}, {third}) ORDER BY updated ASC, key ASC"
        assert keys(client, jql) == [second, third, first]

    @pytest.mark.parametrize(
        ("jql", "message"),
        [
            ("project = MODREQ AND", "Error in the JQL Query: Expecting a field name"),
            ("nosuchfield = 1", "Field 'nosuchfield' does not exist or you do not have permission"),
            ("project = NOPE", "The value 'NOPE' does not exist for the field 'project'."),
            (
                "key = MODREQ-9999",
                "An issue with key 'MODREQ-9999' does not exist for field 'key'.",
            ),
            ("summary = x", "The operator '=' is not supported by the 'summary' field."),
            ('updated > "27/11/2026"', "Date value '27/11/2026' for field 'updated' is invalid."),
            ("ORDER BY key", "Unbounded JQL queries are not allowed here."),
        ],
    )
    def test_bad_jql_is_400_error_collection(self, client: JIRA, jql: str, message: str) -> None:
        """Invalid queries are 400 with Jira's ErrorCollection and wording."""
        response = requests.get(
            f"{client.server_url}/rest/api/2/search/jql",
            params={"jql": jql},
            auth=(API_USER_EMAIL, API_USER_TOKEN),
            timeout=5,
        )
        assert response.status_code == 400
        body = response.json()
        assert body["errors"] == {}
        assert message in body["errorMessages"][0]


class TestIssues:
    def test_issue_shape(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """GET issue: self by id, Jira timestamps, user objects, option values."""
        issue = client.issue("MODREQ-1")
        assert issue.self == f"{sandbox.url}/rest/api/2/issue/{issue.id}"
        fields = issue.raw["fields"]
        assert fields["reporter"]["emailAddress"] == REQUESTER
        assert fields["status"]["name"] == "Open"
        assert fields["priority"]["name"] == "High"
        market = fields[FIELD_IDS[MARKET]]
        assert set(market) == {"self", "value", "id"} and market["value"] == "MY"
        assert datetime.strptime(fields["updated"], "%Y-%m-%dT%H:%M:%S.%f%z").tzinfo is not None
        assert fields["updated"].endswith("+0000")

    def test_missing_issue_is_404(self, client: JIRA) -> None:
        """An unknown key is 404 with Jira's message."""
        with pytest.raises(JIRAError) as caught:
            client.issue("MODREQ-99999")
        assert caught.value.status_code == 404
        assert caught.value.text == "Issue does not exist or you do not have permission to see it."

    def test_fields_and_expand(self, client: JIRA) -> None:
        """`fields` narrows the issue; expand=names,changelog adds those blocks."""
        issue = client.issue(
            "MODREQ-2", fields="summary,customfield_10051", expand="names,changelog"
        )
        assert set(issue.raw["fields"]) == {"summary", "customfield_10051"}
        assert issue.raw["names"] == {"summary": "Summary", "customfield_10051": "Domain"}
        assert issue.raw["changelog"]["histories"] == []

    def test_update_puts_to_self_and_bumps_updated(
        self, client: JIRA, sandbox_clean: JiraSandbox
    ) -> None:
        """issue.update PUTs to the issue's self URL; Jira then has the new value and time."""
        key = new_issue(sandbox_clean)
        issue = client.issue(key)
        before = issue.fields.updated
        sandbox_clean.advance_clock(1)
        issue.update(fields={"summary": "Renamed", FIELD_IDS[MARKET]: {"value": "SG"}})
        put = [r for r in sandbox_clean.requests() if r.method == "PUT"]
        assert [r.path for r in put] == [f"/rest/api/2/issue/{issue.id}"]
        assert issue.fields.summary == "Renamed"
        assert issue.fields.updated > before
        changes = [(c.field_name, c.old, c.new) for c in sandbox_clean.field_changes(key)]
        assert changes == [("summary", "A request", "Renamed"), (MARKET, None, "SG")]

    def test_labels_update_operations(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """`update.labels` add/remove work and adding twice is harmless."""
        key = new_issue(sandbox, Labels=["one"])
        issue = client.issue(key)
        issue.add_field_value("labels", "two")
        issue.add_field_value("labels", "two")
        issue.update(update={"labels": [{"remove": "one"}]})
        assert issue.fields.labels == ["two"]

    @pytest.mark.parametrize(
        ("fields", "error_key", "fragment"),
        [
            ({"customfield_99999": "x"}, "customfield_99999", "cannot be set"),
            ({"status": {"name": "Done"}}, "status", "cannot be set"),
            (
                {FIELD_IDS[MARKET]: {"value": "XX"}},
                FIELD_IDS[MARKET],
                "Option value 'XX' is not valid",
            ),
            ({"labels": ["two words"]}, "labels", "contains spaces"),
            ({"summary": "a\nb"}, "summary", "newline"),
        ],
    )
    def test_invalid_updates_are_400_per_field(
        self,
        client: JIRA,
        sandbox: JiraSandbox,
        fields: dict[str, object],
        error_key: str,
        fragment: str,
    ) -> None:
        """Unknown, read-only or badly valued fields are refused per field, nothing applied."""
        key = new_issue(sandbox)
        with pytest.raises(JIRAError) as caught:
            client.issue(key).update(fields={**fields, "duedate": "2030-01-01"})
        assert caught.value.status_code == 400
        body = caught.value.response.json()
        assert fragment in body["errors"][error_key]
        assert sandbox.snapshot(key)["fields"].get("Due date") is None

    def test_create_issue(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """POST issue creates with the caller as reporter; the library re-reads it."""
        issue = client.create_issue(
            project=PROJECT_KEY,
            issuetype="Request",
            summary="Filed through the API",
            customfield_10051={"value": "Content"},
        )
        assert issue.key.startswith(f"{PROJECT_KEY}-")
        assert issue.fields.reporter.emailAddress == API_USER_EMAIL
        assert issue.fields.customfield_10051.value == "Content"


class TestComments:
    def test_add_and_read(self, client: JIRA, sandbox_clean: JiraSandbox) -> None:
        """A comment is wiki text by the API user; it bumps the issue's updated."""
        key = new_issue(sandbox_clean)
        before = client.issue(key).fields.updated
        sandbox_clean.advance_clock(2)
        comment = client.add_comment(key, "Thanks, *noted*.")
        assert comment.body == "Thanks, *noted*."
        assert comment.author.emailAddress == API_USER_EMAIL
        assert client.issue(key).fields.updated > before
        assert [c.id for c in client.comments(key)] == [comment.id]
        assert client.comment(key, comment.id).body == comment.body
        assert sandbox_clean.comments(key)[0].author_email == API_USER_EMAIL

    def test_page_shape_and_requester_comment(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """GET comment is a page with total; a requester's comment (control API) shows up."""
        key = new_issue(sandbox)
        sandbox.comment_as(key, REQUESTER, "Here is the justification.")
        page = client._get_json(f"issue/{key}/comment")
        assert (page["startAt"], page["total"], len(page["comments"])) == (0, 1, 1)
        assert page["comments"][0]["author"]["emailAddress"] == REQUESTER

    def test_empty_body_is_400(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """An empty comment is refused like Jira does."""
        with pytest.raises(JIRAError) as caught:
            client.add_comment(new_issue(sandbox), "")
        assert caught.value.status_code == 400

    def test_v3_bodies_are_adf(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """The same comment reads as an ADF document on v3."""
        key = new_issue(sandbox)
        client.add_comment(key, "line one\nline two")
        v3 = client._session.get(f"{client.server_url}/rest/api/3/issue/{key}/comment").json()
        body = v3["comments"][0]["body"]
        assert body["type"] == "doc"
        assert body["content"][0]["content"][1] == {"type": "hardBreak"}


class TestTransitions:
    def test_list_and_transition_by_name(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """Transitions are named after their target; moving sets status and resolution."""
        key = new_issue(sandbox)
        names = [t["name"] for t in client.transitions(key)]
        assert "Open" not in names and {"In review", "Done", "Rejected"} <= set(names)
        client.transition_issue(key, "Rejected")
        issue = client.issue(key)
        assert issue.fields.status.name == "Rejected"
        assert issue.fields.resolution.name == "Declined"
        done = sandbox.transitions_done(key)
        assert [(t.from_status, t.to_status, t.by_email) for t in done] == [
            ("Open", "Rejected", API_USER_EMAIL)
        ]

    def test_unavailable_transition_is_400(self, client: JIRA, sandbox: JiraSandbox) -> None:
        """An id the issue cannot take now is 400 with Jira's message."""
        key = new_issue(sandbox)
        open_id = next(t.id for t in sandbox.state.transitions if t.name == "Open")
        with pytest.raises(JIRAError) as caught:
            client.transition_issue(key, open_id)
        assert caught.value.status_code == 400
        assert f"Transition id '{open_id}' is not valid for this issue." in (
            caught.value.text or ""
        )

    def test_configurable_workflow(self) -> None:
        """A test may give the state its own statuses and restricted transitions."""
        with JiraSandbox() as other:
            other.state.set_workflow(
                [
                    ("To Do", "new", None),
                    ("Doing", "indeterminate", None),
                    ("Closed", "done", "Done"),
                ],
                [("Start", "Doing", ["To Do"]), ("Close", "Closed", ["Doing"])],
            )
            other.add_project("WF", "Workflow")
            key = other.file_issue(project="WF", reporter=API_USER_EMAIL, fields={"Summary": "w"})
            client = JIRA(other.url, basic_auth=other.credentials, max_retries=0)
            assert [t["name"] for t in client.transitions(key)] == ["Start"]
            client.transition_issue(key, "Start")
            assert [t["name"] for t in client.transitions(key)] == ["Close"]


class TestAuthAndFaults:
    def test_wrong_token_is_401_after_anonymous_server_info(self, sandbox: JiraSandbox) -> None:
        """serverInfo answers anyone (so the client builds); the first real call is 401."""
        bad = JIRA(sandbox.url, basic_auth=(API_USER_EMAIL, "wrong"), max_retries=0)
        with pytest.raises(JIRAError) as caught:
            bad.myself()
        assert caught.value.status_code == 401
        assert "Basic authentication with passwords is deprecated" in (caught.value.text or "")

    def test_no_credentials_is_401(self, sandbox: JiraSandbox) -> None:
        """Without Authorization the answer is Cloud's plain-text 401."""
        response = requests.get(f"{sandbox.url}/rest/api/2/myself", timeout=5)
        assert response.status_code == 401
        assert response.text == "Client must be authenticated to access this resource."

    def test_rate_limit_is_retried_by_the_client(self, sandbox_clean: JiraSandbox) -> None:
        """A 429 with Retry-After: 1 is slept on (1-2 s) and retried by ResilientSession."""
        patient = JIRA(sandbox_clean.url, basic_auth=sandbox_clean.credentials, max_retries=1)
        sandbox_clean.add_fault("GET myself", Fault(FaultKind.RATE_LIMIT, retry_after=1))
        assert patient.myself()["emailAddress"] == API_USER_EMAIL
        statuses = [r.status for r in sandbox_clean.requests() if r.operation == "GET myself"]
        assert statuses == [429, 200]

    def test_server_error(self, client: JIRA, sandbox_clean: JiraSandbox) -> None:
        """SERVER_ERROR answers its status; "*" matches any operation."""
        sandbox_clean.add_fault("*", Fault(FaultKind.SERVER_ERROR, status=500))
        with pytest.raises(JIRAError) as caught:
            client.issue("MODREQ-1")
        assert caught.value.status_code == 500
        assert client.issue("MODREQ-1").key == "MODREQ-1"

    def test_reset_drops_the_connection(self, client: JIRA, sandbox_clean: JiraSandbox) -> None:
        """RESET closes the socket without any response."""
        sandbox_clean.add_fault("GET issue/{key}", Fault(FaultKind.RESET))
        with pytest.raises(requests.ConnectionError) as caught:
            client.issue("MODREQ-1")
        assert "without response" in str(caught.value)
        assert sandbox_clean.requests()[-1].status is None

    def test_latency_applies_the_write_then_answers_late(self, sandbox_clean: JiraSandbox) -> None:
        """LATENCY does the work at once and answers after `delay`: a timed-out write landed."""
        hasty = JIRA(
            sandbox_clean.url, basic_auth=sandbox_clean.credentials, max_retries=0, timeout=0.2
        )
        key = new_issue(sandbox_clean)
        sandbox_clean.add_fault("POST issue/{key}/comment", Fault(FaultKind.LATENCY, delay=0.6))
        with pytest.raises(requests.ReadTimeout):
            hasty.add_comment(key, "did this land?")
        assert [c.body for c in sandbox_clean.comments(key)] == ["did this land?"]


class TestConcurrency:
    def test_parallel_comments_all_land(self, sandbox: JiraSandbox) -> None:
        """Concurrent writers through uvicorn and the control API keep the state consistent."""
        key = new_issue(sandbox)
        clients = [
            JIRA(sandbox.url, basic_auth=sandbox.credentials, max_retries=0) for _ in range(4)
        ]

        def write(client: JIRA, n: int) -> None:
            for i in range(10):
                client.add_comment(key, f"{n}-{i}")
                sandbox.comment_as(key, REQUESTER, f"control {n}-{i}")

        threads = [threading.Thread(target=write, args=(c, n)) for n, c in enumerate(clients)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        ids = [c.id for c in sandbox.comments(key)]
        assert len(ids) == len(set(ids)) == 80


class TestControl:
    def test_http_control_matches_python(self, sandbox: JiraSandbox, client: JIRA) -> None:
        """RemoteJiraSandbox drives the same state over /_sandbox."""
        remote = RemoteJiraSandbox(sandbox.url)
        try:
            key = remote.file_issue(
                reporter=REQUESTER, fields={"Summary": "remote", MARKET: "VN"}, status="In review"
            )
            remote.comment_as(key, REQUESTER, "from afar")
            remote.edit_fields(key, {"Labels": ["x"]}, by=REQUESTER)
            snap = remote.snapshot(key)
            assert (snap["status"], snap["fields"][MARKET], snap["fields"]["Labels"]) == (
                "In review",
                "VN",
                ["x"],
            )
            assert [c.body for c in remote.comments(key)] == ["from afar"]
            assert remote.field_changes(key)[0].by_email == REQUESTER
            remote.add_fault("GET issue/{key}", Fault(FaultKind.SERVER_ERROR, status=502))
            with pytest.raises(JIRAError):
                client.issue(key)
            assert any(r.fault == "server_error" for r in remote.requests())
        finally:
            remote.close()

    def test_runs_as_its_own_process(self) -> None:
        """`python -m sandbox.jira_server --port 0 --seed` serves the seeded site."""
        process = subprocess.Popen(
            [sys.executable, "-m", "sandbox.jira_server", "--port", "0", "--seed"],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split()[3]
            client = JIRA(url, basic_auth=(API_USER_EMAIL, API_USER_TOKEN), max_retries=0)
            assert len(keys(client, f"project = {PROJECT_KEY}")) == 7
            remote = RemoteJiraSandbox(url)
            remote.comment_as("MODREQ-3", REQUESTER, "justification follows")
            assert client.comments("MODREQ-3")[0].body == "justification follows"
            remote.close()
        finally:
            process.terminate()
            process.wait(timeout=10)
