from __future__ import annotations

import asyncio
import importlib
import json
import time
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.testing.airflow_env import airflow_minor_version
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger
from tests.job_requests import job_config
from tests.triggerer_runtime.test_async_client_lifecycle import eventually

if TYPE_CHECKING:
    from airflow.triggers.base import TriggerEvent

CLASS_PATH = "airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger"


def make_trigger(conn_id: str, job_name: str, **overrides) -> SageMakerOptimizationJobTrigger:
    arguments: dict[str, Any] = {
        "job_name": job_name,
        "end_time": time.time() + 120,  # a bound for a loaded machine; the tests end long before
        "poll_interval": 0.1,
        "not_found_grace_period": 5,
        "aws_conn_id": conn_id,
    }
    arguments.update(overrides)
    return SageMakerOptimizationJobTrigger(**arguments)


async def collect_events(trigger: SageMakerOptimizationJobTrigger, within: float = 180) -> list[TriggerEvent]:
    async def drain() -> list[TriggerEvent]:
        return [event async for event in trigger.run()]

    return await asyncio.wait_for(drain(), timeout=within)


async def single_payload(trigger: SageMakerOptimizationJobTrigger) -> dict[str, Any]:
    events = await collect_events(trigger)
    assert len(events) == 1
    payload: dict[str, Any] = events[0].payload
    return payload


class TestSerialization:
    def test_serializes_to_plain_values_and_rebuilds_equal(self):
        trigger = SageMakerOptimizationJobTrigger(
            job_name="serialize-me",
            end_time=1_900_000_000.5,
            poll_interval=15,
            not_found_grace_period=90,
            aws_conn_id="aws_prod",
            region_name="eu-west-1",
            verify=False,
            botocore_config={"read_timeout": 30},
            stop_job_on_kill=True,
        )

        class_path, kwargs = trigger.serialize()
        module_name, class_name = class_path.rsplit(".", 1)
        rebuilt = getattr(importlib.import_module(module_name), class_name)(**json.loads(json.dumps(kwargs)))

        assert class_path == CLASS_PATH
        assert rebuilt.serialize() == (class_path, kwargs)
        assert kwargs["end_time"] == 1_900_000_000.5

    def test_rebuilt_trigger_keeps_the_original_deadline(self):
        trigger = SageMakerOptimizationJobTrigger(job_name="deadline", end_time=time.time() + 100)
        _, kwargs = trigger.serialize()
        time.sleep(0.05)

        rebuilt = SageMakerOptimizationJobTrigger(**kwargs)

        assert rebuilt.end_time == trigger.end_time


