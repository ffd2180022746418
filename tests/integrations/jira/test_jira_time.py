"""Jira timestamps as govflow reads them."""

from __future__ import annotations

from datetime import UTC, datetime

from integrations.jira.mapping import parse_jira_time


class TestParseJiraTime:
    def test_keeps_milliseconds(self) -> None:
        """A reply written in the same second as a question must still sort after it."""
        assert parse_jira_time("2026-11-27T23:11:35.503+0000") == datetime(
            2026, 11, 27, 23, 11, 35, 503000, tzinfo=UTC
        )

    def test_converts_offsets_to_utc(self) -> None:
        """Both +0530 and +05:30 forms are read and converted."""
        expected = datetime(2026, 11, 27, 17, 41, 35, tzinfo=UTC)
        assert parse_jira_time("2026-11-27T23:11:35+0530") == expected
        assert parse_jira_time("2026-11-27T23:11:35.000+05:30") == expected

    def test_unreadable_values_are_the_epoch(self) -> None:
        """Garbage never raises; it sorts first."""
        for raw in ("garbage", None, 12, "2026-13-45T99:99:99.000+0000"):
            assert parse_jira_time(raw) == datetime(1970, 1, 1, tzinfo=UTC)
