"""The shared async client over its life: a changed connection, expiring role credentials, refresh off the loop.

Real aiobotocore clients against the emulator, whose STS issues short-lived keys and rejects expired ones.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.triggerer_runtime.shared_async_client import shared_client_count
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger
from tests.job_requests import job_config

if TYPE_CHECKING:
    from collections.abc import Callable

ROLE_ARN = "arn:aws:iam::123456789012:role/optjob-waiter"


def set_connection(monkeypatch: pytest.MonkeyPatch, conn_id: str, url: str, login: str, **extra: str) -> None:
    connection = {
        "conn_type": "aws",
        "login": login,
        "password": f"{login}-secret",
        "extra": {"endpoint_url": url, "region_name": "us-east-1", **extra},
    }
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps(connection))


def waiting_trigger(conn_id: str, job_name: str, poll_interval: float = 0.2) -> SageMakerOptimizationJobTrigger:
    return SageMakerOptimizationJobTrigger(
        job_name=job_name, end_time=time.time() + 60, poll_interval=poll_interval, aws_conn_id=conn_id
    )


async def final_payload(trigger: SageMakerOptimizationJobTrigger) -> dict[str, Any]:
    events = [event async for event in trigger.run()]
    assert len(events) == 1
    payload: dict[str, Any] = events[0].payload
    return payload


async def eventually(condition: Callable[[], bool], within: float = 30.0) -> None:
    """Wait until ``condition`` (a blocking call to the emulator, so run in a thread) holds."""
    deadline = time.monotonic() + within
    for _ in itertools.count():
        if await asyncio.to_thread(condition):
            return
        assert time.monotonic() < deadline, f"still not true after {within} s"
        await asyncio.sleep(0.05)


@pytest.fixture
def emulator(optjob_aws_conn, sagemaker_emulator):
    yield sagemaker_emulator
    sagemaker_emulator.control.set_credential_lifetime(None)


async def test_a_trigger_started_after_the_keys_rotated_uses_the_new_keys(emulator, monkeypatch, hook_for):
    control = emulator.control
    names = ("before-rotation", "after-rotation")
    for name in names:
        control.script_job(name, "COMPLETED", starting_seconds=0, inprogress_seconds=3600)
        hook_for(None).create_optimization_job(job_config(name))
    set_connection(monkeypatch, "optjob_rotating", emulator.url, login="AKIAOLDKEY")
    first = asyncio.create_task(final_payload(waiting_trigger("optjob_rotating", "before-rotation")))
    await eventually(lambda: bool(control.requests("DescribeOptimizationJob")))

    set_connection(monkeypatch, "optjob_rotating", emulator.url, login="AKIANEWKEY")
    second = asyncio.create_task(final_payload(waiting_trigger("optjob_rotating", "after-rotation")))
    await eventually(lambda: "AKIANEWKEY" in control.access_keys_used("DescribeOptimizationJob"))
    clients_while_both_wait = shared_client_count()
    for name in names:
        control.complete_job(name)
    payloads = await asyncio.gather(first, second)

    assert [payload["status"] for payload in payloads] == ["success", "success"]
    assert clients_while_both_wait == 2
    assert control.access_keys_used("DescribeOptimizationJob") == ["AKIAOLDKEY", "AKIANEWKEY"]
    assert shared_client_count() == 0


async def test_a_trigger_started_after_the_endpoint_changed_uses_the_new_endpoint(emulator, monkeypatch):
    control = emulator.control
    control.script_job("moved-endpoint", "COMPLETED", starting_seconds=0, inprogress_seconds=0.5)
    set_connection(monkeypatch, "optjob_moving", "http://127.0.0.1:9", login="AKIAMOVING")  # nothing listens there
    assert shared_client_count() == 0
    unreachable = await final_payload(
        SageMakerOptimizationJobTrigger(
            job_name="moved-endpoint", end_time=time.time() + 3, poll_interval=0.5, aws_conn_id="optjob_moving"
        )
    )
    assert unreachable["status"] == "timeout"
    assert not control.requests("DescribeOptimizationJob")

    set_connection(monkeypatch, "optjob_moving", emulator.url, login="AKIAMOVING")
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

    SageMakerOptimizationJobHook(aws_conn_id="optjob_moving").create_optimization_job(job_config("moved-endpoint"))
    reached = await final_payload(waiting_trigger("optjob_moving", "moved-endpoint"))

    assert reached["status"] == "success"
    assert control.access_keys_used("DescribeOptimizationJob") == ["AKIAMOVING"]


async def test_a_wait_longer_than_the_role_credentials_lifetime_survives(emulator, monkeypatch, hook_for):
    control = emulator.control
    control.set_credential_lifetime(2)
    control.script_job("outlives-its-keys", "COMPLETED", starting_seconds=0, inprogress_seconds=3600)
    hook_for(None).create_optimization_job(job_config("outlives-its-keys"))
    set_connection(monkeypatch, "optjob_role", emulator.url, login="AKIABASEKEY", role_arn=ROLE_ARN)
    control.clear_requests()

    waiting = asyncio.create_task(final_payload(waiting_trigger("optjob_role", "outlives-its-keys", poll_interval=0.5)))

    def outlived_its_keys_twice() -> bool:  # Describe calls signed with the first keys and two refreshed ones
        return len(control.access_keys_used("DescribeOptimizationJob")) >= 3

    await eventually(outlived_its_keys_twice, within=120)  # the job runs until then
    control.complete_job("outlives-its-keys")
    payload = await waiting

    assert payload["status"] == "success"
    issued = control.issued_credentials()
    describe_keys = control.access_keys_used("DescribeOptimizationJob")
    assert set(describe_keys) <= {credential["access_key_id"] for credential in issued}
    rejected = [entry for entry in control.requests("DescribeOptimizationJob") if entry["error_code"]]
    assert rejected == []


async def test_the_role_credentials_refresh_does_not_hold_the_event_loop(emulator, monkeypatch, hook_for):
    # STS does not answer until released; the loop must keep running other coroutines meanwhile, both for the
    # first AssumeRole and for a refresh.
    control = emulator.control
    control.set_credential_lifetime(3)
    control.script_job("slow-sts", "COMPLETED", starting_seconds=0, inprogress_seconds=3600)
    hook_for(None).create_optimization_job(job_config("slow-sts"))
    set_connection(monkeypatch, "optjob_slow_sts", emulator.url, login="AKIASLOWSTS", role_arn=ROLE_ARN)
    ticks = itertools.count()
    stop = asyncio.Event()

    async def heartbeat() -> None:
        while not stop.is_set():
            next(ticks)
            await asyncio.sleep(0.01)

    async def loop_runs_while_sts_is_held(fault_id: str) -> None:
        await eventually(lambda: control.held_requests(fault_id) == 1, within=120)
        before = next(ticks)
        await eventually(lambda: control.held_requests(fault_id) == 1, within=1)
        await asyncio.sleep(0.1)
        assert control.held_requests(fault_id) == 1, "AssumeRole is still unanswered"
        assert next(ticks) > before + 1, "the event loop stood still while AssumeRole was unanswered"
        control.release_fault(fault_id)

    beat = asyncio.create_task(heartbeat())
    first = control.add_fault("hold", "AssumeRole", count=1)
    waiting = asyncio.create_task(final_payload(waiting_trigger("optjob_slow_sts", "slow-sts", poll_interval=0.5)))
    await loop_runs_while_sts_is_held(first["id"])
    await eventually(lambda: len(control.access_keys_used("DescribeOptimizationJob")) >= 1, within=120)
    refresh = control.add_fault("hold", "AssumeRole", count=1)
    await loop_runs_while_sts_is_held(refresh["id"])
    await eventually(lambda: len(control.access_keys_used("DescribeOptimizationJob")) >= 2, within=120)
    control.complete_job("slow-sts")
    payload = await waiting
    stop.set()
    await beat

    assert payload["status"] == "success", payload
    assert len(control.requests("AssumeRole")) >= 2


@pytest.fixture
def hook_for(optjob_aws_conn):
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

    def build(conn_id: str | None):
        return SageMakerOptimizationJobHook(aws_conn_id=conn_id or optjob_aws_conn)

    return build
