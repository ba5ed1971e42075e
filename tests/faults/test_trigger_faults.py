"""Fault matrix, trigger rows: the trigger driven directly, as the triggerer runs it."""

from __future__ import annotations

import asyncio
import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.triggerer_runtime.shared_async_client import shared_client_count
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger
from tests.faults.matrix import TRIGGER, Row
from tests.faults.runs import describe_calls
from tests.job_requests import job_config
from tests.triggerer_runtime.test_async_client_lifecycle import eventually

if TYPE_CHECKING:
    from collections.abc import Callable

#: botocore's attempt limit under the hook's default client config.
BOTOCORE_MAX_ATTEMPTS = 3


def trigger_for(job_name: str, **overrides) -> SageMakerOptimizationJobTrigger:
    arguments: dict[str, Any] = {
        "job_name": job_name,
        "end_time": time.time() + 30,
        "poll_interval": 0.05,
        "not_found_grace_period": 5,
        "aws_conn_id": "aws_default",
    }
    arguments.update(overrides)
    return SageMakerOptimizationJobTrigger(**arguments)


async def events_of(trigger: SageMakerOptimizationJobTrigger, within: float) -> list[dict[str, Any]]:
    async def drain() -> list[dict[str, Any]]:
        return [event.payload async for event in trigger.run()]

    return await asyncio.wait_for(drain(), timeout=within)


def rebuilt(trigger: SageMakerOptimizationJobTrigger) -> SageMakerOptimizationJobTrigger:
    """Rebuild a trigger as a restarted triggerer does: from its serialized, JSON-stored form."""
    class_path, kwargs = trigger.serialize()
    assert class_path == "airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger"
    return SageMakerOptimizationJobTrigger(**json.loads(json.dumps(kwargs)))


async def cancel_once(
    trigger: SageMakerOptimizationJobTrigger, condition: Callable[[], bool], within: float = 30.0
) -> list[dict[str, Any]]:
    """Run a trigger until ``condition`` (a blocking check, run in a thread) holds; cancel it as a triggerer does."""
    seen: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in trigger.run():
            seen.append(event.payload)

    task = asyncio.create_task(run())
    await eventually(condition, within)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return seen


async def cancel_after(trigger: SageMakerOptimizationJobTrigger, seconds: float) -> list[dict[str, Any]]:
    """Run a trigger, then cancel it the way a triggerer shutting down cancels its trigger tasks."""
    seen: list[dict[str, Any]] = []

    async def run() -> None:
        async for event in trigger.run():
            seen.append(event.payload)

    task = asyncio.create_task(run())
    await asyncio.sleep(seconds)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    return seen


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            Row(
                TRIGGER,
                "ThrottlingException on every Describe for a full minute (60 s), then the job is COMPLETED; poll "
                "interval 0.05 s",
                "one `success` event within seconds of the throttling's end; no attempt limit ends the wait early",
            ),
            id="throttled-for-a-minute",
        )
    ],
)
async def test_a_full_minute_of_throttling_then_success(row, hook, control):
    hook.create_optimization_job(job_config("throttled-for-a-minute"))
    control.reset_call_counts()
    control.add_fault("throttle", "DescribeOptimizationJob", seconds=60)
    started = time.monotonic()

    events = await events_of(trigger_for("throttled-for-a-minute", end_time=time.time() + 120), within=100)

    waited = time.monotonic() - started
    assert [event["status"] for event in events] == ["success"]
    assert events[0]["result"]["status"] == "COMPLETED"
    assert 59 <= waited < 70
    # Many botocore calls, each with its own attempts, were throttled: no attempt count ended the wait.
    assert describe_calls(control) > 10 * BOTOCORE_MAX_ATTEMPTS


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            Row(
                TRIGGER,
                "triggerer restarts mid-wait: the trigger is cancelled after its second Describe and rebuilt from "
                "serialize()",
                "rebuilt trigger keeps the original deadline, carries on and fires `success`; no client leaks",
            ),
            id="restart-mid-wait",
        )
    ],
)
async def test_trigger_rebuilt_after_a_triggerer_restart_continues(row, hook, control):
    control.script_job("restarted-wait", final_status="COMPLETED", inprogress_seconds=600)
    hook.create_optimization_job(job_config("restarted-wait"))
    original = trigger_for("restarted-wait", end_time=time.time() + 60)

    events_before_restart = await cancel_once(original, lambda: describe_calls(control) >= 2)
    calls_before_restart = describe_calls(control)
    control.complete_job("restarted-wait")
    again = rebuilt(original)
    events = await events_of(again, within=20)

    assert events_before_restart == []
    assert calls_before_restart >= 2
    assert shared_client_count() == 0
    assert again.end_time == original.end_time
    assert [event["status"] for event in events] == ["success"]
    assert events[0]["result"]["status"] == "COMPLETED"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            Row(
                TRIGGER,
                "triggerer restarts and the rebuilt trigger first runs after the original deadline (poll "
                "interval 10 s)",
                "`timeout` event at once (one Describe), not one poll interval later",
            ),
            id="restart-past-deadline",
        )
    ],
)
async def test_trigger_rebuilt_after_its_deadline_times_out_promptly(row, hook, control):
    control.script_job("restarted-late", final_status="COMPLETED", inprogress_seconds=60)
    hook.create_optimization_job(job_config("restarted-late"))
    original = trigger_for("restarted-late", end_time=time.time() + 1, poll_interval=10)

    assert await cancel_after(original, 0.3) == []
    await asyncio.sleep(max(0.0, original.end_time - time.time()) + 0.2)
    control.reset_call_counts()
    started = time.monotonic()
    events = await events_of(rebuilt(original), within=20)

    assert [event["status"] for event in events] == ["timeout"]
    assert events[0]["result"] is None
    assert "'restarted-late' did not finish before the deadline" in events[0]["message"]
    assert time.monotonic() - started < 2
    assert describe_calls(control) == 1
