"""SLA clocks through the lifecycle, and the watchdog firing them, on SQLite and PostgreSQL.

The module also holds the small world the other SLA tests share: rules with an expert team
and two sign-off teams on Kuala Lumpur and Manila calendars, and `World`, which moves one
request through the lifecycle (`domain.lifecycle.apply`) and calls `sync_clocks` after each
event the way intake and `advance` do.
"""

from __future__ import annotations

import io
import itertools
import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, select, update
from sqlalchemy.orm import Session, sessionmaker

from domain.assessment import Assessment, Recommendation, Risk
from domain.calendar import BusinessCalendar
from domain.lifecycle import (
    AskRequester,
    Cancel,
    Claim,
    Decide,
    Event,
    RequesterReplied,
    RequestState,
    SubmitAssessment,
    apply,
    begin,
)
from domain.notices import Notice, StageChanged
from domain.people import Person
from domain.rules import (
    Calendar,
    EscalationAction,
    EscalationStep,
    Hours,
    JiraRules,
    Quorum,
    QuorumKind,
    Route,
    Rules,
    SignOff,
    SlaPolicy,
    Team,
)
from domain.signoff import Verdict
from domain.sla import SlaClock
from domain.stages import Stage
from govflow.clock_schedules import derived_columns, thresholds_of
from govflow.clock_sync import sync_clocks
from govflow.clock_text import clock_lines
from govflow.clock_text import when_text as _when
from govflow.sla_watchdog import WatchdogReport, fire_due, sweep_due
from integrations.calendars import CalendarBook, _zone_data
from integrations.db.engine import make_sessionmaker
from integrations.db.models import AuditRow, OutboxRow, RequestRow, SlaClockRow
from integrations.db.requests import ensure_request, lock_request
from integrations.delivery import EffectKind

# Tuesday 1 December 2026, 10:00 in Kuala Lumpur and Manila (both UTC+8).
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)

ELENA = Person(slack_id="U0EX00001", name="Elena Petrova")
PRIYA = Person(slack_id="U0QA00001", name="Priya Raman")
GRACE = Person(slack_id="U0BP00001", name="Grace Okafor")
CHLOE = Person(email="chloe.tan@example.com", jira_account_id="jira-chloe", name="Chloe Tan")

ESCALATION = [
    EscalationStep(at=0.5, actions=[EscalationAction.REMIND_ASSIGNEE]),
    EscalationStep(at=0.75, actions=[EscalationAction.DM_LEAD]),
    EscalationStep(
        at=1.0,
        actions=[EscalationAction.CHANNEL_POST, EscalationAction.JIRA_BREACH],
        bump_priority=True,
    ),
]
# BPO has its own chain: its lead hears at half time, and breaches carry their own label.
BPO_ESCALATION = [
    EscalationStep(at=0.5, actions=[EscalationAction.DM_LEAD]),
    EscalationStep(
        at=1.0,
        actions=[EscalationAction.JIRA_BREACH],
        jira_label="sla-breached-bpo",
    ),
]


def make_rules() -> Rules:
    """Experts and QA in Kuala Lumpur (1d expert review, 2d sign-off), BPO in Manila (4h)."""
    return Rules(
        jira=JiraRules(projects=["MODREQ"]),
        fields={},
        request_types={},
        domains={},
        markets=["MY"],
        calendars={
            "kuala_lumpur": Calendar(timezone="Asia/Kuala_Lumpur", country="MY"),
            "manila": Calendar(
                timezone="Asia/Manila",
                country="PH",
                workdays=["mon", "tue", "wed", "thu", "fri", "sat"],
                hours=Hours.model_validate({"start": "08:00", "end": "20:00"}),
            ),
        },
        teams={
            "experts": Team(
                name="Listing Experts",
                slack_channel="C0EX00001",
                roster=["U0EX00001", "U0EX00002"],
                leads=["U0EX00001"],
                calendar="kuala_lumpur",
            ),
            "qa": Team(
                name="QA",
                slack_channel="C0QA00001",
                roster=["U0QA00001", "U0QA00002"],
                leads=["U0QA00001"],
                calendar="kuala_lumpur",
            ),
            "bpo": Team(
                name="BPO Ops",
                slack_channel="C0BP00001",
                roster=["U0BP00001"],
                leads=["U0BP00001"],
                calendar="manila",
                escalation=BPO_ESCALATION,
            ),
        },
        sla_policies={
            "standard": SlaPolicy.model_validate(
                {
                    "targets": {
                        "EXPERT_REVIEW": {"P3": "1d"},
                        "SIGN_OFF": {"P3": "2d"},
                        "SOP_UPDATE": {"P3": "1d"},
                    },
                    "warn_at": [0.5, 0.75],
                    "escalation": ESCALATION,
                }
            )
        },
        routing=[ROUTE],
    )


