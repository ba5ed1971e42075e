"""The look policy, on a clock the tests move: what follows each look, for every kind of answer."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError

from airflow_provider_optjob.model.api_errors import ApiErrorKind, backoff_cap
from airflow_provider_optjob.model.look_policy import LookPolicy, NextStep, Verdict


class Clock:
    """Seconds that move only when the test says so."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def client_error(code: str, message: str = "", http_status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": http_status}},
        "DescribeOptimizationJob",
    )


THROTTLED = client_error("ThrottlingException", "Rate exceeded")
NOT_FOUND = client_error("ResourceNotFound", "Could not find job")
DENIED = client_error("AccessDeniedException", "not authorized", 403)


@pytest.fixture
def clock() -> Clock:
    return Clock()


def policy(clock: Clock, *, timeout: float = 100.0, interval: float = 10.0, grace: float = 30.0) -> LookPolicy:
    return LookPolicy.for_timeout(
        "job-a", poll_interval=interval, not_found_grace_period=grace, timeout=timeout, clock=clock
    )


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        ("COMPLETED", Verdict.FINISHED),
        ("FAILED", Verdict.FINISHED),
        ("STOPPED", Verdict.FINISHED),
        ("STARTING", Verdict.LOOK_AGAIN),
        ("INPROGRESS", Verdict.LOOK_AGAIN),
        ("STOPPING", Verdict.LOOK_AGAIN),
        ("PAUSED", Verdict.LOOK_AGAIN),  # a status the API may add later keeps the wait going
        (None, Verdict.LOOK_AGAIN),
    ],
)
def test_each_status_finishes_the_wait_or_looks_again_after_the_interval(clock, status, verdict):
    step = policy(clock).after_status(status)

    assert step.verdict is verdict
    if verdict is Verdict.LOOK_AGAIN:
        assert (step.delay, step.regular, step.kind) == (10.0, True, None)


@pytest.mark.parametrize(
    "error",
    [
        THROTTLED,
        client_error("InternalFailure", "", 500),
        client_error("Odd", "", 503),
        EndpointConnectionError(endpoint_url="http://x"),
    ],
)
def test_transient_errors_back_off_more_with_each_failure_in_a_row(clock, error):
    waiting = policy(clock, timeout=10_000.0)

    delays = [waiting.after_error(error).delay for _ in range(6)]

    assert [1 <= d / 10.0 <= 2**n for n, d in enumerate(delays, start=1)] == [True] * 6
    assert max(delays) <= backoff_cap(10.0)
    assert waiting.after_error(error).kind is ApiErrorKind.TRANSIENT


def test_a_look_that_sees_the_job_resets_the_backoff(clock):
    waiting = policy(clock, timeout=10_000.0)
    for _ in range(5):
        waiting.after_error(THROTTLED)

    waiting.after_status("INPROGRESS")

    assert waiting.failures_in_a_row == 0
    assert waiting.after_error(THROTTLED).delay <= 20.0


def test_throttling_never_ends_the_wait_before_the_deadline(clock):
    waiting = policy(clock, timeout=300.0)
    steps: list[NextStep] = []
    while not steps or steps[-1].verdict is Verdict.LOOK_AGAIN:
        steps.append(waiting.after_error(THROTTLED))
        clock.advance(steps[-1].delay)

    assert steps[-1].verdict is Verdict.TIMED_OUT
    assert clock.now == pytest.approx(1300.0)  # the last pause ended on the deadline, not past it
    assert len(steps) > 3


