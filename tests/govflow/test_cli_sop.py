"""`govflow sop ...` against a temporary SQLite ledger."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from domain.sop import content_hash
from govflow.cli_sop import sop_app
from govflow.sop_import import import_sops, parse_sop_markdown
from integrations.db.engine import make_engine, make_sessionmaker
from integrations.db.migrate import upgrade
from integrations.db.sops import publish_version

TODAY = datetime.now(UTC).date()
# Relative to the real date: these commands read the clock, as an operator's would.
LAST_YEAR = TODAY - timedelta(days=365)
NEXT_MONTH = TODAY + timedelta(days=30)
BODY = "# Merchant KYC\n\n## 1. Purpose\n\nCheck who sells.\n\n## 2. Documents\n\nMyKad.\n"
FILE = (
    "---\nid: SOP-MOB-001\ntitle: Merchant KYC onboarding checks\nowner_team: onboarding_experts\n"
    f"domain: merchant_onboarding\nmarkets: [MY, SG]\neffective_date: {LAST_YEAR}\n---\n" + BODY
)


@pytest.fixture
def ledger_url(tmp_path: Path) -> str:
    """A migrated SQLite ledger with one SOP: v1 in effect, v2 scheduled for next month."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    sops = tmp_path / "sops"
    sops.mkdir()
    (sops / "kyc.md").write_text(FILE)
    engine = make_engine(url)
    upgrade(engine)
    now = datetime.now(UTC)
    with make_sessionmaker(engine).begin() as session:
        import_sops(session, sops, now)
        publish_version(
            session,
            "SOP-MOB-001",
            BODY.replace("MyKad.", "MyKad or passport."),
            based_on_version=1,
            author="U0EX00002",
            effective_date=NEXT_MONTH,
            changelog="Accept passports\nfor foreign residents",
            jira_key="MODREQ-42",
            now=now,
        )
    engine.dispose()
    return url


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(sop_app, list(args), env={"GOVFLOW_DATABASE_URL": url})


class TestReading:
    def test_list_shows_current_and_scheduled_versions(self, ledger_url: str) -> None:
        """One row per SOP: the version in effect, the one scheduled, owner and markets."""
        result = run(ledger_url, "list")
        assert result.exit_code == 0, result.output
        header, row = result.output.splitlines()
        assert header.split()[:4] == ["ID", "IN", "EFFECT", "ON"]
        assert row.split()[:8] == [
            "SOP-MOB-001",
            "v1",
            "since",
            str(LAST_YEAR),
            "v2",
            "from",
            str(NEXT_MONTH),
            "onboarding_experts",
        ]
        later = run(ledger_url, "list", "--on", str(NEXT_MONTH))
        assert f"v2 since {NEXT_MONTH}" in later.output

    def test_show_defaults_to_the_version_in_effect(self, ledger_url: str) -> None:
        """`show` prints metadata and the text reviewers apply today; --version picks another."""
        result = run(ledger_url, "show", "SOP-MOB-001")
        assert result.exit_code == 0, result.output
        expected = f"1 of 2 (in effect from {LAST_YEAR}; version 2 takes effect {NEXT_MONTH})"
        assert expected in result.output
        assert result.output.endswith(BODY)
        second = run(ledger_url, "show", "SOP-MOB-001", "--version", "2")
        assert "MyKad or passport." in second.output
        assert "for MODREQ-42" in second.output
        assert f"not in effect yet on {TODAY}" in second.output
        assert "Accept passports / for foreign residents" in second.output

    def test_history_lists_every_version(self, ledger_url: str) -> None:
        """One line per version with its effective date, author and Jira key."""
        result = run(ledger_url, "history", "SOP-MOB-001")
        lines = result.output.splitlines()
        assert [line.split()[0] for line in lines] == ["VERSION", "1", "2"]
        assert "MODREQ-42" in lines[2] and "Accept passports" in lines[2]

    def test_diff_between_versions(self, ledger_url: str) -> None:
        """A unified diff labelled with the versions."""
        result = run(ledger_url, "diff", "SOP-MOB-001", "1", "2")
        assert result.exit_code == 0, result.output
        assert "--- SOP-MOB-001 version 1\n+++ SOP-MOB-001 version 2" in result.output
        assert "-MyKad.\n+MyKad or passport." in result.output
        same = run(ledger_url, "diff", "SOP-MOB-001", "2", "2")
        assert "have the same text" in same.output

    def test_unknown_sop_or_version_is_a_message(self, ledger_url: str) -> None:
        """No traceback: a one-line error and exit code 1."""
        for args in (["show", "SOP-XXX-001"], ["diff", "SOP-MOB-001", "1", "9"]):
            result = run(ledger_url, *args)
            assert result.exit_code == 1
            assert result.output.startswith("error: ")
            assert "Traceback" not in result.output
        assert "has no version 9" in result.output

    def test_a_bad_date_is_a_usage_error(self, ledger_url: str) -> None:
        """--on wants YYYY-MM-DD."""
        result = run(ledger_url, "list", "--on", "tomorrow")
        assert result.exit_code == 2
        assert "not a date like 2026-07-01" in result.output


