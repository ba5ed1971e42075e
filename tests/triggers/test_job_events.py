"""The asset-watcher trigger fires once per job as it finishes, through the real aiobotocore client and the emulator.

Each test runs the trigger's ``run()`` as the triggerer does (a task consuming the generator) against the emulator
over HTTP. Jobs stay in progress until the test finishes them. Instead of sleeping, tests wait for the trigger to
have listed jobs a number of times more (the emulator counts ``ListOptimizationJobs`` calls).
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import json
import sys
import types
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.model.outcome import OUTCOME_KEYS
from tests.job_requests import job_config
from tests.triggerer_runtime.test_async_client_lifecycle import eventually

try:
    from airflow_provider_optjob.triggers.job_events import SageMakerOptimizationJobEventTrigger
except ImportError:  # Airflow 2: only the import test below runs
    SageMakerOptimizationJobEventTrigger = None  # type: ignore[assignment,misc]

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.testing.control import EmulatorControl

POLL_INTERVAL = 0.2
needs_airflow_3 = pytest.mark.skipif(SageMakerOptimizationJobEventTrigger is None, reason="needs Airflow 3.0+")


class MemoryAssetStateStore:
    """Stands in for the triggerer's asset state store: the async API, values round-tripped through JSON."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.writes = 0

    async def aget(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    async def aset(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)
        self.writes += 1


class BlockingAssetStateStore:
    """Stands in for Airflow 3.3.0/3.3.1's asset state store: only the synchronous ``get`` / ``set``."""

    def __init__(self) -> None:
        self.values: dict[str, str] = {}

    def get(self, key: str, default: Any = None) -> Any:
        return json.loads(self.values[key]) if key in self.values else default

    def set(self, key: str, value: Any) -> None:
        self.values[key] = json.dumps(value)


def trigger(**overrides: Any) -> SageMakerOptimizationJobEventTrigger:
    arguments: dict[str, Any] = {"poll_interval": POLL_INTERVAL, "aws_conn_id": "aws_default"}
    arguments.update(overrides)
    return SageMakerOptimizationJobEventTrigger(**arguments)


class Running:
    """A trigger running as the triggerer runs it, with the events it has fired so far."""

    def __init__(self, event_trigger: SageMakerOptimizationJobEventTrigger, control: EmulatorControl) -> None:
        self.trigger = event_trigger
        self.control = control
        self.events: list[dict[str, Any]] = []
        self.task: asyncio.Task[None] | None = None

    def fired(self) -> list[str]:
        return [event["job_name"] for event in self.events]

    async def polls(self, more: int = 2) -> None:
        """Wait until the trigger has listed jobs ``more`` times more (each List call is one poll here)."""
        before = await asyncio.to_thread(self._lists)
        await eventually(lambda: self._lists() >= before + more)
        assert self.task is not None
        assert not self.task.done(), "the trigger stopped"

    async def fires(self, *job_names: str) -> None:
        await eventually(lambda: set(job_names) <= set(self.fired()))

    def _lists(self) -> int:
        return self.control.call_counts().get("ListOptimizationJobs", 0)


@pytest.fixture
async def running(control: EmulatorControl) -> AsyncIterator[Any]:
    """Start triggers (``await running(trigger)``); each is cancelled at the end of the test, as the triggerer does."""
    started: list[Running] = []

    async def start(
        event_trigger: SageMakerOptimizationJobEventTrigger, store: Any = None, portal: bool = False
    ) -> Running:
        event_trigger.asset_state_store = store
        run = Running(event_trigger, control)

        async def drain() -> None:
            if portal:  # as Airflow 3.3's triggerer runs each trigger
                import greenback

                await greenback.ensure_portal()
            async for event in event_trigger.run():
                run.events.append(event.payload)

        run.task = asyncio.create_task(drain())
        started.append(run)
        await run.polls(1)
        return run

    yield start
    for run in started:
        await stop(run)


async def stop(run: Running) -> None:
    """Cancel a trigger as the triggerer does when it stops (or restarts)."""
    assert run.task is not None
    run.task.cancel()
    await asyncio.wait({run.task})


def create(hook: SageMakerOptimizationJobHook, *names: str, **overrides: Any) -> None:
    for name in names:
        hook.create_optimization_job(job_config(name, **overrides))


def emulated(test: Any) -> Any:
    """Mark a test that runs the trigger against the emulator (Airflow 3 only; jobs stay running until finished)."""
    return needs_airflow_3(pytest.mark.usefixtures("long_jobs")(test))


@emulated
async def test_fires_once_per_job_as_it_finishes_with_the_outcome(hook, control, running):
    control.script_job("events-failing", "FAILED", failure_reason="Out of memory.", inprogress_seconds=600)
    create(hook, "events-done", "events-failing", "events-running")
    run = await running(trigger())

    control.complete_job("events-done")
    control.fail_job("events-failing", "Out of memory.")
    await run.fires("events-done", "events-failing")
    await run.polls(3)

    assert sorted(run.fired()) == ["events-done", "events-failing"]
    by_job = {event["job_name"]: event for event in run.events}
    assert by_job["events-done"]["status"] == "success"
    assert set(by_job["events-done"]["result"]) == set(OUTCOME_KEYS)
    assert by_job["events-done"]["result"]["status"] == "COMPLETED"
    assert by_job["events-done"]["result"]["recommended_inference_image"]
    assert by_job["events-failing"]["status"] == "failed"
    assert by_job["events-failing"]["result"]["failure_reason"] == "Out of memory."
    assert json.loads(json.dumps(run.events)) == run.events
    described = [request["job_name"] for request in control.requests("DescribeOptimizationJob")]
    assert sorted(described) == ["events-done", "events-failing"]


@emulated
async def test_a_job_that_stays_completed_never_fires_again(hook, control, running):
    create(hook, "events-stays-done")
    run = await running(trigger())

    control.complete_job("events-stays-done")
    await run.fires("events-stays-done")
    await run.polls(5)

    assert run.fired() == ["events-stays-done"]


@emulated
async def test_jobs_already_finished_when_the_trigger_first_starts_do_not_fire(hook, control, running):
    create(hook, "events-old-done", "events-new")
    control.complete_job("events-old-done")
    run = await running(trigger())

    control.complete_job("events-new")
    await run.fires("events-new")
    await run.polls(3)

    assert run.fired() == ["events-new"]


@emulated
async def test_name_filter_fires_only_for_matching_names(hook, control, running):
    create(hook, "llama-events-a", "mistral-events-b")
    run = await running(trigger(name_contains="llama"))

    control.complete_job("mistral-events-b")
    control.complete_job("llama-events-a")
    await run.fires("llama-events-a")
    await run.polls(3)

    assert run.fired() == ["llama-events-a"]


@emulated
async def test_status_filter_fires_only_for_the_chosen_statuses(hook, control, running):
    create(hook, "events-status-done", "events-status-failed", "events-status-stopped")
    run = await running(trigger(statuses=["FAILED", "STOPPED"]))

    control.complete_job("events-status-done")
    control.fail_job("events-status-failed", "Bad model.")
    hook.stop_optimization_job("events-status-stopped")
    await run.fires("events-status-failed", "events-status-stopped")
    await run.polls(3)

    assert sorted(run.fired()) == ["events-status-failed", "events-status-stopped"]
    assert {event["status"] for event in run.events} == {"failed", "stopped"}


@emulated
async def test_tag_filter_reads_tags_only_of_jobs_that_passed_the_other_filters(hook, control, running):
    team_ml = [{"Key": "team", "Value": "ml"}, {"Key": "stage", "Value": "prod"}]
    create(hook, "tagged-match", Tags=team_ml)
    create(hook, "tagged-other", Tags=[{"Key": "team", "Value": "web"}])
    create(hook, "tagged-failed", Tags=team_ml)
    create(hook, "untagged-running")
    run = await running(trigger(statuses=["COMPLETED"], tags={"team": "ml"}))

    for name in ("tagged-match", "tagged-other"):
        control.complete_job(name)
    control.fail_job("tagged-failed", "Bad model.")
    await run.fires("tagged-match")
    await run.polls(3)

    assert run.fired() == ["tagged-match"]
    assert len(control.requests("ListTags")) == 2, "once for each finished job with the right status"


@emulated
async def test_the_asset_state_store_prevents_a_second_fire_after_a_restart(hook, control, running):
    store = MemoryAssetStateStore()
    create(hook, "events-before-restart", "events-during-restart", "events-after-restart")
    first = await running(trigger(), store)
    control.complete_job("events-before-restart")
    await first.fires("events-before-restart")
    await stop(first)

    control.complete_job("events-during-restart")
    second = await running(trigger(), store)
    control.complete_job("events-after-restart")
    await second.fires("events-during-restart", "events-after-restart")
    await second.polls(3)

    assert first.fired() == ["events-before-restart"]
    assert sorted(second.fired()) == ["events-after-restart", "events-during-restart"]
    (stored,) = [json.loads(value) for value in store.values.values()]
    assert set(stored) == {"version", "baseline", "polled_at", "fired"}


@emulated
async def test_without_fires_the_stored_cursor_keeps_up_every_ten_poll_intervals(control, running):
    from airflow_provider_optjob.triggers.job_events import CURSOR_KEPT_EVERY_POLLS

    store = MemoryAssetStateStore()
    run = await running(trigger(), store)
    (started,) = [json.loads(value) for value in store.values.values()]
    await run.polls(3 * CURSOR_KEPT_EVERY_POLLS)

    (kept,) = [json.loads(value) for value in store.values.values()]
    polls = control.call_counts()["ListOptimizationJobs"]
    assert kept["polled_at"] > started["polled_at"] + CURSOR_KEPT_EVERY_POLLS * POLL_INTERVAL
    assert kept["baseline"] == started["baseline"]
    assert 2 <= store.writes <= 1 + polls // CURSOR_KEPT_EVERY_POLLS  # the first save, then one per ten polls at most


@emulated
@pytest.mark.parametrize(
    "portal",
    [
        pytest.param(
            True,
            id="greenback-portal",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("greenback") is None,
                reason="greenback is not installed (Airflow before 3.1 neither needs nor ships it)",
            ),
        ),
        pytest.param(False, id="no-portal"),
    ],
)
async def test_a_blocking_only_state_store_is_used_from_a_task_with_a_greenback_portal(hook, control, running, portal):
    store = BlockingAssetStateStore()
    create(hook, "blocking-before", "blocking-during")
    first = await running(trigger(), store, portal=portal)
    control.complete_job("blocking-before")
    await first.fires("blocking-before")
    await stop(first)

    control.complete_job("blocking-during")
    second = await running(trigger(), store, portal=portal)
    await second.polls(3)

    if portal:
        assert second.fired() == ["blocking-during"], "resumed from the stored cursor"
        assert len(store.values) == 1
    else:
        assert second.fired() == [], "no portal: the cursor stayed in memory and the restart started afresh"
        assert store.values == {}


