"""Publishing to the Prefect UI: one artifact per key updated in place, a stable board URL."""

from __future__ import annotations

import httpx

from integrations.prefect_ui.artifacts import artifact_key, put_markdown
from integrations.prefect_ui.urls import BOARD_KEY, board_page, board_url


def test_artifact_keys_are_what_prefect_accepts() -> None:
    """Prefect artifact keys allow only lowercase letters, digits and dashes."""
    assert artifact_key("MODREQ-12") == "request-modreq-12"
    assert artifact_key("Ops_Team-7") == "request-ops-team-7"


def test_board_url_is_the_ui_page_of_the_key() -> None:
    """The Prefect 3 UI shows the latest artifact of a key at /artifacts/key/<key>."""
    assert (
        board_url("http://127.0.0.1:4200/api")
        == "http://127.0.0.1:4200/artifacts/key/open-requests"
    )


class TestPutMarkdown:
    def test_one_artifact_per_key_updated_in_place(self, prefect_api: str) -> None:
        """A second publication changes the artifact the key shows; no second version."""
        first = put_markdown("test-board-inplace", "# one", "first")
        second = put_markdown("test-board-inplace", "# two", "second")
        assert first == second
        with httpx.Client(base_url=prefect_api) as api:
            latest = api.get("/artifacts/test-board-inplace/latest").json()
            versions = api.post(
                "/artifacts/filter", json={"artifacts": {"key": {"any_": ["test-board-inplace"]}}}
            ).json()
        assert latest["data"] == "# two"
        assert latest["description"] == "second"
        assert latest["type"] == "markdown"
        assert [v["id"] for v in versions] == [str(first)]

    def test_deleted_artifact_is_created_again(self, prefect_api: str) -> None:
        """Someone deleted the artifact in the UI: the next publication brings it back."""
        first = put_markdown("test-board-deleted", "# one", "first")
        with httpx.Client(base_url=prefect_api) as api:
            assert api.delete(f"/artifacts/{first}").status_code == 204
        again = put_markdown("test-board-deleted", "# two", "again")
        assert again != first
        with httpx.Client(base_url=prefect_api) as api:
            assert api.get("/artifacts/test-board-deleted/latest").json()["data"] == "# two"


def test_board_page_stays_the_same_across_publications(prefect_api: str) -> None:
    """The URL `govflow serve` prints shows the board's content, whatever is published after."""
    page = board_page(prefect_api)
    assert "/artifacts/artifact/" in page
    put_markdown(BOARD_KEY, "# Open requests\n\nsecond", "Open requests, most urgent first")
    assert board_page(prefect_api) == page
    with httpx.Client(base_url=prefect_api) as api:
        shown = api.get(f"/artifacts/{page.rsplit('/', 1)[1]}").json()
    assert shown["data"].endswith("second")