ROUTE = Route(
    name="listing",
    expert_team="experts",
    signoff=[
        SignOff(team="qa", quorum=Quorum(kind=QuorumKind.ANY)),
        SignOff(team="bpo", quorum=Quorum(kind=QuorumKind.ANY), sla="4h"),
    ],
    sla_policy="standard",
)
RULES = make_rules()
_IDS = itertools.count(1)


@dataclass
class World:
    """One request in a migrated ledger, moved by events like `advance` would move it."""

    sessions: sessionmaker[Session]
    rules: Rules
    key: str
    request_id: int
    state: RequestState

    @classmethod
    def routed(
        cls,
        engine: Engine,
        key: str = "MODREQ-12",
        now: datetime = T0,
        *,
        rules: Rules = RULES,
        route: Route = ROUTE,
    ) -> World:
        """A request just routed to expert review, its clocks synced as intake does."""
        sessions = make_sessionmaker(engine)
        state = begin(key, CHLOE, route, rules, now)
        with sessions.begin() as session:
            ensure_request(
                session,
                jira_key=key,
                jira_id=key.rsplit("-", 1)[1],
                project="MODREQ",
                jira_updated=now,
                stage=Stage.RECEIVED,
                now=now,
            )
            row = lock_request(session, key)
            row.route_name, row.expert_team, row.priority = route.name, route.expert_team, "P3"
            row.state, row.stage = state.model_dump(mode="json"), state.stage.value
            routed = StageChanged(
                from_stage=Stage.RECEIVED, to_stage=Stage.EXPERT_REVIEW, reason="routed"
            )
            sync_clocks(session, row, state, [routed], rules, now)
            request_id = row.id
        return cls(sessions, rules, key, request_id, state)

    def send(self, event: Event, now: datetime) -> list[str]:
        """Apply `event` at `now`, store the state, sync the clocks; the sync's lines."""
        outcome = apply(self.state, event, self.rules, [], now)
        self.state = outcome.state
        return self.sync(outcome.notices, now)

    def sync(self, notices: Sequence[Notice], now: datetime) -> list[str]:
        """Call `sync_clocks` on the current state, as `advance` does after applying."""
        with self.sessions.begin() as session:
            row = lock_request(session, self.key)
            row.state, row.stage = self.state.model_dump(mode="json"), self.state.stage.value
            return sync_clocks(session, row, self.state, notices, self.rules, now)

    def meta(self, who: Person, now: datetime) -> dict[str, object]:
        return {"event_id": f"ev-{next(_IDS)}", "actor": who, "at": now}

    def to_signoff(self, now: datetime) -> list[str]:
        """Elena claims and recommends the change: sign-off round 1 opens."""
        self.send(Claim.model_validate(self.meta(ELENA, now)), now)
        assessment = Assessment(
            recommendation=Recommendation.PROCEED,
            risk=Risk.LOW,
            proposed_change="Refurbished phones need a grading certificate.",
            affected_sops=["SOP-LST-001"],
            rationale="Appeals on refurbished phones doubled.",
            author=ELENA,
            submitted_at=now,
        )
        event = {**self.meta(ELENA, now), "assessment": assessment}
        return self.send(SubmitAssessment.model_validate(event), now)

    def decide(
        self, who: Person, team: str, now: datetime, verdict: Verdict = Verdict.APPROVE
    ) -> list[str]:
        reason = "" if verdict is Verdict.APPROVE else "Needs the certificate list."
        fields = {"team": team, "verdict": verdict, "reason": reason}
        return self.send(Decide.model_validate({**self.meta(who, now), **fields}), now)

    def ask(self, now: datetime) -> list[str]:
        event = {**self.meta(ELENA, now), "question": "Which markets?"}
        return self.send(AskRequester.model_validate(event), now)

    def reply(self, now: datetime) -> list[str]:
        event = {**self.meta(CHLOE, now), "body": "Only MY.", "comment_id": f"c{next(_IDS)}"}
        return self.send(RequesterReplied.model_validate(event), now)

    def cancel(self, now: datetime) -> list[str]:
        event = {**self.meta(CHLOE, now), "reason": "No longer needed"}
        return self.send(Cancel.model_validate(event), now)

    def fire(self, now: datetime, limit: int = 100) -> WatchdogReport:
        """One watchdog sweep at `now`, committed."""
        with self.sessions.begin() as session:
            return fire_due(session, self.rules, now, limit)

    def clocks(self) -> dict[tuple[str, str, int], SlaClockRow]:
        """The request's clocks by (stage, team, round)."""
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(SlaClockRow).where(SlaClockRow.request_id == self.request_id)
            ).all()
            return {(r.stage, r.team, r.round): r for r in rows}

    def effects(self, kind: str | None = None) -> list[OutboxRow]:
        """The request's outbox rows in order, optionally of one kind."""
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(OutboxRow)
                .where(OutboxRow.request_id == self.request_id)
                .order_by(OutboxRow.id)
            ).all()
            return [r for r in rows if kind is None or r.kind == kind]

    def audits(self, *actions: str) -> list[AuditRow]:
        """The request's audit records with these actions, in order."""
        with self.sessions.begin() as session:
            rows = session.scalars(
                select(AuditRow)
                .where(AuditRow.request_id == self.request_id, AuditRow.action.in_(actions))
                .order_by(AuditRow.id)
            ).all()
            return list(rows)


