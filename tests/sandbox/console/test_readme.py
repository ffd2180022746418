"""The README's recipes, run as written against a running sandbox; docs link only inside the repo.

- Every `make` target the README names exists in the Makefile (`make run` itself is what the
  session's `govflow serve` fixture runs; `make test` is CI).
- Every `.venv/bin/govflow ...` line in the README's shell blocks runs against the running
  sandbox from the repository root, with nothing set but what `make run` sets, and exits 0.
- `.venv/bin/python -m bench ...` lines are checked to parse (`--help`), not run: a bench
  run takes minutes and is documented in docs/benchmarks.md.
- Every http://127.0.0.1 URL in the README answers 200 (the ports `make run` prefers are
  mapped to the ones this session's serve got).
- A Jira link in a govflow card, `<jira>/browse/KEY`, opens the console's ticket page.
- README.md and docs/*.md link to nothing outside the repository, and every relative link
  resolves to a file in it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.sandbox.console.conftest import SandboxServe

REPO = Path(__file__).resolve().parents[3]
README = REPO / "README.md"
DOCS = [README, *sorted((REPO / "docs").glob("*.md"))]
SHELL_BLOCK = re.compile(r"^[ \t]*```sh\n(.*?)^[ \t]*```", re.S | re.M)
LOCAL_URL = re.compile(r"http://127\.0\.0\.1:\d+[^\s)`'\"<>]*")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")
TOUR_KEY = "MODREQ-8"
# The tour's request, as step 1 fills the form.
TOUR_FORM = {
    "request_type": "Review standard change",
    "domain": "Merchant onboarding",
    "market": "SG",
    "summary": "Accept utility bills as address proof for SG home sellers",
    "description": "Home-based sellers in SG often have no tenancy agreement at all.",
    "business_justification": "About 120 sellers a month are rejected for it today.",
    "affected_sop": "SOP-MOB-001",
    "proposed_change": "Accept a utility bill under three months old as address proof.",
}
BROWSER = {"Accept": "text/html,application/xhtml+xml"}


def recipe_lines(text: str) -> list[str]:
    """The commands of every ```sh block, comments dropped."""
    lines: list[str] = []
    for block in SHELL_BLOCK.findall(text):
        for raw in block.splitlines():
            command = raw.split("  #", 1)[0].strip()
            if command and not command.startswith("#"):
                lines.append(command)
    return lines


def test_docs_link_only_inside_the_repository() -> None:
    for doc in DOCS:
        text = doc.read_text(encoding="utf-8")
        assert not re.search(r"\.\./shared|`\.\./", text), f"{doc.name} points outside the repo"
        for target in MD_LINK.findall(text):
            if target.startswith(("http://", "https://", "mailto:", "#")):
                continue
            path = (doc.parent / target.split("#", 1)[0]).resolve()
            assert path.is_relative_to(REPO), f"{doc.name} links outside the repo: {target}"
            assert path.exists(), f"{doc.name} links to a missing file: {target}"


def test_readme_make_targets_exist() -> None:
    makefile = (REPO / "Makefile").read_text(encoding="utf-8")
    targets = set(re.findall(r"^([a-z][\w-]*):", makefile, re.M))
    readme = README.read_text(encoding="utf-8")
    named = [line.split()[1] for line in recipe_lines(readme) if line.startswith("make ")]
    named += re.findall(r"`make ([a-z][\w-]*)", readme)
    assert named, "the README names no make target"
    assert set(named) <= targets, f"missing make targets: {set(named) - targets}"


