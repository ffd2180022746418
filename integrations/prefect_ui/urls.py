"""Addresses in the Prefect UI of what govflow publishes (no Prefect import, for the supervisor)."""

from __future__ import annotations

from urllib.parse import quote

import httpx

BOARD_KEY = "open-requests"


def ui_url(api_url: str) -> str:
    """The Prefect UI's base URL for the server whose API is at `api_url`."""
    return api_url.rstrip("/").removesuffix("/api")


def artifact_url(api_url: str, key: str) -> str:
    """The UI page that always shows the latest artifact of `key` (Prefect 3 route)."""
    return f"{ui_url(api_url)}/artifacts/key/{quote(key)}"


def board_url(api_url: str) -> str:
    """The Prefect UI page that always shows the board as last published."""
    return artifact_url(api_url, BOARD_KEY)


def runs_url(api_url: str, tag: str) -> str:
    """The UI's runs page filtered to one tag (a request's Jira key)."""
    # `tag`, not `tags`: the runs page reads `tag` (with `tags` it shows every run).
    return f"{ui_url(api_url)}/runs?tag={quote(tag)}"


def artifact_page(api_url: str, artifact_id: str) -> str:
    """The UI page that shows an artifact's content (the key's page lists its versions)."""
    return f"{ui_url(api_url)}/artifacts/artifact/{artifact_id}"


def board_page(api_url: str, *, timeout: float = 10.0) -> str:
    """The board's content page, creating the (empty) board first if none was published yet.

    The board is one artifact updated in place, so its id, and this URL, stay the same for as
    long as the Prefect server keeps it. Plain HTTP: the supervisor calls this without
    importing Prefect.
    """
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout) as api:
        found = api.post(
            "artifacts/latest/filter",
            json={"artifacts": {"key": {"any_": [BOARD_KEY]}}, "limit": 1},
        )
        found.raise_for_status()
        if found.json():
            return artifact_page(api_url, str(found.json()[0]["latest_id"]))
        created = api.post(
            "artifacts/",
            json={
                "key": BOARD_KEY,
                "type": "markdown",
                "description": "Open requests, most urgent first",
                "data": "# Open requests\n\nNothing published yet: the board appears here "
                "after the first change govflow records.\n",
            },
        )
        created.raise_for_status()
        return artifact_page(api_url, str(created.json()["id"]))