EXPERT = ("EXPERT_REVIEW", "experts", 0)
QA = ("SIGN_OFF", "qa", 1)
BPO = ("SIGN_OFF", "bpo", 1)


def at_kl(day: int, hour: int, minute: int = 0) -> datetime:
    """A December 2026 wall-clock time in Kuala Lumpur (and Manila), as UTC."""
    return datetime(2026, 12, day, hour, minute, tzinfo=UTC) - 8 * HOUR


class TestStarting:
    def test_routing_starts_the_expert_clock_on_its_team_calendar(self, ledger: Engine) -> None:
        """1d of expert review from Tuesday 10:00 is due Wednesday 10:00 in Kuala Lumpur."""
        world = World.routed(ledger)

        clock = world.clocks()[EXPERT]
        assert (clock.status, clock.calendar, clock.sla_policy) == (
            "running",
            "kuala_lumpur",
            "standard",
        )
        assert clock.due_at == at_kl(2, 10)
        assert clock.next_due_at == at_kl(1, 14, 30)  # half of the 9h working day
        assert [a.action for a in world.audits("clock_started")] == ["clock_started"]

    def test_routing_sets_the_jira_due_date(self, ledger: Engine) -> None:
        """The due-date field gets the local date of the earliest running clock."""
        world = World.routed(ledger)

        [due] = world.effects(EffectKind.JIRA_FIELDS)
        assert due.payload == {"fields": {"duedate": "2026-12-02"}}

    def test_syncing_the_same_state_again_writes_nothing(self, ledger: Engine) -> None:
        """Repeating the hook (a re-run advance) adds no clock, audit record or effect."""
        world = World.routed(ledger)
        before = (world.clocks(), len(world.effects()), len(world.audits("clock_started")))

        assert world.sync([], T0 + HOUR) == []
        assert world.sync([], T0 + 2 * HOUR) == []

        after = (world.clocks(), len(world.effects()), len(world.audits("clock_started")))
        assert [c.clock for c in after[0].values()] == [c.clock for c in before[0].values()]
        assert after[1:] == before[1:]

    def test_signoff_opens_one_clock_per_team_and_stops_the_expert_clock(
        self, ledger: Engine
    ) -> None:
        """QA gets the policy's 2d on its calendar; BPO its own 4h override on Manila's."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        clocks = world.clocks()
        assert clocks[EXPERT].status == "stopped"
        assert clocks[EXPERT].next_due_at is None
        assert clocks[EXPERT].due_at == at_kl(2, 10)  # kept, to tell whether it was met
        assert clocks[QA].status == clocks[BPO].status == "running"
        assert clocks[QA].due_at == at_kl(3, 12)  # 6h Tue + 9h Wed + 3h Thu
        assert (clocks[BPO].calendar, clocks[BPO].due_at) == ("manila", at_kl(1, 16))

    def test_a_team_that_signs_off_stops_only_its_clock(self, ledger: Engine) -> None:
        """QA's approval stops QA's clock; BPO's keeps running."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        lines = world.decide(PRIYA, "qa", T0 + 3 * HOUR)

        clocks = world.clocks()
        assert (clocks[QA].status, clocks[BPO].status) == ("stopped", "running")
        assert lines == ["stopped QA sign-off clock (round 1): qa signed off round 1"]

    def test_changes_requested_ends_the_round_and_starts_a_new_expert_clock(
        self, ledger: Engine
    ) -> None:
        """Back in expert review (round 1), with a fresh full target."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        world.decide(PRIYA, "qa", T0 + 3 * HOUR, Verdict.REQUEST_CHANGES)

        clocks = world.clocks()
        assert clocks[QA].status == clocks[BPO].status == "stopped"
        again = clocks[("EXPERT_REVIEW", "experts", 1)]
        assert (again.status, again.due_at) == ("running", at_kl(2, 13))

    def test_cancelling_stops_every_clock_and_clears_the_due_date(self, ledger: Engine) -> None:
        """Terminal stages leave nothing running and nothing due in Jira."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        world.cancel(T0 + 3 * HOUR)

        assert {c.status for c in world.clocks().values()} == {"stopped"}
        assert world.effects(EffectKind.JIRA_FIELDS)[-1].payload == {"fields": {"duedate": None}}


