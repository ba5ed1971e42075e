"""``wait_on_worker`` against the emulator: every wait ends, with capped backoff on transient errors."""

from __future__ import annotations

import re
import time
from typing import TYPE_CHECKING

import pytest

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.exceptions import OptimizationJobWaitTimeoutError
from airflow_provider_optjob.model.api_errors import backoff_cap
from airflow_provider_optjob.model.wait_settings import WaitSettings
from airflow_provider_optjob.waiting.wait import wait_on_worker
from tests.faults.runs import describe_calls
from tests.job_requests import job_config
from tests.waiting.conftest import TASK_LOG

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

#: Generous slack for deadlines on a shared, noisy machine (one Describe call can run past a deadline).
POLL = 0.1
log = TASK_LOG


def wait(hook: SageMakerOptimizationJobHook, job_name: str, *, timeout: float = 30, grace: float = 5):
    return wait_on_worker(hook, job_name, WaitSettings(POLL, timeout, grace), log=log)


def test_transient_errors_are_ridden_out_with_capped_backoff(hook, control, logged):
    hook.create_optimization_job(job_config("wait-through-faults"))
    control.add_fault("throttle", "DescribeOptimizationJob", count=6)
    control.add_fault("server_error", "DescribeOptimizationJob", count=3, status_code=503)
    control.add_fault("connection_reset", "DescribeOptimizationJob", count=3)

    outcome = wait(hook, "wait-through-faults")

    assert outcome["status"] == "COMPLETED"
    assert control.faults() == []
    delays = [float(delay) for delay in re.findall(r"retrying in ([0-9.]+) s", logged.text)]
    assert delays
    assert all(0 <= delay <= backoff_cap(POLL) for delay in delays)


def test_throttling_until_the_deadline_ends_with_the_last_error(hook, control):
    hook.create_optimization_job(job_config("wait-throttled"))
    control.add_fault("throttle", "DescribeOptimizationJob")
    started = time.monotonic()

    with pytest.raises(OptimizationJobWaitTimeoutError) as raised:
        wait(hook, "wait-throttled", timeout=1.5)

    waited = time.monotonic() - started
    message = str(raised.value)
    assert "'wait-throttled' did not finish within 1.5 s (last status: unknown)" in message
    assert "The last look failed: An error occurred (ThrottlingException)" in message
    assert waited >= 1.5
    assert describe_calls(control) <= 3 * 25


def test_running_job_times_out_after_a_last_look_at_the_deadline(hook, control):
    control.script_job("wait-slow", inprogress_seconds=120)
    hook.create_optimization_job(job_config("wait-slow"))
    control.reset_call_counts()
    started = time.monotonic()

    with pytest.raises(OptimizationJobWaitTimeoutError, match=r"did not finish within 0\.5 s \(last status: "):
        wait(hook, "wait-slow", timeout=0.5)

    assert time.monotonic() - started >= 0.5
    assert 2 <= describe_calls(control) <= 10


def test_not_found_past_the_grace_period_fails_naming_how_long_it_waited(hook, control):
    started = time.monotonic()

    with pytest.raises(AirflowException) as raised:
        wait(hook, "wait-never-created", grace=0.5)

    message = str(raised.value)
    assert not isinstance(raised.value, OptimizationJobWaitTimeoutError)
    assert "Optimization job 'wait-never-created' does not exist" in message
    assert re.search(
        r"still not found \d+\.\d s after the first look that missed it \(not_found_grace_period=0\.5 s\)", message
    )
    assert time.monotonic() - started >= 0.5
    assert 2 <= describe_calls(control) <= 10


def test_not_found_within_the_grace_period_then_completed(hook, control, logged):
    hook.create_optimization_job(job_config("wait-visible-later"))
    control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=600, count=3)

    outcome = wait(hook, "wait-visible-later")

    assert outcome["status"] == "COMPLETED"
    assert logged.text.count("Optimization job wait-visible-later is not found yet") == 3


def test_access_denied_fails_at_once(hook, control):
    hook.create_optimization_job(job_config("wait-denied"))
    control.reset_call_counts()
    control.add_fault("access_denied", "DescribeOptimizationJob")

    with pytest.raises(AirflowException, match="AWS refused access while describing optimization job 'wait-denied'"):
        wait(hook, "wait-denied")

    assert describe_calls(control) == 1
