"""Addresses in the Prefect UI of what govflow publishes (no Prefect import, for the supervisor).

Installations sharing one Prefect server (staging and production, two teams) each publish
under names of their own: artifact keys from `in_namespace`, run tags from `run_tag`. The default
installation keeps the names it had before installations existed (`open-requests`,
`request-modreq-12`, a run tagged `MODREQ-12`), so its links and bookmarks still work; any
other prefixes them with its name (`staging-open-requests`, `staging:MODREQ-12`).
"""

from __future__ import annotations

from urllib.parse import quote

import httpx

from config.settings import Settings

# The board's key for the default installation; others prefix it (`board_key`).
BOARD_KEY = "open-requests"
DEFAULT_INSTALLATION: str = Settings.model_fields["installation"].default


def in_namespace(installation: str, key: str) -> str:
    """An artifact key of `installation`: unchanged for the default one, else prefixed.

    Prefect artifact keys allow only lowercase letters, digits and dashes, so the prefix is
    joined by a dash, as deployment names are (`<installation>-intake`).
    """
    return key if installation == DEFAULT_INSTALLATION else f"{installation}-{key}"


def run_tag(installation: str, tag: str) -> str:
    """A flow-run tag of `installation` (a Jira key, a stage, a team): prefixed unless default.

    Tags allow any text, so a colon, which no installation name contains, keeps one
    installation's tags apart from another's whatever their names.
    """
    return tag if installation == DEFAULT_INSTALLATION else f"{installation}:{tag}"


def board_key(installation: str) -> str:
    """The artifact key of the installation's board."""
    return in_namespace(installation, BOARD_KEY)


def ui_url(api_url: str) -> str:
    """The Prefect UI's base URL for the server whose API is at `api_url`."""
    return api_url.rstrip("/").removesuffix("/api")


def artifact_url(api_url: str, key: str) -> str:
    """The UI page that always shows the latest artifact of `key` (Prefect 3 route)."""
    return f"{ui_url(api_url)}/artifacts/key/{quote(key)}"


def board_url(api_url: str, installation: str = DEFAULT_INSTALLATION) -> str:
    """The Prefect UI page that always shows the installation's board as last published."""
    return artifact_url(api_url, board_key(installation))


def runs_url(api_url: str, tag: str) -> str:
    """The UI's runs page filtered to one tag (a request's Jira key)."""
    # `tag`, not `tags`: the runs page reads `tag` (with `tags` it shows every run).
    return f"{ui_url(api_url)}/runs?tag={quote(tag)}"


def artifact_page(api_url: str, artifact_id: str) -> str:
    """The UI page that shows an artifact's content (the key's page lists its versions)."""
    return f"{ui_url(api_url)}/artifacts/artifact/{artifact_id}"


def board_page(
    api_url: str, installation: str = DEFAULT_INSTALLATION, *, timeout: float = 10.0
) -> str:
    """The board's content page, creating the (empty) board first if none was published yet.

    The board is one artifact updated in place, so its id, and this URL, stay the same for as
    long as the Prefect server keeps it. Plain HTTP: the supervisor calls this without
    importing Prefect.
    """
    key = board_key(installation)
    with httpx.Client(base_url=api_url.rstrip("/") + "/", timeout=timeout) as api:
        found = api.post(
            "artifacts/latest/filter",
            json={"artifacts": {"key": {"any_": [key]}}, "limit": 1},
        )
        found.raise_for_status()
        if found.json():
            return artifact_page(api_url, str(found.json()[0]["latest_id"]))
        created = api.post(
            "artifacts/",
            json={
                "key": key,
                "type": "markdown",
                "description": "Open requests, most urgent first",
                "data": "# Open requests\n\nNothing published yet: the board appears here "
                "after the first change govflow records.\n",
            },
        )
        created.raise_for_status()
        return artifact_page(api_url, str(created.json()["id"]))