class TestRun:
    async def test_still_running_job_yields_nothing(self, hook, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.script_job("long-job", hold=True)  # running until the test ends
        hook.create_optimization_job(job_config("long-job"))
        task = asyncio.create_task(collect_events(make_trigger(optjob_aws_conn, "long-job")))

        describes = 0
        while describes < 3 and not task.done():  # the job is held; the test's timeout bounds this
            await asyncio.sleep(0.05)
            describes = sagemaker_emulator.control.call_counts().get("DescribeOptimizationJob", 0)

        assert not task.done()
        task.cancel()

    @pytest.mark.parametrize(
        ("final", "event_status", "reason"),
        [("COMPLETED", "success", None), ("FAILED", "failed", "CUDA out of memory"), ("STOPPED", "stopped", None)],
    )
    async def test_each_terminal_status_gives_one_event_with_the_outcome(
        self, hook, optjob_aws_conn, sagemaker_emulator, final, event_status, reason
    ):
        control = sagemaker_emulator.control
        if final == "FAILED":
            control.script_job("terminal-job", final_status="FAILED", failure_reason=reason)
        if final == "STOPPED":
            control.script_job("terminal-job", inprogress_seconds=3600)  # still running when the stop arrives
        hook.create_optimization_job(job_config("terminal-job"))
        if final == "STOPPED":
            hook.stop_optimization_job("terminal-job")

        payload = await single_payload(make_trigger(optjob_aws_conn, "terminal-job"))

        assert payload["status"] == event_status
        assert payload["job_name"] == "terminal-job"
        assert payload["result"]["status"] == final
        assert payload["result"]["failure_reason"] == reason
        assert (payload["result"]["recommended_inference_image"] is not None) is (final == "COMPLETED")
        assert "terminal-job" in payload["message"]
        json.dumps(payload)

    async def test_throttling_burst_then_success(self, hook, optjob_aws_conn, sagemaker_emulator):
        hook.create_optimization_job(job_config("throttled"))
        sagemaker_emulator.control.add_fault("throttle", "DescribeOptimizationJob", count=12)

        payload = await single_payload(make_trigger(optjob_aws_conn, "throttled", poll_interval=0.05))

        assert payload["status"] == "success"
        assert sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"] > 12

    async def test_server_errors_are_retried(self, hook, optjob_aws_conn, sagemaker_emulator):
        hook.create_optimization_job(job_config("flaky"))
        sagemaker_emulator.control.add_fault("server_error", "DescribeOptimizationJob", count=6, status_code=503)

        payload = await single_payload(make_trigger(optjob_aws_conn, "flaky", poll_interval=0.05))

        assert payload["status"] == "success"

    async def test_not_found_within_grace_then_found(self, hook, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.add_fault(
            "not_found_after_create", "DescribeOptimizationJob", after_create_seconds=0.6
        )
        hook.create_optimization_job(job_config("eventually-there"))

        # A grace period far beyond the 0.6 s the job stays unseen: the job shows up within it however slow the machine.
        payload = await single_payload(make_trigger(optjob_aws_conn, "eventually-there", not_found_grace_period=60))

        assert payload["status"] == "success"

    async def test_not_found_past_grace_is_an_error(self, optjob_aws_conn):
        trigger = make_trigger(optjob_aws_conn, "never-created", not_found_grace_period=0.4)

        payload = await single_payload(trigger)

        assert payload["status"] == "error"
        assert payload["result"] is None
        assert "'never-created' does not exist" in payload["message"]
        assert "0.4 s" in payload["message"]

    async def test_deadline_reached_is_a_timeout(self, hook, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.script_job("slow-job", hold=True)  # still running at the deadline
        hook.create_optimization_job(job_config("slow-job"))

        payload = await single_payload(make_trigger(optjob_aws_conn, "slow-job", end_time=time.time() + 0.5))

        assert payload["status"] == "timeout"
        assert payload["result"] is None
        assert "did not finish before the deadline" in payload["message"]
        assert "INPROGRESS" in payload["message"] or "STARTING" in payload["message"]

    @pytest.mark.parametrize("fault", ["access_denied", "expired_token"])
    async def test_access_errors_end_at_once(self, hook, optjob_aws_conn, sagemaker_emulator, fault):
        hook.create_optimization_job(job_config("forbidden"))
        sagemaker_emulator.control.reset_call_counts()
        sagemaker_emulator.control.add_fault(fault, "DescribeOptimizationJob")

        payload = await single_payload(make_trigger(optjob_aws_conn, "forbidden"))

        assert payload["status"] == "error"
        assert "refused access" in payload["message"]
        assert sagemaker_emulator.control.call_counts()["DescribeOptimizationJob"] == 1

    async def test_unknown_connection_is_an_error_event(self, optjob_aws_conn):
        payload = await single_payload(make_trigger("aws_missing", "any-job"))

        assert payload["status"] == "error"
        assert "'aws_missing' does not exist" in payload["message"]

    async def test_on_kill_leaves_the_job_running_when_the_task_state_cannot_be_read(
        self, hook, optjob_aws_conn, sagemaker_emulator
    ):
        # Outside a triggerer there is no channel to read the task instance's state: never stop on a guess.
        # Stopping after "mark failed" in a real triggerer is covered by tests/deployment.
        sagemaker_emulator.control.script_job("owned-job", inprogress_seconds=120)
        hook.create_optimization_job(job_config("owned-job"))
        trigger = make_trigger(optjob_aws_conn, "owned-job", stop_job_on_kill=True)
        trigger.task_instance = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=-1)  # type: ignore[assignment]

        await trigger.on_kill()

        assert hook.describe_optimization_job("owned-job")["OptimizationJobStatus"] not in {"STOPPING", "STOPPED"}
        assert sagemaker_emulator.control.call_counts().get("StopOptimizationJob") is None

    @pytest.mark.skipif(
        airflow_minor_version() < (3, 3),
        reason="Airflow calls a trigger's on_kill from 3.3 on (and masks through send before)",
    )
    async def test_a_decided_stop_survives_the_cancellation_of_on_kill(
        self, hook, optjob_aws_conn, sagemaker_emulator, monkeypatch
    ):
        # Airflow 3.3 cancels an on_kill still running at its next state sync, about a second later. The
        # triggerer's channel exists only in a triggerer (tests/deployment runs the real one); here a stand-in
        # answers the state read with "failed", and on_kill is cancelled as soon as it has read it.
        from airflow.sdk.execution_time import task_runner

        state_read = asyncio.Event()

        class MarkedFailedChannel:
            async def asend(self, message: Any) -> Any:
                state_read.set()
                return SimpleNamespace(task_states={"r": {"t": "failed"}})

        monkeypatch.setattr(task_runner, "SUPERVISOR_COMMS", MarkedFailedChannel(), raising=False)
        sagemaker_emulator.control.script_job("marked-failed-job", inprogress_seconds=120)
        hook.create_optimization_job(job_config("marked-failed-job"))
        trigger = make_trigger(optjob_aws_conn, "marked-failed-job", stop_job_on_kill=True)
        trigger.task_instance = SimpleNamespace(dag_id="d", run_id="r", task_id="t", map_index=-1)  # type: ignore[assignment]

        on_kill = asyncio.create_task(trigger.on_kill())
        await state_read.wait()
        on_kill.cancel()
        with pytest.raises(asyncio.CancelledError):
            await on_kill

        await eventually(lambda: sagemaker_emulator.control.call_counts().get("StopOptimizationJob") == 1)
        assert hook.describe_optimization_job("marked-failed-job")["OptimizationJobStatus"] in {"STOPPING", "STOPPED"}

    async def test_on_kill_leaves_a_job_it_does_not_own(self, hook, optjob_aws_conn, sagemaker_emulator):
        sagemaker_emulator.control.script_job("watched-job", inprogress_seconds=120)
        hook.create_optimization_job(job_config("watched-job"))

        await make_trigger(optjob_aws_conn, "watched-job").on_kill()

        assert sagemaker_emulator.control.call_counts().get("StopOptimizationJob") is None
