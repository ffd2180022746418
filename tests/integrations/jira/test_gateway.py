"""JiraGateway over HTTP against the Jira stand-in, with the real `jira` client inside."""

from __future__ import annotations

import pytest
import requests
from jira.exceptions import JIRAError
from pydantic import SecretStr

from domain.errors import ConfigError, JiraError
from integrations.jira.gateway import JiraGateway
from sandbox.faults import Fault, FaultKind
from sandbox.jira.seed import FIELD_IDS, MARKET, USERS
from sandbox.jira_server import API_USER_EMAIL, JiraSandbox

REQUESTER = USERS[0].email


def new_issue(jira: JiraSandbox, summary: str = "A request", **fields: object) -> str:
    """File a fresh MODREQ issue as a requester."""
    return jira.file_issue(reporter=REQUESTER, fields={"Summary": summary, **fields})


def operations(jira: JiraSandbox) -> list[str]:
    """The fault keys of the REST calls received since the test began."""
    return [r.operation for r in jira.requests()]


class TestConstruction:
    def test_lazy_client(self, jira: JiraSandbox) -> None:
        """Building a gateway sends nothing; the first call connects (serverInfo) once."""
        gateway = JiraGateway(jira.url, *jira.credentials, max_retries=0)
        assert jira.requests() == []
        gateway.timezone()
        gateway.get_issue("MODREQ-1")
        assert operations(jira) == ["GET serverInfo", "GET myself", "GET issue/{key}"]

    def test_from_settings(self, jira: JiraSandbox) -> None:
        """Settings name the site, user and token; browse_url is the site."""
        from config.settings import Settings

        email, token = jira.credentials
        settings = Settings(jira_url=jira.url, jira_user=email, jira_token=SecretStr(token))
        gateway = JiraGateway.from_settings(settings)
        assert gateway.browse_url == jira.url
        assert gateway.get_issue("MODREQ-1")["key"] == "MODREQ-1"

    def test_unconfigured_fails_at_first_use(self) -> None:
        """Without a URL the gateway builds, and the first call is a ConfigError."""
        gateway = JiraGateway("", "", "")
        with pytest.raises(ConfigError, match="GOVFLOW_JIRA_URL"):
            gateway.timezone()


@pytest.fixture(scope="module")
def load(sandbox: JiraSandbox) -> list[str]:
    """150 issues in their own project."""
    sandbox.add_project("BULK", "Bulk")
    return [
        sandbox.file_issue(project="BULK", reporter=REQUESTER, fields={"Summary": f"b{n}"})
        for n in range(150)
    ]


class TestSearch:
    def test_pages_through_everything(
        self, gateway: JiraGateway, jira: JiraSandbox, load: list[str]
    ) -> None:
        """150 issues at 20 a page: 8 search/jql calls chained by nextPageToken, none lost."""
        issues = gateway.search("project = BULK ORDER BY key ASC", ["summary", "status"])
        assert [i["key"] for i in issues] == load
        assert set(issues[0]["fields"]) == {"summary", "status"}
        searches = [r for r in jira.requests() if r.operation == "GET search/jql"]
        assert len(searches) == 8
        assert "nextPageToken" not in searches[0].query
        assert all("nextPageToken=" in r.query and "maxResults=20" in r.query for r in searches[1:])
        assert operations(jira)[:2] == ["GET serverInfo", "GET field"]

    def test_caller_field_list_is_left_alone(self, gateway: JiraGateway, load: list[str]) -> None:
        """The library rewrites its `fields` list in place; the gateway hands it a copy."""
        wanted = ("summary", "Market")
        fields = list(wanted)
        gateway.search("project = BULK AND key = BULK-1", fields)
        assert fields == list(wanted)

    def test_long_jql_goes_by_post(
        self, gateway: JiraGateway, jira: JiraSandbox, load: list[str]
    ) -> None:
        """A JQL too long for a URL is POSTed (with the library's nulls) and still pages."""
        quoted = ", ".join(f'"{key}"' for key in load)
        jql = f"project = BULK AND key in ({quoted}) ORDER BY key ASC"
        assert len(jql) > 1500
        assert [i["key"] for i in gateway.search(jql, ["summary"])] == load
        posts = [r for r in jira.requests() if r.operation == "POST search/jql"]
        assert len(posts) == 8 and posts[1].body["nextPageToken"]

    def test_custom_fields_come_back_as_jira_json(self, gateway: JiraGateway) -> None:
        """Option fields arrive as Jira renders them, keyed by field id."""
        market = FIELD_IDS[MARKET]
        [issue] = gateway.search("key = MODREQ-5", [market])
        assert issue["fields"][market]["value"] == "TW"

    def test_bad_jql_is_400(self, gateway: JiraGateway) -> None:
        """Jira's JQL complaint comes through in the JiraError."""
        with pytest.raises(JiraError) as caught:
            gateway.search("project = NOPE", ["summary"])
        assert caught.value.status == 400
        assert "The value 'NOPE' does not exist for the field 'project'." in str(caught.value)
        assert not caught.value.transient