class TestPausing:
    def test_needs_info_pauses_every_running_clock(self, ledger: Engine) -> None:
        """Both sign-off clocks pause; a paused clock has nothing to fire (next_due_at NULL)."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        world.ask(T0 + 3 * HOUR)

        clocks = world.clocks()
        assert clocks[QA].status == clocks[BPO].status == "paused"
        assert clocks[QA].next_due_at is None and clocks[BPO].next_due_at is None
        assert len(world.audits("clock_paused")) == 2
        assert world.effects(EffectKind.JIRA_FIELDS)[-1].payload == {"fields": {"duedate": None}}

    def test_clocks_stand_still_while_waiting(self, ledger: Engine) -> None:
        """Days later the watchdog finds nothing due: the pause is not counted."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)
        world.ask(T0 + 3 * HOUR)

        report = world.fire(T0 + timedelta(days=3))

        assert report.selected == 0
        assert world.audits("sla_warning", "sla_breach") == []

    def test_the_answer_resumes_them_with_their_due_times_pushed_out(self, ledger: Engine) -> None:
        """Paused Tuesday 11:00 to Thursday 10:00: the counted hour stays, the rest follows."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)  # Tue 12:00
        world.ask(T0 + 3 * HOUR)  # Tue 13:00: QA and BPO have counted 1h each

        world.reply(at_kl(3, 10))

        clocks = world.clocks()
        assert clocks[QA].status == clocks[BPO].status == "running"
        assert clocks[BPO].due_at == at_kl(3, 13)  # 3h left, on Manila's 08:00-20:00
        assert clocks[QA].due_at == at_kl(4, 18)  # 17h left: 8h Thu, 9h Fri
        assert len(world.audits("clock_resumed")) == 2

    def test_pausing_twice_changes_nothing(self, ledger: Engine) -> None:
        """A repeated sync while waiting writes no second pause."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)
        world.ask(T0 + 3 * HOUR)

        assert world.sync([], T0 + 5 * HOUR) == []
        assert len(world.audits("clock_paused")) == 2


