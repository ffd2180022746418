"""The Jira stand-in's browse links and the control routes the console reads."""

from __future__ import annotations

import httpx

from sandbox.jira_server import JiraSandbox


def test_browse_redirects_to_the_console_once_it_is_known() -> None:
    with JiraSandbox(seed=True) as jira, httpx.Client(base_url=jira.url) as http:
        plain = http.get("/browse/modreq-1")
        assert plain.status_code == 200
        assert "MODREQ-1" in plain.text and "Open" in plain.text
        assert http.get("/browse/MODREQ-999").status_code == 404

        assert http.put("/_sandbox/console", json={"url": "http://127.0.0.1:8400"}).is_success
        moved = http.get("/browse/MODREQ-1")
        assert moved.status_code == 302
        assert moved.headers["location"] == "http://127.0.0.1:8400/jira/MODREQ-1"


def test_issues_and_users_are_listed_for_the_console() -> None:
    with JiraSandbox(seed=True) as jira, httpx.Client(base_url=jira.url) as http:
        issues = http.get("/_sandbox/issues").json()
        assert [i["key"] for i in issues][:2] == ["MODREQ-7", "MODREQ-6"]
        assert issues[-1]["fields"]["Market"] == "MY"
        users = http.get("/_sandbox/users").json()
        emails = {u["email"] for u in users}
        assert "aisyah.rahman@example.com" in emails
        assert all(u["account_id"] and u["display_name"] for u in users)