@emulated
async def test_without_a_state_store_a_restarted_trigger_starts_afresh(hook, control, running):
    create(hook, "memory-before", "memory-during", "memory-after")
    first = await running(trigger())
    control.complete_job("memory-before")
    await first.fires("memory-before")
    await stop(first)

    control.complete_job("memory-during")
    second = await running(trigger())
    control.complete_job("memory-after")
    await second.fires("memory-after")
    await second.polls(3)

    assert second.fired() == ["memory-after"], "fired before the restart: not again; finished during it: missed"


@emulated
async def test_each_filter_set_keeps_its_own_cursor_in_the_store(hook, control, running):
    store = MemoryAssetStateStore()
    create(hook, "cursor-llama", "cursor-other")
    llama = await running(trigger(name_contains="llama"), store)
    everything = await running(trigger(), store)

    control.complete_job("cursor-llama")
    await llama.fires("cursor-llama")
    await everything.fires("cursor-llama")

    assert len(store.values) == 2


@emulated
async def test_a_list_that_lags_behind_describe_still_fires_each_job_once(hook, control, running):
    lag = 1.0
    create(hook, "lagging-a", "lagging-b")
    control.add_fault("list_lag", "ListOptimizationJobs", lag_seconds=lag)
    run = await running(trigger())

    control.complete_job("lagging-a")
    control.complete_job("lagging-b")
    await run.fires("lagging-a", "lagging-b")
    await run.polls(1 + int(lag / POLL_INTERVAL) * 2)

    assert sorted(run.fired()) == ["lagging-a", "lagging-b"]


