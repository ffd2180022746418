"""FollowUps: jobs wait for the answers still owed, but never longer than `max_wait`."""

from __future__ import annotations

import threading

from integrations.follow_ups import QUIET_PERIOD_S, FollowUps


def test_a_job_runs_at_once_when_nothing_is_being_answered() -> None:
    with FollowUps(workers=1, max_wait=3600) as follow_ups:
        assert follow_ups.submit(lambda: "done").result(timeout=5) == "done"


def test_a_job_waits_until_the_answers_are_out() -> None:
    started = threading.Event()
    with FollowUps(workers=1, max_wait=3600) as follow_ups:
        with follow_ups.answering():
            with follow_ups.answering():
                done = follow_ups.submit(started.set)
                assert follow_ups.answering_now == 2
            # One answer is still owed: the job holds.
            assert not started.wait(0.3)
        done.result(timeout=5)
        assert started.is_set()
        assert follow_ups.answering_now == 0


def test_a_job_waits_no_longer_than_max_wait_under_steady_load() -> None:
    started = threading.Event()
    with FollowUps(workers=1, max_wait=0.05) as follow_ups, follow_ups.answering():
        follow_ups.submit(started.set)
        # Still answering, yet the job started once its bound ran out.
        assert started.wait(5)
        assert follow_ups.answering_now == 1


def test_the_bound_counts_from_submission_not_from_the_start_of_the_wait() -> None:
    """A job queued behind a slow one does not wait its full bound again."""
    now = [0.0]
    release = threading.Event()
    second = threading.Event()
    with FollowUps(workers=1, max_wait=10, monotonic=lambda: now[0]) as follow_ups:
        follow_ups.submit(release.wait, 5)
        with follow_ups.answering():
            follow_ups.submit(second.set)
            now[0] = 11.0  # the second job's bound is over before a worker is free
            release.set()
            assert second.wait(5)


def test_join_waits_for_every_job_submitted() -> None:
    release = threading.Event()
    with FollowUps(workers=2, max_wait=0) as follow_ups:
        follow_ups.submit(release.wait, 5)
        follow_ups.submit(lambda: None)
        assert not follow_ups.join(timeout=0.1)
        release.set()
        assert follow_ups.join(timeout=5)


def test_a_job_waits_for_a_quiet_moment_after_the_last_answer() -> None:
    """Requests of a burst come with gaps between them: a gap is not yet quiet."""
    now = [0.0]
    started = threading.Event()
    with FollowUps(workers=1, max_wait=3600, monotonic=lambda: now[0]) as follow_ups:
        with follow_ups.answering():
            pass
        follow_ups.submit(started.set)
        assert not started.wait(0.3)
        now[0] = QUIET_PERIOD_S + 0.001
        assert started.wait(5)
