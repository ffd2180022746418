"""The SOP registry on SQLite and PostgreSQL: publication, immutability, effective dates, import."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from config.loader import load_rules
from config.settings import DEFAULT_RULES
from domain.errors import ConfigError, PublicationRefused, StaleBase, UnknownSop
from domain.sop import SopMeta, SopVersion, content_hash
from govflow.sop_import import (
    import_sops,
    parse_sop_markdown,
    render_sop_markdown,
)
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, SopVersionRow
from integrations.db.sops import (
    current_version,
    get_sop,
    get_version,
    latest_version,
    list_sops,
    list_versions,
    publish_version,
    register_sop,
)

NOW = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)
TODAY = NOW.date()
META = SopMeta(
    id="SOP-LST-001",
    title="Prohibited items",
    owner_team="listing_experts",
    domain="product_listing",
    markets=("MY", "SG"),
)
V1 = "# Prohibited items\n\n## 1. Purpose\n\nWhy.\n"
PACKAGED_SOPS = DEFAULT_RULES.parent / "sops"


def sop_file(sop_id: str = "SOP-LST-001", body: str = V1, *, owner: str = "listing_experts") -> str:
    return (
        f"---\nid: {sop_id}\ntitle: Prohibited items\nowner_team: {owner}\n"
        f"domain: product_listing\nmarkets: [MY, SG]\neffective_date: 2026-07-01\n---\n{body}"
    )


@pytest.fixture
def session(ledger: Engine) -> Iterator[Session]:
    """One transaction on the ledger, committed at the end like a flow would."""
    with make_sessionmaker(ledger).begin() as session:
        yield session


def registered(session: Session) -> None:
    register_sop(
        session,
        META,
        V1,
        author="import",
        effective_date=date(2026, 7, 1),
        changelog="Imported",
        now=NOW,
    )


def publish(
    session: Session, body: str, *, base: int, on: date = TODAY, key: str = "MODREQ-1"
) -> int:
    return publish_version(
        session,
        "SOP-LST-001",
        body,
        based_on_version=base,
        author="U0EX00003",
        effective_date=on,
        changelog=f"change on {key}",
        jira_key=key,
        now=NOW,
    )


class TestPublication:
    def test_versions_are_numbered_and_kept(self, session: Session) -> None:
        """Each publication on the latest version adds the next number; all stay readable."""
        registered(session)
        assert publish(session, V1 + "\nTwo.\r\n", base=1) == 2
        assert publish(session, V1 + "\nThree.\n", base=2, key="MODREQ-2") == 3
        versions = list_versions(session, "SOP-LST-001")
        assert [v.version for v in versions] == [1, 2, 3]
        assert [v.based_on_version for v in versions] == [None, 1, 2]
        assert versions[1].text == V1 + "\nTwo.\n"  # stored normalized
        assert versions[1].content_hash == content_hash(V1 + "\nTwo.\n")
        assert (versions[2].jira_key, versions[0].jira_key) == ("MODREQ-2", None)
        assert get_version(session, "SOP-LST-001", 2) == versions[1]
        assert latest_version(session, "SOP-LST-001").version == 3

    def test_stale_base_is_refused(self, ledger: Engine) -> None:
        """Two drafts on version 1: the first publishes, the second must rebase."""
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            registered(session)
        with sessions.begin() as session:
            publish(session, V1 + "\nFirst.\n", base=1)
        with sessions.begin() as session, pytest.raises(StaleBase) as exc:
            publish(session, V1 + "\nSecond.\n", base=1, key="MODREQ-2")
        assert (exc.value.based_on, exc.value.latest) == (1, 2)
        with sessions.begin() as session:
            assert latest_version(session, "SOP-LST-001").text == V1 + "\nFirst.\n"

    def test_retried_publication_returns_the_same_version(self, session: Session) -> None:
        """The same request publishing the same text on the same base twice adds one version."""
        registered(session)
        assert publish(session, V1 + "\nTwo.\n", base=1) == 2
        assert publish(session, V1 + "\nTwo.\n", base=1) == 2
        assert len(list_versions(session, "SOP-LST-001")) == 2

    def test_refusals(self, session: Session) -> None:
        """Unknown SOP, unchanged text and a backdated effective date are refused."""
        registered(session)
        with pytest.raises(UnknownSop):
            publish_version(
                session,
                "SOP-XXX-404",
                V1,
                based_on_version=1,
                author="a",
                effective_date=TODAY,
                changelog="",
                jira_key=None,
                now=NOW,
            )
        with pytest.raises(PublicationRefused, match="nothing to publish"):
            publish(session, V1.replace("\n", "\r\n"), base=1)
        with pytest.raises(PublicationRefused, match="in the past"):
            publish(session, V1 + "x\n", base=1, on=TODAY - timedelta(days=1))

    def test_register_is_once_per_id(self, session: Session) -> None:
        """A second registration of the same id adds nothing."""
        registered(session)
        assert not register_sop(
            session,
            META,
            "# Other\n",
            author="x",
            effective_date=TODAY,
            changelog="",
            now=NOW,
        )
        assert [v.text for v in list_versions(session, "SOP-LST-001")] == [V1]
        assert [r.meta for r in list_sops(session)] == [META]


class TestEffectiveDates:
    def test_current_version_follows_effective_dates(self, session: Session) -> None:
        """A version becomes current on its effective date, not when it is published."""
        registered(session)
        publish(session, V1 + "\nTwo.\n", base=1, on=date(2026, 12, 1))
        publish(session, V1 + "\nThree.\n", base=2, on=date(2027, 1, 1), key="MODREQ-2")

        def current(on: date) -> int | None:
            found = current_version(session, "SOP-LST-001", on)
            return found.version if found else None

        assert current(date(2026, 6, 30)) is None
        assert current(date(2026, 7, 1)) == 1
        assert current(date(2026, 11, 30)) == 1
        assert current(date(2026, 12, 1)) == 2
        assert current(date(2027, 6, 1)) == 3
        with pytest.raises(UnknownSop):
            current_version(session, "SOP-XXX-404", TODAY)

    def test_same_day_versions_take_the_highest(self, session: Session) -> None:
        """Two versions effective the same day: the later one is current."""
        registered(session)
        publish(session, V1 + "\nTwo.\n", base=1)
        publish(session, V1 + "\nThree.\n", base=2, key="MODREQ-2")
        assert current_version(session, "SOP-LST-001", TODAY).version == 3  # type: ignore[union-attr]

    def test_a_version_cannot_take_effect_before_its_base(self, session: Session) -> None:
        """Effective dates never go backwards from one version to the next."""
        registered(session)
        publish(session, V1 + "\nTwo.\n", base=1, on=date(2027, 3, 1))
        with pytest.raises(PublicationRefused, match="before 2027-03-01"):
            publish(session, V1 + "\nThree.\n", base=2, on=date(2027, 1, 1), key="MODREQ-2")


class TestImmutability:
    def test_update_and_delete_are_refused_by_the_database(self, ledger: Engine) -> None:
        """Raw SQL cannot change or remove a published version, on either backend."""
        with make_sessionmaker(ledger).begin() as session:
            registered(session)
        statements = [
            "UPDATE sop_versions SET text = 'rewritten'",
            "UPDATE sop_versions SET effective_date = '2020-01-01' WHERE version = 1",
            "DELETE FROM sop_versions",
        ]
        if ledger.dialect.name == "postgresql":
            statements.append("TRUNCATE sop_versions")
        for statement in statements:
            with pytest.raises(DBAPIError, match="immutable"), ledger.begin() as connection:
                connection.execute(text(statement))
        with ledger.connect() as connection:
            rows = connection.execute(text("SELECT version, text FROM sop_versions")).all()
        assert [tuple(row) for row in rows] == [(1, V1)]

    def test_version_numbers_are_unique_per_sop(self, ledger: Engine) -> None:
        """The database refuses a second version 1 even when inserted behind our back."""
        with make_sessionmaker(ledger).begin() as session:
            registered(session)
        with pytest.raises(IntegrityError), make_sessionmaker(ledger).begin() as session:
            session.add(
                SopVersionRow(
                    sop_id="SOP-LST-001",
                    version=1,
                    text="x\n",
                    content_hash=content_hash("x"),
                    author="intruder",
                    effective_date=TODAY,
                    changelog="",
                    jira_key=None,
                    based_on_version=None,
                    published_at=NOW,
                )
            )


def audit_actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditRow.action).order_by(AuditRow.id)))


class TestImport:
    def test_new_files_are_imported_once(self, ledger: Engine, tmp_path: Path) -> None:
        """First run imports, later runs find every file unchanged; new files join later."""
        (tmp_path / "a.md").write_text(sop_file())
        (tmp_path / "README.md").write_text("# How to write SOP files\n")
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            first = import_sops(session, tmp_path, NOW)
        with sessions.begin() as session:
            second = import_sops(session, tmp_path, NOW)
        (tmp_path / "b.md").write_text(sop_file("SOP-LST-002"))
        with sessions.begin() as session:
            third = import_sops(session, tmp_path, NOW)
            versions = list_versions(session, "SOP-LST-001")
            record = get_sop(session, "SOP-LST-001")
            actions = audit_actions(session)
        assert (first.new, first.unchanged, first.invalid) == (("SOP-LST-001",), (), ())
        assert (second.new, second.unchanged) == ((), ("SOP-LST-001",))
        assert (third.new, third.unchanged) == (("SOP-LST-002",), ("SOP-LST-001",))
        assert [(v.version, v.text, v.jira_key) for v in versions] == [(1, V1, None)]
        assert versions[0].effective_date == date(2026, 7, 1)
        assert (record.meta, record.source_path) == (META, "a.md")
        assert actions == ["sop_imported", "sop_imported"]

    def test_a_file_changed_on_disk_is_reported_not_applied(
        self, ledger: Engine, tmp_path: Path
    ) -> None:
        """The registry keeps its text; the change is audited once per distinct content."""
        path = tmp_path / "a.md"
        path.write_text(sop_file())
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            import_sops(session, tmp_path, NOW)
        path.write_text(sop_file(body=V1 + "\nEdited on disk.\n"))
        reports = []
        for _ in range(2):
            with sessions.begin() as session:
                reports.append(import_sops(session, tmp_path, NOW))
        path.write_text(sop_file(owner="content_experts"))
        with sessions.begin() as session:
            reports.append(import_sops(session, tmp_path, NOW))
            versions = list_versions(session, "SOP-LST-001")
            actions = audit_actions(session)
        assert [len(r.changed_on_disk) for r in reports] == [1, 1, 1]
        assert [r.changed_on_disk[0].newly_reported for r in reports] == [True, False, True]
        assert [(v.version, v.text) for v in versions] == [(1, V1)]
        assert actions == ["sop_imported", *["sop_file_change_ignored"] * 2]
        assert "SOPs change only through a request" in "\n".join(reports[0].lines())

    def test_line_endings_or_an_exported_version_are_not_changes(
        self, ledger: Engine, tmp_path: Path
    ) -> None:
        """CRLF checkouts and an export of a registry version over the file stay quiet."""
        path = tmp_path / "a.md"
        path.write_text(sop_file())
        sessions = make_sessionmaker(ledger)
        with sessions.begin() as session:
            import_sops(session, tmp_path, NOW)
            publish(session, V1 + "\nTwo.\n", base=1)
        path.write_bytes(sop_file().replace("\n", "\r\n").encode())
        with sessions.begin() as session:
            crlf = import_sops(session, tmp_path, NOW)
            exported = render_sop_markdown(
                get_sop(session, "SOP-LST-001").meta,
                latest_version(session, "SOP-LST-001"),
                exported_at=NOW,
            )
        path.write_text(exported)
        with sessions.begin() as session:
            after_export = import_sops(session, tmp_path, NOW)
        assert crlf.unchanged == after_export.unchanged == ("SOP-LST-001",)

    def test_bad_files_are_reported_and_the_rest_imported(
        self, ledger: Engine, tmp_path: Path
    ) -> None:
        """An invalid file or a duplicate id is a located problem; good files still import."""
        (tmp_path / "a.md").write_text(sop_file())
        (tmp_path / "b.md").write_text(sop_file())  # same id again
        (tmp_path / "c.md").write_text(sop_file("SOP-LST-003", owner="listing_expert"))
        (tmp_path / "d.md").write_bytes(b"---\nid: \xff\n---\n")
        rules = load_rules(DEFAULT_RULES)
        with make_sessionmaker(ledger).begin() as session:
            report = import_sops(session, tmp_path, NOW, rules=rules)
        assert report.new == ("SOP-LST-001",)
        located = [(Path(p.source).name, p.line, p.where) for p in report.invalid]
        assert located == [("b.md", 2, "id"), ("c.md", 4, "owner_team"), ("d.md", 2, "")]
        assert "did you mean `listing_experts`" in report.invalid[1].hint
        assert "also defined in a.md" in report.invalid[0].message

    def test_missing_directory_is_a_problem_not_a_crash(
        self, ledger: Engine, tmp_path: Path
    ) -> None:
        """A wrong `sops.directory` is reported."""
        with make_sessionmaker(ledger).begin() as session:
            report = import_sops(session, tmp_path / "nope", NOW)
        assert [p.message for p in report.invalid] == ["no SOP directory"]

    def test_the_packaged_sops_import_cleanly(self, ledger: Engine) -> None:
        """The shipped examples are valid against the shipped rules."""
        with make_sessionmaker(ledger).begin() as session:
            report = import_sops(session, PACKAGED_SOPS, NOW, rules=load_rules(DEFAULT_RULES))
            count = session.scalar(select(func.count()).select_from(SopVersionRow))
        assert report.invalid == ()
        assert count is not None and len(report.new) == count >= 3


class TestFrontMatter:
    RULES = load_rules(DEFAULT_RULES)

    @pytest.mark.parametrize(
        ("content", "line", "where", "message"),
        [
            ("# no front matter\n", 1, "", "does not start with front matter"),
            ("---\nid: SOP-LST-001\n", 1, "", "never closed"),
            (sop_file().replace("SOP-LST-001", "SOP-1"), 2, "id", "not an SOP id"),
            (sop_file().replace("[MY, SG]", "[MY, sg]"), 6, "markets[1]", "two-letter"),
            (sop_file().replace("[MY, SG]", "[MY, MY]"), 6, "markets", "listed twice"),
            (sop_file().replace("[MY, SG]", "[MY, XX]"), 6, "markets[1]", "not defined"),
            (sop_file().replace("2026-07-01", "2026-02-30"), 7, "front matter", "day is out"),
            (sop_file().replace("2026-07-01", "soon"), 7, "effective_date", "valid date"),
            (sop_file().replace("title: Prohibited items\n", ""), 1, "title", "is missing"),
            (sop_file().replace("domain:", "domian:"), 5, "domian", "not a front matter key"),
            (sop_file().replace("domain:", "domian:"), 1, "domain", "is missing"),
            (sop_file().replace("domain: product_listing", "id: again"), 5, "id", "given twice"),
            (
                sop_file().replace("title: Prohibited items", "title: [unclosed"),
                4,
                "front matter",
                "",
            ),
            (sop_file(body=""), 8, "", "no SOP text"),
        ],
    )
    def test_problems_name_the_line(
        self, content: str, line: int, where: str, message: str
    ) -> None:
        """Each kind of bad front matter gives a ConfigError at the right line, no traceback."""
        with pytest.raises(ConfigError) as exc:
            parse_sop_markdown(content, source="x.md", rules=self.RULES)
        found = [(p.source, p.line, p.where) for p in exc.value.problems if message in p.message]
        assert ("x.md", line, where) in found

    def test_export_round_trips(self) -> None:
        """An exported version reads back as the same metadata, date and text."""
        meta = META.model_copy(update={"title": "Prohibited items: MY & SG #1"})
        version = SopVersion(
            sop_id=meta.id,
            version=4,
            text=V1,
            content_hash=content_hash(V1),
            author="U0EX00003",
            effective_date=date(2026, 12, 1),
            changelog="x",
            jira_key="MODREQ-9",
            based_on_version=3,
            published_at=NOW,
        )
        exported = render_sop_markdown(meta, version, exported_at=NOW)
        front, body = parse_sop_markdown(exported, source="x.md", rules=self.RULES)
        assert front.model_dump(exclude={"effective_date"}) == meta.model_dump()
        assert (front.effective_date, body) == (date(2026, 12, 1), V1)
        assert "# version 4, sha256 " + content_hash(V1) in exported
