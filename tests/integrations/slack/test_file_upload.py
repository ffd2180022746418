"""Sharing a file in a channel: the gateway against the stand-in's three-step upload."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.slack import SlackSandbox
from tests.integrations.slack.conftest import GatewayFactory

GOVERNANCE = "C0GV00001"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4


def uploads(slack: SlackSandbox) -> list[dict[str, Any]]:
    """What the stand-in's upload service holds."""
    answer = httpx.get(f"{slack.url}/_sandbox/files")
    answer.raise_for_status()
    return list(answer.json()["files"])


def client(slack: SlackSandbox) -> WebClient:
    return WebClient(token=slack.bot_token, base_url=slack.api_url)


class TestUploadFile:
    def test_the_file_is_shared_with_its_comment(
        self, slack: SlackSandbox, make_gateway: GatewayFactory
    ) -> None:
        """The three steps run; the bytes arrive whole; the comment is posted in the channel."""
        file_id = make_gateway().upload_file(
            GOVERNANCE,
            PNG,
            filename="cycle-time.png",
            title="Cycle time",
            initial_comment="Weekly cycle time",
        )
        [found] = uploads(slack)
        assert found["id"] == file_id
        assert found["completed"] and found["channels"] == [GOVERNANCE]
        assert found["size"] == found["declared_length"] == len(PNG)
        assert found["sha256"] == hashlib.sha256(PNG).hexdigest()
        assert (found["name"], found["title"]) == ("cycle-time.png", "Cycle time")
        assert [m.text for m in slack.messages(GOVERNANCE)][-1] == "Weekly cycle time"
        methods = [c.method for c in slack.calls() if c.method.startswith("files.")]
        assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]


class TestStandInRefusals:
    def refused(self, call: Any) -> str:
        with pytest.raises(SlackApiError) as raised:
            call()
        return str(raised.value.response["error"])

    def test_arguments_of_get_upload_url(self, slack: SlackSandbox) -> None:
        """No filename: invalid_arguments; length 0: missing_argument (as documented)."""
        web = client(slack)
        assert (
            self.refused(lambda: web.api_call("files.getUploadURLExternal", params={"length": 10}))
            == "invalid_arguments"
        )
        assert (
            self.refused(lambda: web.files_getUploadURLExternal(filename="a.png", length=0))
            == "missing_argument"
        )

    def test_complete_needs_an_uploaded_unspent_file(self, slack: SlackSandbox) -> None:
        """Unknown or not yet uploaded: file_not_found; an upload URL works once."""
        web = client(slack)
        assert (
            self.refused(lambda: web.files_completeUploadExternal(files=[{"id": "F0NOPE"}]))
            == "file_not_found"
        )
        got = web.files_getUploadURLExternal(filename="a.txt", length=3)
        assert (
            self.refused(
                lambda: web.files_completeUploadExternal(
                    files=[{"id": got["file_id"]}], channel_id=GOVERNANCE
                )
            )
            == "file_not_found"
        )
        assert httpx.post(str(got["upload_url"]), content=b"abc").text == "OK - 3"
        done = web.files_completeUploadExternal(files=[{"id": got["file_id"], "title": "A"}])
        assert done["files"][0]["title"] == "A"
        assert httpx.post(str(got["upload_url"]), content=b"abc").status_code == 404
        assert (
            self.refused(lambda: web.files_completeUploadExternal(files=[{"id": got["file_id"]}]))
            == "file_not_found"
        )