@emulated
async def test_a_throttled_list_is_retried(hook, control, running):
    create(hook, "throttled-done")
    run = await running(trigger())
    control.add_fault("throttle", "ListOptimizationJobs", count=2)

    control.complete_job("throttled-done")
    await run.fires("throttled-done")

    assert run.fired() == ["throttled-done"]


@needs_airflow_3
def test_serialize_round_trip_rebuilds_the_same_trigger():
    original = trigger(name_contains="llama", statuses=["STOPPED", "COMPLETED"], tags={"team": "ml"})

    classpath, kwargs = original.serialize()
    module, _, name = classpath.rpartition(".")
    rebuilt_class = getattr(__import__(module, fromlist=[name]), name)
    rebuilt = rebuilt_class(**json.loads(json.dumps(kwargs)))

    assert rebuilt_class is SageMakerOptimizationJobEventTrigger
    assert rebuilt.serialize() == (classpath, kwargs)
    assert kwargs["statuses"] == ["COMPLETED", "STOPPED"]
    assert rebuilt.state_key() == original.state_key()
    assert trigger(name_contains="other").state_key() != original.state_key()


@needs_airflow_3
@pytest.mark.parametrize("statuses", [["COMPLETED", "INPROGRESS"], ["completed"], []])
def test_statuses_must_be_terminal(statuses):
    with pytest.raises(
        ValueError, match=r"statuses must be a non-empty subset of \['COMPLETED', 'FAILED', 'STOPPED'\]"
    ):
        trigger(statuses=statuses)


