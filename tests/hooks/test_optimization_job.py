from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError
from airflow_provider_optjob.triggerer_runtime.shared_async_client import shared_client_count
from tests.job_requests import job_config

INVALID_NAMES = ["", "a" * 64, "-leading", "trailing-", "under_score", "naïve", "with space"]
#: Bounds waits that end anyway, long before this on any machine; only a broken build path ever reaches it.
GENEROUS_SECONDS = 120.0


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


def wait_for_status(
    hook: SageMakerOptimizationJobHook, job_name: str, status: str, within: float = 60.0
) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        response = hook.describe_optimization_job(job_name)
        if response["OptimizationJobStatus"] == status:
            return response
        time.sleep(0.05)
    raise AssertionError(f"{job_name} never reached {status}")


class TestSyncApi:
    def test_create_then_describe_running_job(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("running-job", "COMPLETED", hold=True)  # running until moved
        created = hook.create_optimization_job(job_config("running-job"))
        assert created["OptimizationJobArn"].endswith(":optimization-job/running-job")

        response = hook.describe_optimization_job("running-job")

        assert response["OptimizationJobStatus"] in {"STARTING", "INPROGRESS"}
        assert response["OptimizationJobArn"] == created["OptimizationJobArn"]
        assert "OptimizationOutput" not in response

    def test_completed_job_has_recommended_image(self, hook):
        hook.create_optimization_job(job_config("completes"))

        response = wait_for_status(hook, "completes", "COMPLETED")
        outcome = hook.get_job_outcome("completes")

        assert response["OptimizationOutput"]["RecommendedInferenceImage"]
        assert outcome["status"] == "COMPLETED"
        assert outcome["recommended_inference_image"] == response["OptimizationOutput"]["RecommendedInferenceImage"]
        assert outcome["output_s3_uri"] == "s3://models/optimized/"
        assert outcome["end_time"] is not None

    def test_failed_job_reports_reason(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("fails", final_status="FAILED", failure_reason="Out of GPU memory")
        hook.create_optimization_job(job_config("fails"))

        wait_for_status(hook, "fails", "FAILED")
        outcome = hook.get_job_outcome("fails")

        assert outcome["failure_reason"] == "Out of GPU memory"
        assert outcome["recommended_inference_image"] is None

    def test_stop_moves_job_to_stopped(self, hook, sagemaker_emulator):
        sagemaker_emulator.control.script_job("stop-me", inprogress_seconds=3600)  # running when the stop arrives
        hook.create_optimization_job(job_config("stop-me"))

        hook.stop_optimization_job("stop-me")

        assert hook.describe_optimization_job("stop-me")["OptimizationJobStatus"] in {"STOPPING", "STOPPED"}
        assert wait_for_status(hook, "stop-me", "STOPPED")["OptimizationJobStatus"] == "STOPPED"

    def test_describe_unknown_job_is_resource_not_found(self, hook):
        with pytest.raises(ClientError) as raised:
            hook.describe_optimization_job("no-such-job")

        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"

    def test_duplicate_create_is_resource_in_use(self, hook):
        hook.create_optimization_job(job_config("twice"))

        with pytest.raises(ClientError) as raised:
            hook.create_optimization_job(job_config("twice"))

        assert raised.value.response["Error"]["Code"] == "ResourceInUse"

    def test_delete_removes_finished_job(self, hook, sagemaker_emulator):
        hook.create_optimization_job(job_config("delete-me"))
        sagemaker_emulator.control.complete_job("delete-me")

        hook.delete_optimization_job("delete-me")

        with pytest.raises(ClientError, match="ResourceNotFound"):
            hook.describe_optimization_job("delete-me")

    def test_list_follows_every_page(self, hook, sagemaker_emulator):
        names = [f"listed-{index:02d}" for index in range(23)]
        for name in names:
            hook.create_optimization_job(job_config(name))
        sagemaker_emulator.control.reset_call_counts()

        listed = list(hook.list_optimization_jobs(NameContains="listed", PaginationConfig={"PageSize": 5}))

        assert sorted(summary["OptimizationJobName"] for summary in listed) == names
        assert sagemaker_emulator.control.call_counts()["ListOptimizationJobs"] == 5

    @pytest.mark.parametrize("name", INVALID_NAMES)
    def test_invalid_names_are_rejected_before_any_call(self, hook, sagemaker_emulator, name):
        for call in (
            hook.describe_optimization_job,
            hook.stop_optimization_job,
            hook.delete_optimization_job,
            lambda job_name: hook.create_optimization_job(job_config(job_name)),
        ):
            with pytest.raises(InvalidOptimizationJobNameError, match="Invalid optimization job name"):
                call(name)

        assert sagemaker_emulator.control.call_counts() == {}

    def test_unknown_connection_is_a_clear_error(self, optjob_aws_conn):
        hook = SageMakerOptimizationJobHook(aws_conn_id="aws_typo")

        with pytest.raises(OptimizationJobConnectionError, match="'aws_typo' does not exist"):
            hook.check_connection_exists()


class TestAsyncApi:
    async def test_describe_running_completed_failed_and_stopped(self, hook, sagemaker_emulator):
        control = sagemaker_emulator.control
        control.script_job("async-fails", final_status="FAILED", failure_reason="bad weights")
        control.script_job("async-stops", inprogress_seconds=3600)
        control.script_job("async-runs", hold=True)  # running until the test ends
        for name in ("async-runs", "async-completes", "async-fails", "async-stops"):
            hook.create_optimization_job(job_config(name))
        control.complete_job("async-completes")
        control.fail_job("async-fails", "bad weights")
        hook.stop_optimization_job("async-stops")
        wait_for_status(hook, "async-stops", "STOPPED")

        statuses = {
            name: (await hook.async_describe_optimization_job(name))["OptimizationJobStatus"]
            for name in ("async-runs", "async-completes", "async-fails", "async-stops")
        }

        assert statuses == {
            "async-runs": statuses["async-runs"],
            "async-completes": "COMPLETED",
            "async-fails": "FAILED",
            "async-stops": "STOPPED",
        }
        assert statuses["async-runs"] in {"STARTING", "INPROGRESS"}

    async def test_async_not_found(self, hook):
        with pytest.raises(ClientError) as raised:
            await hook.async_describe_optimization_job("missing-async")

        assert raised.value.response["Error"]["Code"] == "ResourceNotFound"

    @pytest.mark.parametrize("name", INVALID_NAMES)
    async def test_async_invalid_names_rejected_before_any_call(self, hook, sagemaker_emulator, name):
        with pytest.raises(InvalidOptimizationJobNameError):
            await hook.async_describe_optimization_job(name)

        assert sagemaker_emulator.control.call_counts() == {}

    async def test_callers_on_one_loop_share_one_client_until_the_last_leaves(self, optjob_aws_conn):
        hooks = [SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn) for _ in range(20)]
        other_region = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn, region_name="eu-west-1")
        entered = asyncio.Event()
        release = asyncio.Event()
        clients: dict[int, object] = {}

        async def borrow(index, hook):
            async with hook.async_client() as client:
                clients[index] = client
                if len(clients) == len(hooks) + 1:
                    entered.set()
                await release.wait()

        tasks = [asyncio.create_task(borrow(index, hook)) for index, hook in enumerate([*hooks, other_region])]
        await asyncio.wait_for(entered.wait(), timeout=30)

        default_region_clients = {id(clients[index]) for index in range(len(hooks))}
        assert len(default_region_clients) == 1
        assert id(clients[len(hooks)]) not in default_region_clients
        assert shared_client_count() == 2

        release.set()
        await asyncio.gather(*tasks)
        assert shared_client_count() == 0

    async def test_loop_is_not_blocked_while_a_client_is_created(self, hook, monkeypatch):
        # The client's blocking build waits in its session step (where credentials are resolved) until the test
        # releases it, so the heartbeat must tick while the build is known to be in progress: after it started,
        # before it ended. Built on the loop, the build would hold the loop until its wait timed out, and no tick
        # would fall in between.
        build_started, release_build, build_ended = threading.Event(), threading.Event(), threading.Event()
        get_session = hook.get_session

        def blocked_get_session(*args: Any, **kwargs: Any) -> Any:
            build_started.set()
            try:
                release_build.wait(GENEROUS_SECONDS)
                return get_session(*args, **kwargs)
            finally:
                build_ended.set()

        monkeypatch.setattr(hook, "get_session", blocked_get_session)
        ticks = 0
        counting_from: int | None = None
        three_ticks_counted = asyncio.Event()

        async def heartbeat() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.001)
                ticks += 1
                if counting_from is not None and ticks >= counting_from + 3:
                    three_ticks_counted.set()

        beat = asyncio.create_task(heartbeat())
        describe = asyncio.create_task(hook.async_describe_optimization_job("nothing-here"))
        try:
            assert await asyncio.to_thread(build_started.wait, GENEROUS_SECONDS), "the client build never started"
            counting_from = ticks
            await asyncio.wait_for(three_ticks_counted.wait(), GENEROUS_SECONDS)
            build_in_progress = not build_ended.is_set()
        finally:
            release_build.set()
            beat.cancel()
        with pytest.raises(ClientError):
            await describe

        # Three ticks counted after the build had started, and the build had not ended yet: the loop ran meanwhile.
        assert build_in_progress, "the client build ended before the loop could run again: it held the loop"

    async def test_async_unknown_connection_is_a_clear_error(self, optjob_aws_conn):
        hook = SageMakerOptimizationJobHook(aws_conn_id="aws_typo")

        with pytest.raises(OptimizationJobConnectionError, match="'aws_typo' does not exist"):
            await hook.async_describe_optimization_job("any-job")


async def test_requests_on_a_shared_client_are_limited_to_its_connection_pool(optjob_aws_conn):
    from airflow_provider_optjob.triggerer_runtime.shared_async_client import request_slot

    hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn, config={"max_pool_connections": 4})
    in_flight = 0
    most_in_flight = 0

    async def call(client: Any) -> None:
        nonlocal in_flight, most_in_flight
        async with request_slot(client):
            in_flight += 1
            most_in_flight = max(most_in_flight, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1

    async with hook.async_client() as client:
        await asyncio.gather(*(call(client) for _ in range(40)))

    assert most_in_flight == 4