class TestExport:
    def test_export_writes_front_matter_and_text(self, ledger_url: str, tmp_path: Path) -> None:
        """The exported file reads back with the SOP's metadata and the chosen version's text."""
        out = tmp_path / "export"
        result = run(ledger_url, "export", "SOP-MOB-001", "--out", str(out), "--version", "2")
        assert result.exit_code == 0, result.output
        written = (out / "SOP-MOB-001.md").read_text()
        front, body = parse_sop_markdown(written, source="SOP-MOB-001.md")
        assert (front.id, front.owner_team, front.markets) == (
            "SOP-MOB-001",
            "onboarding_experts",
            ("MY", "SG"),
        )
        assert front.effective_date == NEXT_MONTH
        assert "MyKad or passport." in body
        assert f"sha256 {content_hash(body)}" in written

    def test_export_does_not_overwrite_without_force(self, ledger_url: str, tmp_path: Path) -> None:
        """An existing file is kept unless --force is given."""
        (tmp_path / "SOP-MOB-001.md").write_text("mine\n")
        refused = run(ledger_url, "export", "SOP-MOB-001", "--out", str(tmp_path))
        assert refused.exit_code == 1 and "--force" in refused.output
        assert (tmp_path / "SOP-MOB-001.md").read_text() == "mine\n"
        forced = run(ledger_url, "export", "SOP-MOB-001", "--out", str(tmp_path), "--force")
        assert forced.exit_code == 0
        assert f"effective_date: {LAST_YEAR}" in (tmp_path / "SOP-MOB-001.md").read_text()


class TestNoRegistry:
    def test_a_missing_sqlite_file_is_not_created(self, tmp_path: Path) -> None:
        """No ledger yet: say how to create it, and leave the disk alone."""
        target = tmp_path / "nowhere" / "ledger.db"
        result = run(f"sqlite:///{target}", "list")
        assert result.exit_code == 1
        assert "no SOP registry yet" in result.output and "govflow serve" in result.output
        assert not target.parent.exists()

    def test_an_unmigrated_ledger_is_not_migrated(self, tmp_path: Path) -> None:
        """A ledger at an older schema gets the message, and keeps its schema."""
        url = f"sqlite:///{tmp_path / 'old.db'}"
        engine = make_engine(url)
        upgrade(engine, "0001")
        engine.dispose()
        result = run(url, "show", "SOP-MOB-001")
        assert result.exit_code == 1 and "no SOP registry yet" in result.output
        check = make_engine(url)
        with check.connect() as connection:
            version = connection.exec_driver_sql("SELECT version_num FROM alembic_version")
            assert version.scalar_one() == "0001"
        check.dispose()

    def test_bad_settings_are_reported(self) -> None:
        """A malformed GOVFLOW_DATABASE_URL is a located settings problem."""
        result = run("not a url", "list")
        assert result.exit_code == 1
        assert "GOVFLOW_DATABASE_URL" in result.output
        assert "Traceback" not in result.output