def test_not_found_looks_again_within_the_grace_period_then_fails_on_its_end(clock):
    waiting = policy(clock, interval=10.0, grace=25.0)

    first = waiting.after_error(NOT_FOUND)
    clock.advance(first.delay)
    second = waiting.after_error(NOT_FOUND)
    clock.advance(second.delay)
    third = waiting.after_error(NOT_FOUND)
    clock.advance(third.delay)
    last = waiting.after_error(NOT_FOUND)

    assert [first.delay, second.delay, third.delay] == [10.0, 10.0, 5.0]  # the last look falls on the grace end
    assert last.verdict is Verdict.FAILED
    assert last.kind is ApiErrorKind.NOT_FOUND
    assert "'job-a' does not exist" in last.message
    assert "still not found 25.0 s after the first look that missed it (not_found_grace_period=25 s)" in last.message


def test_the_grace_period_counts_from_the_first_miss_in_a_row(clock):
    waiting = policy(clock, timeout=10_000.0, grace=30.0)
    waiting.after_error(THROTTLED)
    clock.advance(100.0)  # a long outage before the job was first not found

    assert waiting.after_error(NOT_FOUND).verdict is Verdict.LOOK_AGAIN


def test_a_job_not_found_after_it_was_seen_has_disappeared(clock):
    waiting = policy(clock)
    waiting.after_status("INPROGRESS")

    step = waiting.after_error(NOT_FOUND)

    assert step.verdict is Verdict.FAILED
    assert "'job-a' does not exist any more" in step.message
    assert "last status: INPROGRESS" in step.message


def test_a_status_noted_elsewhere_counts_as_seen(clock):
    waiting = policy(clock)
    waiting.note_status("STARTING")

    assert waiting.after_error(NOT_FOUND).verdict is Verdict.FAILED


def test_a_miss_before_the_policy_started_counts_toward_the_grace(clock):
    waiting = LookPolicy(
        "job-a",
        poll_interval=10.0,
        not_found_grace_period=30.0,
        deadline=None,
        deadline_words="",
        clock=clock,
        not_found_since=clock() - 31.0,
    )

    assert waiting.after_error(NOT_FOUND).verdict is Verdict.FAILED


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (DENIED, "Check the connection's credentials"),
        (NoCredentialsError(), "Check the connection's credentials"),
        (client_error("ValidationException", "1 validation error: bad value"), "Describing optimization job"),
    ],
)
def test_access_and_other_errors_fail_at_once_with_advice(clock, error, advice):
    step = policy(clock).after_error(error)

    assert step.verdict is Verdict.FAILED
    assert advice in step.message
    assert "'job-a'" in step.message


def test_a_look_after_the_deadline_times_out_naming_the_last_status_and_error(clock):
    waiting = policy(clock, timeout=60.0)
    waiting.after_status("INPROGRESS")
    clock.advance(61.0)

    step = waiting.after_error(THROTTLED)

    assert step.verdict is Verdict.TIMED_OUT
    assert step.message.startswith("Optimization job 'job-a' did not finish within 60 s (last status: INPROGRESS).")
    assert "The last look failed: An error occurred (ThrottlingException)" in step.message


def test_a_terminal_status_finishes_even_after_the_deadline(clock):
    waiting = policy(clock, timeout=60.0)
    clock.advance(600.0)

    assert waiting.after_status("COMPLETED").verdict is Verdict.FINISHED


def test_no_pause_runs_past_the_deadline(clock):
    waiting = policy(clock, timeout=60.0, interval=10.0)
    clock.advance(55.0)

    step = waiting.after_status("INPROGRESS")

    assert step.verdict is Verdict.LOOK_AGAIN
    assert step.delay == pytest.approx(5.0)


def test_without_a_deadline_the_wait_never_times_out(clock):
    waiting = LookPolicy(
        "job-a", poll_interval=5.0, not_found_grace_period=0.0, deadline=None, deadline_words="", clock=clock
    )
    clock.advance(10**9)

    assert waiting.after_status("INPROGRESS").verdict is Verdict.LOOK_AGAIN
    assert waiting.remaining() == float("inf")


def test_without_a_grace_period_not_found_fails_at_the_first_miss(clock):
    waiting = policy(clock, grace=0.0)

    assert waiting.after_error(NOT_FOUND).verdict is Verdict.FAILED