@needs_airflow_3
def test_tags_must_be_strings():
    with pytest.raises(ValueError, match="tags must map tag keys to values"):
        trigger(tags={"team": 1})


AIRFLOW_3_NEEDED = r"airflow_provider_optjob\.triggers\.job_events needs Airflow 3\.0 or later"


@pytest.mark.skipif(SageMakerOptimizationJobEventTrigger is not None, reason="Airflow 3 has BaseEventTrigger")
def test_on_airflow_2_importing_the_module_says_it_needs_airflow_3():
    sys.modules.pop("airflow_provider_optjob.triggers.job_events", None)

    with pytest.raises(ImportError, match=AIRFLOW_3_NEEDED):
        importlib.import_module("airflow_provider_optjob.triggers.job_events")


def test_without_base_event_trigger_the_import_error_names_the_airflow_version_needed(monkeypatch):
    airflow_2_base = types.ModuleType("airflow.triggers.base")
    airflow_2_base.BaseTrigger = object  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.triggers.base", airflow_2_base)
    monkeypatch.delitem(sys.modules, "airflow_provider_optjob.triggers.job_events", raising=False)

    with pytest.raises(ImportError, match=AIRFLOW_3_NEEDED) as raised:
        importlib.import_module("airflow_provider_optjob.triggers.job_events")

    assert "SageMakerOptimizationJobSensor" in str(raised.value)