class TestFiring:
    def test_each_threshold_fires_once_however_often_the_watchdog_runs(
        self, ledger: Engine
    ) -> None:
        """Five sweeps after the breach: one warning per warn_at, one breach, one set of effects."""
        world = World.routed(ledger)

        reports = [world.fire(at_kl(3, 12)) for _ in range(5)]

        assert [r.fired for r in reports] == [3, 0, 0, 0, 0]
        kinds = Counter(e.kind for e in world.effects() if ":sla:" in e.idempotency_key)
        assert kinds == {
            EffectKind.SLACK_REPLY: 1,
            EffectKind.SLACK_DM: 1,
            EffectKind.SLACK_POST: 1,
            EffectKind.JIRA_LABEL: 1,
            EffectKind.JIRA_COMMENT: 1,
            EffectKind.JIRA_FIELDS: 1,
        }
        assert [a.action for a in world.audits("sla_warning", "sla_breach")] == [
            "sla_warning",
            "sla_warning",
            "sla_breach",
        ]
        assert world.clocks()[EXPERT].next_due_at is None

    def test_effects_carry_the_documented_keys_and_payloads(self, ledger: Engine) -> None:
        """Thread reminder, lead DM, team-channel post, breach label, comment and priority."""
        world = World.routed(ledger)
        world.send(Claim.model_validate(world.meta(ELENA, T0)), T0)
        clock_id = world.clocks()[EXPERT].id

        world.fire(at_kl(3, 12))

        effects = {e.idempotency_key: e for e in world.effects() if ":sla:" in e.idempotency_key}
        prefix = f"MODREQ-12:sla:{clock_id}"
        assert sorted(effects) == sorted(
            [
                f"{prefix}:0.5:remind_assignee",
                f"{prefix}:0.75:dm_lead:U0EX00001",
                f"{prefix}:1:channel_post",
                f"{prefix}:1:jira_breach:label",
                f"{prefix}:1:jira_breach:comment",
                f"{prefix}:1:jira_breach:priority",
            ]
        )
        remind = effects[f"{prefix}:0.5:remind_assignee"]
        assert remind.kind == EffectKind.SLACK_REPLY and "<@U0EX00001>" in remind.payload["text"]
        assert effects[f"{prefix}:0.75:dm_lead:U0EX00001"].payload["user"] == "U0EX00001"
        assert effects[f"{prefix}:1:channel_post"].payload["channel"] == "C0EX00001"
        assert effects[f"{prefix}:1:jira_breach:label"].payload == {"label": "sla-breached"}
        assert effects[f"{prefix}:1:jira_breach:priority"].payload == {
            "fields": {"priority": {"name": "High"}}
        }

    def test_a_signoff_reminder_names_only_who_has_yet_to_decide(self, ledger: Engine) -> None:
        """QA needs everyone: Priya approved, so half time reminds her colleague alone."""
        all_qa = SignOff(team="qa", quorum=Quorum(kind=QuorumKind.ALL))
        route = ROUTE.model_copy(update={"signoff": [all_qa, *ROUTE.signoff[1:]]})
        rules = RULES.model_copy(update={"routing": [route]})
        world = World.routed(ledger, rules=rules, route=route)
        world.to_signoff(T0 + 2 * HOUR)  # QA 2d from Tue 12:00: half time Wed 12:00
        world.decide(PRIYA, "qa", T0 + 3 * HOUR)

        world.fire(at_kl(2, 12))

        qa_id = world.clocks()[QA].id
        [remind] = [e for e in world.effects() if f":sla:{qa_id}:0.5:" in e.idempotency_key]
        assert "<@U0QA00002>" in remind.payload["text"]
        assert "<@U0QA00001>" not in remind.payload["text"]

    def test_a_team_escalation_chain_replaces_the_policy_s(self, ledger: Engine) -> None:
        """BPO's own steps: its lead at half time, its own breach label, no priority bump."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)
        world.decide(PRIYA, "qa", T0 + 2 * HOUR)

        world.fire(at_kl(1, 19))

        bpo = [e for e in world.effects() if ":sla:" in e.idempotency_key]
        assert [(e.kind, e.payload.get("label")) for e in bpo] == [
            (EffectKind.SLACK_DM, None),
            (EffectKind.JIRA_LABEL, "sla-breached-bpo"),
            (EffectKind.JIRA_COMMENT, None),
        ]

    def test_a_late_watchdog_fires_every_skipped_threshold_in_order(self, ledger: Engine) -> None:
        """A clock that jumped forward gets 0.75 then 1.0 at once; backward gets nothing."""
        world = World.routed(ledger)

        first = world.fire(at_kl(1, 15))  # 5h of 9h: only the 0.5 warning
        late = world.fire(at_kl(7, 9))  # days later
        back = world.fire(at_kl(1, 17))  # the machine clock went back
        again = world.fire(at_kl(8, 9))

        assert (first.fired, late.fired, back.fired, again.fired) == (1, 2, 0, 0)
        thresholds = [a.detail["threshold"] for a in world.audits("sla_warning", "sla_breach")]
        assert thresholds == [0.5, 0.75, 1.0]

    def test_only_due_clocks_are_selected(self, ledger: Engine) -> None:
        """Before the first threshold the watchdog reads nothing."""
        world = World.routed(ledger)

        assert world.fire(at_kl(1, 14, 29)).selected == 0
        assert world.fire(at_kl(1, 14, 30)).fired == 1

    def test_a_paused_clock_still_fires_what_it_crossed_before_the_pause(
        self, ledger: Engine
    ) -> None:
        """BPO passed half time before the question; the warning is still owed once."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)  # BPO 4h from Tue 12:00, half time at 14:00
        world.ask(at_kl(1, 14, 30))

        report = world.fire(at_kl(2, 9))

        assert (report.fired, report.warnings) == (1, 1)
        assert world.clocks()[BPO].next_due_at is None

    def test_two_watchdogs_at_once_fire_each_threshold_once(self, ledger: Engine) -> None:
        """Concurrent sweeps split the due clocks (SKIP LOCKED) and never fire one twice."""
        if ledger.dialect.name != "postgresql":
            pytest.skip("row locks are a PostgreSQL matter; SQLite serializes writers")
        for n in range(40):
            World.routed(ledger, key=f"MODREQ-{100 + n}")
        sessions = make_sessionmaker(ledger)
        start = threading.Barrier(2)
        done: list[WatchdogReport] = []

        def watchdog() -> None:
            start.wait()
            while True:
                with sessions.begin() as session:
                    report = fire_due(session, RULES, at_kl(7, 9), limit=3)
                done.append(report)
                if report.selected == 0:
                    return

        threads = [threading.Thread(target=watchdog) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)

        assert sum(r.fired for r in done) == 40 * 3
        with sessions.begin() as session:
            fired = session.execute(
                select(AuditRow.detail).where(AuditRow.action.in_(["sla_warning", "sla_breach"]))
            ).scalars()
            per_threshold = Counter((d["clock_id"], d["threshold"]) for d in fired)
        assert len(per_threshold) == 40 * 3 and set(per_threshold.values()) == {1}


