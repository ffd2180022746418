"""Addresses in the Prefect UI of what govflow publishes (no Prefect import, for the supervisor)."""

from __future__ import annotations

from urllib.parse import quote

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
