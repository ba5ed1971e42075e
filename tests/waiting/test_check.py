"""``describe_when_visible`` against the emulator: a deadline, capped backoff, and a clear error at the end."""

from __future__ import annotations

import re
import time

import pytest

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import OptimizationJobNotFoundError
from airflow_provider_optjob.model.api_errors import backoff_cap
from airflow_provider_optjob.waiting.check import describe_when_visible
from tests.faults.runs import Waiter, describe_calls, meanwhile
from tests.job_requests import job_config
from tests.waiting.conftest import TASK_LOG, Lines

#: Generous slack for deadlines on a shared, noisy machine: one Describe call (botocore's 3 attempts with
#: their own backoff) can run past a deadline.
SLACK = 15.0
log = TASK_LOG


def logged_delays(logged: Lines) -> list[float]:
    return [float(delay) for delay in re.findall(r"(?:retrying|check again) in ([0-9.]+) s", logged.text)]


def test_job_that_never_appears_ends_with_a_clear_error_after_the_grace_period(hook, control, logged):
    started = time.monotonic()

    with pytest.raises(OptimizationJobNotFoundError) as raised:
        describe_when_visible(hook, "never-created", not_found_grace_period=1.0, log=log, retry_interval=0.1)

    waited = time.monotonic() - started
    message = str(raised.value)
    assert "'never-created' was still not found" in message
    assert re.search(r"still not found \d+\.\d s after the first look", message)
    assert "check the job name, and the region and account" in message
    assert "Last error: An error occurred (ResourceNotFound)" in message
    assert 1.0 <= waited < 1.0 + SLACK
    # Backoff from 0.1 s, capped at 0.8 s: a handful of looks in one second, not a tight loop.
    assert 2 <= describe_calls(control) <= 25
    assert all(delay <= backoff_cap(0.1) for delay in logged_delays(logged))


def test_explicit_timeout_shorter_than_the_grace_period_ends_the_wait(hook, control):
    started = time.monotonic()

    with pytest.raises(OptimizationJobNotFoundError, match=r"limit 0\.5 s"):
        describe_when_visible(hook, "never-created", not_found_grace_period=60, log=log, timeout=0.5)

    assert time.monotonic() - started < 0.5 + SLACK


def test_no_grace_period_fails_at_the_first_not_found(hook, control):
    with pytest.raises(OptimizationJobNotFoundError, match="'never-created' was still not found"):
        describe_when_visible(hook, "never-created", not_found_grace_period=0, log=log)

    assert describe_calls(control) == 1


def test_job_visible_after_a_few_not_found_answers(hook, control, logged):
    hook.create_optimization_job(job_config("visible-later"))
    control.reset_call_counts()
    control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=600, count=3)

    outcome = describe_when_visible(hook, "visible-later", not_found_grace_period=30, log=log, retry_interval=0.1)

    assert outcome["job_name"] == "visible-later"
    assert outcome["status"] in {"STARTING", "INPROGRESS", "COMPLETED"}
    assert describe_calls(control) == 4
    assert logged.text.count("Optimization job visible-later is not found yet") == 3
    assert all(delay <= backoff_cap(0.1) for delay in logged_delays(logged))


def test_job_created_while_it_is_looked_for_is_found(hook, control):
    def create_after_three_looks(waiter: Waiter) -> None:
        waiter.wait_for_describes(3)
        hook.create_optimization_job(job_config("created-meanwhile"))

    with meanwhile(control, create_after_three_looks, within=30):
        outcome = describe_when_visible(
            hook, "created-meanwhile", not_found_grace_period=30, log=log, retry_interval=0.1
        )

    assert outcome["job_name"] == "created-meanwhile"
    assert describe_calls(control) >= 4


def test_throttling_that_outlasts_the_timeout_ends_with_a_clear_error(hook, control):
    hook.create_optimization_job(job_config("throttled-describe"))
    control.reset_call_counts()
    control.add_fault("throttle", "DescribeOptimizationJob")
    started = time.monotonic()

    with pytest.raises(AirflowException) as raised:
        describe_when_visible(
            hook, "throttled-describe", not_found_grace_period=0, log=log, retry_interval=0.1, timeout=1.0
        )

    waited = time.monotonic() - started
    message = str(raised.value)
    assert not isinstance(raised.value, OptimizationJobNotFoundError)
    assert re.search(r"Could not describe optimization job 'throttled-describe' within \d+\.\d s", message)
    assert "limit 1 s" in message
    assert "Last error: An error occurred (ThrottlingException)" in message
    assert 1.0 <= waited < 1.0 + SLACK
    # Each Describe call spends botocore's 3 attempts (and their backoff): few calls fit in a second.
    assert 1 <= describe_calls(control) <= 25 * 3


def test_throttling_burst_is_ridden_out_with_capped_backoff(hook, control, logged):
    hook.create_optimization_job(job_config("throttled-burst"))
    control.add_fault("throttle", "DescribeOptimizationJob", count=6)

    outcome = describe_when_visible(hook, "throttled-burst", not_found_grace_period=0, log=log, retry_interval=0.1)

    assert outcome["job_name"] == "throttled-burst"
    assert control.faults() == []
    delays = logged_delays(logged)
    assert delays
    assert all(0 <= delay <= backoff_cap(0.1) for delay in delays)


def test_access_denied_fails_at_once(hook, control):
    hook.create_optimization_job(job_config("denied-describe"))
    control.reset_call_counts()
    control.add_fault("access_denied", "DescribeOptimizationJob")

    with pytest.raises(AirflowException, match="AWS refused access while describing optimization job"):
        describe_when_visible(hook, "denied-describe", not_found_grace_period=30, log=log)

    assert describe_calls(control) == 1


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"retry_interval": 0}, "retry_interval"),
        ({"retry_interval": float("inf")}, "retry_interval"),
        ({"timeout": -1}, "timeout"),
        ({"timeout": float("nan")}, "timeout"),
    ],
)
def test_settings_that_cannot_work_are_refused_before_any_call(hook, control, arguments, problem):
    with pytest.raises(ValueError, match=problem):
        describe_when_visible(hook, "any-job", not_found_grace_period=1, log=log, **arguments)

    assert describe_calls(control) == 0