class TestSchedule:
    """Each clock carries its thresholds' instants, so a sweep needs no calendar arithmetic."""

    def test_a_started_clock_carries_every_threshold_s_instant(self, ledger: Engine) -> None:
        """1d from Tuesday 10:00 on a 9h day: half at 14:30, three quarters at 16:45, due Wed."""
        world = World.routed(ledger)

        schedule = world.clocks()[EXPERT].schedule
        assert schedule is not None
        assert schedule["at"] == [
            [0.5, at_kl(1, 14, 30).isoformat()],
            [0.75, at_kl(1, 16, 45).isoformat()],
            [1.0, at_kl(2, 10).isoformat()],
        ]
        assert schedule["basis"] == CalendarBook(RULES).basis("kuala_lumpur")

    def test_the_basis_covers_the_tz_data_the_zone_is_read_from(self) -> None:
        """A tz database update that moves a zone's offsets must invalidate its schedules."""
        data = _zone_data("Europe/Dublin")
        from_file = ZoneInfo.from_file(io.BytesIO(data))
        for instant in (datetime(2026, 1, 15, tzinfo=UTC), datetime(2026, 7, 15, tzinfo=UTC)):
            expected = instant.astimezone(ZoneInfo("Europe/Dublin")).utcoffset()
            assert instant.astimezone(from_file).utcoffset() == expected

    def test_a_resumed_clock_fires_at_its_pushed_out_instants(self, ledger: Engine) -> None:
        """BPO's half time moves from Tue 14:00 to Thu 11:00 with the pause; it fires then."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)  # BPO 4h from Tue 12:00 on Manila's 08:00-20:00
        world.ask(T0 + 3 * HOUR)  # 1h counted
        paused = world.fire(at_kl(2, 9))
        world.reply(at_kl(3, 10))

        early = world.fire(at_kl(3, 10, 59))
        on_time = world.fire(at_kl(3, 11))

        assert (paused.fired, early.selected, on_time.fired) == (0, 0, 1)
        [warning] = world.audits("sla_warning")
        assert (warning.detail["team"], warning.detail["threshold"]) == ("bpo", 0.5)
        bpo = world.clocks()[BPO]
        assert bpo.next_due_at == at_kl(3, 12)  # 0.75: 3h counted
        assert bpo.schedule is not None  # firing kept it as the resume worked it out
        assert bpo.schedule["at"][0] == [0.5, at_kl(3, 11).isoformat()]

    def test_a_calendar_change_in_the_rules_moves_what_fires_and_when(self, ledger: Engine) -> None:
        """Tuesday closed after the clock started: its schedule is worked out again, not used."""
        world = World.routed(ledger)  # half time Tue 14:30, as scheduled on the old calendar
        closed = Calendar(
            timezone="Asia/Kuala_Lumpur", country="MY", closed_dates=[date(2026, 12, 1)]
        )
        world.rules = RULES.model_copy(
            update={"calendars": {**RULES.calendars, "kuala_lumpur": closed}}
        )

        stale = world.fire(at_kl(1, 14, 30))
        moved = world.clocks()[EXPERT]
        early = world.fire(at_kl(2, 13, 29))
        on_time = world.fire(at_kl(2, 13, 30))  # 4.5h from Wednesday 09:00

        assert (stale.selected, stale.fired) == (1, 0)
        assert moved.next_due_at == at_kl(2, 13, 30)
        assert moved.due_at == at_kl(2, 18)  # 9h: all of Wednesday
        assert moved.schedule is not None
        assert moved.schedule["basis"] == CalendarBook(world.rules).basis("kuala_lumpur")
        assert (early.selected, on_time.fired) == (0, 1)

    def test_a_threshold_dropped_from_the_rules_no_longer_fires(self, ledger: Engine) -> None:
        """A policy that stops warning at half time: the stored 0.5 instant is not used."""
        world = World.routed(ledger)
        policy = RULES.sla_policies["standard"].model_copy(
            update={"warn_at": (0.75,), "escalation": ESCALATION[1:]}
        )
        world.rules = RULES.model_copy(update={"sla_policies": {"standard": policy}})

        report = world.fire(at_kl(1, 14, 30))

        assert (report.selected, report.fired) == (1, 0)
        assert world.clocks()[EXPERT].next_due_at == at_kl(1, 16, 45)

    def test_a_clock_from_before_schedules_gets_one_on_its_first_sweep(
        self, ledger: Engine
    ) -> None:
        """A NULL schedule (migration 0005 on an existing ledger): worked out, fired, stored."""
        world = World.routed(ledger)
        expected = world.clocks()[EXPERT].schedule
        with world.sessions.begin() as session:
            session.execute(update(SlaClockRow).values(schedule=None))

        early = world.fire(at_kl(1, 14, 29))
        on_time = world.fire(at_kl(1, 14, 30))

        assert (early.selected, on_time.fired) == (0, 1)
        row = world.clocks()[EXPERT]
        assert row.schedule == expected
        clock = SlaClock.model_validate(row.clock)
        thresholds = thresholds_of(RULES, "standard", "experts", clock)
        book = CalendarBook(RULES)
        assert derived_columns(clock, book, "kuala_lumpur", thresholds) == (
            "running",
            row.next_due_at,
            row.due_at,
            row.schedule,
        )

    def test_a_clock_whose_calendar_left_the_rules_is_no_longer_watched(
        self, ledger: Engine
    ) -> None:
        """Nobody can say when it is due: audited once, then never selected again."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)
        calendars = {k: v for k, v in RULES.calendars.items() if k != "manila"}
        world.rules = RULES.model_copy(update={"calendars": calendars})

        first = world.fire(at_kl(2, 12))
        second = world.fire(at_kl(2, 13))

        assert (first.selected, second.selected) == (2, 0)
        [unwatched] = world.audits("sla_unwatched")
        assert unwatched.reason == "calendar 'manila' is not in the rules"
        clocks = world.clocks()
        assert clocks[BPO].next_due_at is None
        assert clocks[QA].next_due_at == at_kl(2, 16, 30)  # still watched: 0.75 of 18h
        assert clocks[BPO].schedule is not None and clocks[QA].schedule is not None