@pytest.mark.timeout(600)  # may start the session's govflow serve
def test_readme_recipes_against_a_running_sandbox(sandbox_serve: SandboxServe) -> None:
    if sandbox_serve.data_dir is None:
        pytest.skip("needs the session's own govflow serve (GOVFLOW_CONSOLE_URL is set)")
    text = README.read_text(encoding="utf-8")
    console = sandbox_serve.console_url
    with httpx.Client(base_url=console, timeout=30) as http:
        key = _file_tour_request(http)
        # The README's numbers: the tour's ticket, the ports make run prefers.
        ports = {"8400": urlsplit(console).port}
        if sandbox_serve.prefect_ui_url:
            ports["4200"] = urlsplit(sandbox_serve.prefect_ui_url).port

        urls = sorted(set(LOCAL_URL.findall(text)))
        assert any(":8400" in u for u in urls) and any(":4200" in u for u in urls), urls
        for url in urls:
            parts = urlsplit(url)
            port = ports.get(str(parts.port), parts.port)
            real = url.replace(f":{parts.port}", f":{port}", 1).replace(TOUR_KEY, key)
            # As a browser asks: the Prefect UI serves its pages to `Accept: text/html`.
            answer = httpx.get(real, timeout=30, follow_redirects=True, headers=BROWSER)
            assert answer.status_code == 200, f"{url} (here {real}): HTTP {answer.status_code}"

        browse = _browse_link(http, key)
        opened = httpx.get(browse, timeout=30, follow_redirects=True)
        assert opened.status_code == 200 and str(opened.url) == f"{console}/jira/{key}"
        assert key in opened.text

    commands = recipe_lines(text)
    govflow = [c for c in commands if c.startswith(".venv/bin/govflow ")]
    assert govflow, "the README's tour shows no govflow command"
    bin_dir = Path(sys.executable).parent
    for command in govflow:
        argv = command.replace(TOUR_KEY, key).split()
        argv[0] = str(bin_dir / "govflow")
        done = subprocess.run(
            argv, cwd=REPO, env=sandbox_serve.env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, f"{command}: {done.stdout}\n{done.stderr}"
        assert "reading the running sandbox's ledger" in done.stderr, done.stderr
        # The request is routed, so its expert review clock runs (not "no such request").
        assert "EXPERT_REVIEW" in done.stdout or "SIGN_OFF" in done.stdout, done.stdout
    for command in (c for c in commands if c.startswith(".venv/bin/python -m bench")):
        module = command.split()[3]
        done = subprocess.run(
            [sys.executable, "-m", "bench", "--help"], cwd=REPO, capture_output=True, text=True
        )
        assert done.returncode == 0 and "modules" in done.stdout, done.stderr
        assert (REPO / "bench" / f"{module}.py").exists(), command


@pytest.mark.timeout(600)
def test_a_short_field_is_answered_and_an_edit_takes_it_up(sandbox_serve: SandboxServe) -> None:
    """The tour's aside: a field left short gets govflow's comment; editing it resumes."""
    with httpx.Client(base_url=sandbox_serve.console_url, timeout=30) as http:
        short = {**TOUR_FORM, "business_justification": "Too short."}
        answer = http.post("/jira/new", data=short)
        assert answer.status_code == 303, answer.text
        key = answer.headers["location"].split("/jira/", 1)[1].split("?", 1)[0]
        page = _wait_for(http, key, "Waiting for requester")
        assert "please fix the following on this ticket" in page
        assert "Business justification" in page
        http.post(f"/jira/{key}/edit", data=TOUR_FORM)
        page = _wait_for(http, key, "In review")
        assert "your request is complete and on its way" in page


def _wait_for(http: httpx.Client, key: str, status: str) -> str:
    deadline = time.monotonic() + 120
    while True:
        page = http.get(f"/jira/{key}").text
        if f'id="status">{status}<' in page:
            return page
        assert time.monotonic() < deadline, f"{key} never reached {status!r}"
        time.sleep(1)


def _file_tour_request(http: httpx.Client) -> str:
    """File the tour's request through the console's form, as Priya; wait until routed."""
    answer = http.post("/jira/new", data=TOUR_FORM)
    assert answer.status_code == 303, answer.text
    key = answer.headers["location"].split("/jira/", 1)[1].split("?", 1)[0]
    _wait_for(http, key, "In review")
    return key


def _browse_link(http: httpx.Client, key: str) -> str:
    """The `<jira>/browse/KEY` link on the request's Slack card, as a person would click it."""
    page = http.get(f"/jira/{key}").text
    threads = re.findall(r'href="(/slack/c/[^"]+/t/[^"]+)"', page)
    assert threads, "the ticket page links no Slack thread"
    for thread in threads:
        found = re.search(rf'href="(http://127\.0\.0\.1:\d+/browse/{key})"', http.get(thread).text)
        if found:
            return found.group(1)
    raise AssertionError(f"no /browse/{key} link on the request's cards")