class TestReads:
    def test_fields_and_field_ids(self, gateway: JiraGateway) -> None:
        """fields() is Jira's list; field_ids() maps names to ids."""
        assert any(f["id"] == "summary" for f in gateway.fields())
        ids = gateway.field_ids()
        assert ids[MARKET] == FIELD_IDS[MARKET] and ids["Summary"] == "summary"

    def test_get_issue(self, gateway: JiraGateway) -> None:
        """An issue by key, whole or narrowed to some fields."""
        assert gateway.get_issue("MODREQ-1")["fields"]["reporter"]["emailAddress"] == REQUESTER
        assert set(gateway.get_issue("MODREQ-1", ["summary"])["fields"]) == {"summary"}

    def test_missing_issue_is_404(self, gateway: JiraGateway) -> None:
        """404 keeps its status and chains the library's error."""
        with pytest.raises(JiraError) as caught:
            gateway.get_issue("MODREQ-424242")
        assert caught.value.status == 404
        assert isinstance(caught.value.__cause__, JIRAError)

    def test_user_email(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """Visible emails come back; a private profile gives None; an unknown id is 404."""
        assert gateway.user_email(jira.state.user(REQUESTER).account_id) == REQUESTER
        assert gateway.user_email(jira.state.user("vendor.ops@example.com").account_id) is None
        with pytest.raises(JiraError) as caught:
            gateway.user_email("no-such-account")
        assert caught.value.status == 404

    def test_account_ids_by_email(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """user/search finds visible and hidden emails; a look-alike address is someone else."""
        hidden = "vendor.ops@example.com"
        assert gateway.account_ids(hidden.upper()) == [jira.state.user(hidden).account_id]
        assert gateway.account_ids(REQUESTER) == [jira.state.user(REQUESTER).account_id]
        # Jira matches email prefixes: "x@example.co" also finds "x@example.com".
        jira.add_user("prefix.case@example.com", "Prefix Case")
        assert gateway.account_ids("prefix.case@example.co") == []
        assert gateway.account_ids("nobody.here@example.com") == []

    def test_account_ids_error_is_jira_error(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """A failing user/search leaves as JiraError with its status."""
        jira.add_fault("GET user/search", Fault(FaultKind.SERVER_ERROR, status=500))
        with pytest.raises(JiraError) as caught:
            gateway.account_ids(REQUESTER)
        assert caught.value.status == 500

    def test_timezone_is_read_once(self, jira: JiraSandbox) -> None:
        """The API user's zone comes from myself, asked once."""
        jira.add_user("tz-bot@example.com", "TZ bot", api_token="t", time_zone="Asia/Singapore")
        gateway = JiraGateway(jira.url, "tz-bot@example.com", "t", max_retries=0)
        assert gateway.timezone() == gateway.timezone() == "Asia/Singapore"
        assert operations(jira).count("GET myself") == 1


class TestComments:
    def test_add_and_list(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """add_comment returns the id; comments() returns Jira's comment JSON."""
        key = new_issue(jira)
        comment_id = gateway.add_comment(key, "We received your request.")
        [comment] = gateway.comments(key)
        assert comment["id"] == comment_id
        assert comment["body"] == "We received your request."
        assert comment["author"]["emailAddress"] == API_USER_EMAIL

    def test_all_pages(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """More comments than one page (100) all come back, oldest first."""
        key = new_issue(jira)
        for n in range(105):
            jira.comment_as(key, REQUESTER, f"c{n}")
        bodies = [c["body"] for c in gateway.comments(key)]
        assert bodies == [f"c{n}" for n in range(105)]


class TestWrites:
    def test_transition_by_target_status(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """transition() finds the way to a status by name (any case) and takes it once."""
        key = new_issue(jira)
        assert gateway.transition(key, "waiting for requester") is True
        assert gateway.transition(key, "Waiting for requester") is False
        done = jira.transitions_done(key)
        assert [(t.from_status, t.to_status) for t in done] == [("Open", "Waiting for requester")]
        assert operations(jira).count("POST issue/{key}/transitions") == 1

    def test_transition_nowhere(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """No transition to the status: JiraError(409), permanent, naming what is open."""
        key = new_issue(jira)
        with pytest.raises(JiraError) as caught:
            gateway.transition(key, "Escalated")
        assert caught.value.status == 409 and not caught.value.transient
        assert "In review" in str(caught.value)

    def test_update_fields_puts_to_self(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """update_fields PUTs to the issue's self URL and the values land."""
        key = new_issue(jira)
        issue_id = jira.snapshot(key)["id"]
        gateway.update_fields(key, {FIELD_IDS[MARKET]: {"value": "PH"}, "duedate": "2030-03-01"})
        assert [r.path for r in jira.requests() if r.method == "PUT"] == [
            f"/rest/api/2/issue/{issue_id}"
        ]
        snapshot = jira.snapshot(key)["fields"]
        assert (snapshot[MARKET], snapshot["Due date"]) == ("PH", "2030-03-01")

    def test_update_fields_refused(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """A field Jira refuses is a 400 naming the field."""
        with pytest.raises(JiraError) as caught:
            gateway.update_fields(new_issue(jira), {FIELD_IDS[MARKET]: {"value": "Mars"}})
        assert caught.value.status == 400
        assert "Option value 'Mars' is not valid" in str(caught.value)

    def test_add_label_is_idempotent(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """Adding a label twice leaves one."""
        key = new_issue(jira, Labels=["intake"])
        gateway.add_label(key, "sla-breached")
        gateway.add_label(key, "sla-breached")
        assert jira.snapshot(key)["fields"]["Labels"] == ["intake", "sla-breached"]


class TestFailures:
    def test_wrong_token_is_401(self, jira: JiraSandbox) -> None:
        """A wrong API token surfaces as JiraError(401) at the first real call."""
        gateway = JiraGateway(jira.url, API_USER_EMAIL, "not-the-token", max_retries=0)
        with pytest.raises(JiraError) as caught:
            gateway.search("project = MODREQ", ["summary"])
        assert caught.value.status == 401 and not caught.value.transient

    def test_rate_limit_carries_retry_after(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """With retries off, a 429 is a transient JiraError carrying Retry-After."""
        jira.add_fault("GET issue/{key}", Fault(FaultKind.RATE_LIMIT, retry_after=17))
        with pytest.raises(JiraError) as caught:
            gateway.get_issue("MODREQ-1")
        assert (caught.value.status, caught.value.retry_after) == (429, 17.0)
        assert caught.value.transient

    def test_rate_limit_retried_by_the_client(self, jira: JiraSandbox) -> None:
        """With max_retries=1 the library sleeps Retry-After (x2, jittered) and succeeds."""
        gateway = JiraGateway(jira.url, *jira.credentials, max_retries=1)
        jira.add_fault("POST issue/{key}/comment", Fault(FaultKind.RATE_LIMIT, retry_after=1))
        key = new_issue(jira)
        gateway.add_comment(key, "after a pause")
        posts = [r.status for r in jira.requests() if r.operation == "POST issue/{key}/comment"]
        assert posts == [429, 201]
        assert [c.body for c in jira.comments(key)] == ["after a pause"]

    @pytest.mark.parametrize("status", [500, 503])
    def test_server_errors(self, gateway: JiraGateway, jira: JiraSandbox, status: int) -> None:
        """5xx becomes a transient JiraError with its status."""
        jira.add_fault("GET issue/{key}/comment", Fault(FaultKind.SERVER_ERROR, status=status))
        with pytest.raises(JiraError) as caught:
            gateway.comments("MODREQ-1")
        assert caught.value.status == status and caught.value.transient

    def test_connection_reset(self, gateway: JiraGateway, jira: JiraSandbox) -> None:
        """A dropped connection is a JiraError without status, chaining requests' error."""
        gateway.timezone()  # connect first, so the reset hits the call under test
        jira.add_fault("PUT issue/{key}", Fault(FaultKind.RESET))
        with pytest.raises(JiraError) as caught:
            gateway.update_fields("MODREQ-1", {"summary": "x"})
        assert caught.value.status is None and caught.value.transient
        assert isinstance(caught.value.__cause__, requests.ConnectionError)
        assert jira.snapshot("MODREQ-1")["fields"]["Summary"] != "x"

    def test_timeout_after_the_write_landed(self, jira: JiraSandbox) -> None:
        """A comment answered too late fails here but exists in Jira: look before resending."""
        gateway = JiraGateway(jira.url, *jira.credentials, max_retries=0, timeout=0.2)
        key = new_issue(jira)
        jira.add_fault("POST issue/{key}/comment", Fault(FaultKind.LATENCY, delay=0.5))
        with pytest.raises(JiraError) as caught:
            gateway.add_comment(key, "ack")
        assert caught.value.status is None
        assert [c["body"] for c in gateway.comments(key)] == ["ack"]