class TestSweeping:
    def test_a_sweep_runs_batches_until_nothing_is_due(self, ledger: Engine) -> None:
        """Five due clocks, two per transaction: three batches fire them all."""
        for n in range(5):
            World.routed(ledger, key=f"MODREQ-{200 + n}")

        report = sweep_due(make_sessionmaker(ledger), RULES, at_kl(1, 15), limit=2)

        assert (report.selected, report.fired) == (5, 5)
        assert sorted(report.keys) == [f"MODREQ-{200 + n}" for n in range(5)]

    def test_a_clock_the_rules_cannot_start_is_reported_once(self, ledger: Engine) -> None:
        """A route that left the rules: audited once per clock, however often the hook runs."""
        world = World.routed(ledger)
        with world.sessions.begin() as session:
            lock_request(session, world.key).route_name = "retired-route"
        world.to_signoff(T0 + HOUR)
        world.sync([], T0 + 2 * HOUR)

        audits = world.audits("clock_not_started")
        assert [a.detail["team"] for a in audits] == ["qa", "bpo"]
        assert audits[0].reason == "route 'retired-route' is not in the rules"
        assert {k[0] for k in world.clocks()} == {"EXPERT_REVIEW"}


class TestReport:
    def test_batches_fold_into_one_report_naming_each_request_once(self) -> None:
        """Counts add up; keys keep their first-seen order without repeats, across batches."""
        total = WatchdogReport(keys=["MODREQ-1"])
        total.note("MODREQ-2")
        total.note("MODREQ-1")
        total.add(WatchdogReport(selected=2, fired=3, keys=["MODREQ-3", "MODREQ-2"]))
        total.add(WatchdogReport(selected=1, fired=1, keys=["MODREQ-3", "MODREQ-4"]))

        assert total.keys == ["MODREQ-1", "MODREQ-2", "MODREQ-3", "MODREQ-4"]
        assert (total.selected, total.fired) == (3, 4)


class TestWording:
    @pytest.mark.parametrize(
        "zone",
        ["Asia/Kuala_Lumpur", "Europe/Dublin", "Asia/Kathmandu", "America/St_Johns", "UTC"],
    )
    def test_due_times_read_as_strftime_would_write_them(self, zone: str) -> None:
        """Day, date, month, time and zone name, on both sides of a DST change, every month."""
        calendar = BusinessCalendar(timezone=zone)
        for n in range(0, 366 * 24, 37):
            t = datetime(2026, 1, 1, 0, 7, tzinfo=UTC) + timedelta(hours=n)
            local = t.astimezone(ZoneInfo(zone))
            name = local.strftime("%Z")
            if name[:1] in "+-":
                minutes = int(local.utcoffset().total_seconds() // 60)  # type: ignore[union-attr]
                hours, rest = divmod(abs(minutes), 60)
                sign = "+" if minutes >= 0 else "-"
                name = f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")
            expected = f"{local:%a} {local.day} {local:%b %H:%M} {name}"
            assert _when(t, calendar) == expected
        assert _when(T0, None) == "Tue 1 Dec 02:00 UTC"


class TestClockLines:
    def test_one_line_per_open_clock_with_its_state(self, ledger: Engine) -> None:
        """Running clocks show the due time on the team's wall clock and how they stand."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)

        with world.sessions.begin() as session:
            lines = clock_lines(session, world.request_id, RULES, at_kl(1, 14, 30))

        assert lines == [
            "QA sign-off due Thu 3 Dec 12:00 UTC+8 · on track",
            "BPO Ops sign-off due Tue 1 Dec 16:00 PST · at risk",
        ]

    def test_paused_clocks_say_how_much_is_left(self, ledger: Engine) -> None:
        """While waiting for the requester the due time is unknown; the time left is not."""
        world = World.routed(ledger)
        world.to_signoff(T0 + 2 * HOUR)
        world.ask(T0 + 3 * HOUR)

        with world.sessions.begin() as session:
            lines = clock_lines(session, world.request_id, RULES, at_kl(2, 10))

        assert lines == [
            "QA sign-off paused · 17h of 2d left",
            "BPO Ops sign-off paused · 3h of 4h left",
        ]


def test_request_rows_keep_their_priority_after_a_bump(ledger: Engine) -> None:
    """The Jira priority is bumped; the ledger's (and so every SLA target) stays as routed."""
    world = World.routed(ledger)
    world.fire(at_kl(3, 12))

    with world.sessions.begin() as session:
        assert session.get(RequestRow, world.request_id).priority == "P3"  # type: ignore[union-attr]
