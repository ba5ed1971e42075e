"""Triggers that wait through one connection share one ListOptimizationJobs query per interval (the job watcher).

Every test runs real triggers through the real aiobotocore client against the emulator over HTTP. Jobs run until
the test finishes them, after every trigger has had its first look: a Describe for the first trigger of a
watcher, the watcher's next List for the others. So each Describe a test counts afterwards is one the shared
List asked for. Tests that count them install a watcher whose safety net does not fire within a test, and keep
a bystander trigger (the watcher's first) waiting until the others have ended (a trigger left alone describes
its job every interval).
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.api_errors import backoff_cap
from airflow_provider_optjob.model.status import trigger_event_status
from airflow_provider_optjob.triggerer_runtime.shared_async_client import shared_client_count
from airflow_provider_optjob.triggers.job_watcher import WatcherSettings, watcher_count, watcher_installed, watchers
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger
from tests.job_requests import job_config
from tests.triggerer_runtime.test_async_client_lifecycle import eventually

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterable

    from airflow_provider_optjob.testing.control import EmulatorControl
    from airflow_provider_optjob.triggers.job_watcher import JobWatcher

POLL_INTERVAL = 0.2
#: No safety-net look within a test: every Describe is a trigger's first look or one the List asked for.
QUIET = WatcherSettings(safety_net_polls=10**6, safety_net_seconds=3600)
WATCHER_LOG = "airflow_provider_optjob.triggers.job_watcher.watcher"
Events = dict[str, list[dict[str, Any]]]
#: Set in each trigger's task, as Airflow's triggerer binds the trigger's identity to route its log lines.
WAITING_FOR: ContextVar[str | None] = ContextVar("waiting_for", default=None)


class _WaitingFor(logging.Filter):
    """Stamp each record with the job whose trigger task wrote it (``None``: no trigger's task)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.waiting_for = WAITING_FOR.get()
        return True


@pytest.fixture
def log_context(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    """Captured records carry ``waiting_for``: the job of the trigger task that wrote them."""
    caplog.handler.addFilter(_WaitingFor())
    caplog.set_level(logging.INFO)
    return caplog


def create_jobs(hook: SageMakerOptimizationJobHook, names: Iterable[str]) -> list[str]:
    names = list(names)
    hook.client  # noqa: B018  (built once, before the threads share it)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda name: hook.create_optimization_job(job_config(name)), names))
    return names


def trigger_for(job_name: str, **overrides: Any) -> SageMakerOptimizationJobTrigger:
    arguments: dict[str, Any] = {
        "job_name": job_name,
        "end_time": time.time() + 600,
        "poll_interval": POLL_INTERVAL,
        "not_found_grace_period": 5,
        "aws_conn_id": "aws_default",
    }
    arguments.update(overrides)
    return SageMakerOptimizationJobTrigger(**arguments)


def rebuilt(trigger: SageMakerOptimizationJobTrigger) -> SageMakerOptimizationJobTrigger:
    """Rebuild a trigger as a restarted triggerer does: from its serialized, JSON-stored form."""
    _, kwargs = trigger.serialize()
    return SageMakerOptimizationJobTrigger(**json.loads(json.dumps(kwargs)))


def start(triggers: Iterable[SageMakerOptimizationJobTrigger]) -> dict[str, asyncio.Task[list[dict[str, Any]]]]:
    """Run each trigger as the triggerer does (its ``run()`` consumed to the end), as its own task."""

    async def drain(trigger: SageMakerOptimizationJobTrigger) -> list[dict[str, Any]]:
        WAITING_FOR.set(trigger.job_name)
        return [event.payload async for event in trigger.run()]

    return {trigger.job_name: asyncio.create_task(drain(trigger)) for trigger in triggers}


async def events_of(tasks: dict[str, asyncio.Task[list[dict[str, Any]]]], within: float = 120) -> Events:
    _, pending = await asyncio.wait(tasks.values(), timeout=within)
    for task in pending:
        task.cancel()
    assert not pending, f"{len(pending)} of {len(tasks)} triggers had not finished after {within} s"
    return {name: task.result() for name, task in tasks.items()}


async def cancel(tasks: Iterable[asyncio.Task[Any]]) -> None:
    """Cancel trigger tasks the way a triggerer that shuts down does, and wait until they have ended."""
    tasks = list(tasks)
    for task in tasks:
        task.cancel()
    await asyncio.wait(tasks)
    assert all(task.cancelled() for task in tasks)


def describes_by_job(control: EmulatorControl) -> Counter[str]:
    """Successful Describe calls per job."""
    return Counter(str(e["job_name"]) for e in control.requests("DescribeOptimizationJob") if e["status"] == 200)


async def all_described(control: EmulatorControl, names: Iterable[str], times: int = 1) -> None:
    """Wait until every job has been described ``times`` times."""
    wanted = list(names)

    def described() -> bool:
        # The call count is cheap to read; the request log is read once there are enough calls in all.
        enough = control.call_counts().get("DescribeOptimizationJob", 0) >= times * len(wanted)
        return enough and all(describes_by_job(control)[name] >= times for name in wanted)

    await eventually(described, within=120)  # 250 triggers' first looks, on a shared and loaded machine


async def first_looks_done(members: int) -> None:
    """Wait until ``members`` triggers wait through this loop's watchers, each after its first look.

    The first trigger of a watcher describes its job; the others look through the watcher's next List.
    """

    def done() -> bool:
        current = watchers()
        joined = sum(watcher.members for watcher in current)
        return joined >= members and all(watcher.awaiting_first_look == 0 for watcher in current)

    deadline = time.monotonic() + 120  # 250 triggers' first looks, on a shared and loaded machine
    while not done():
        assert time.monotonic() < deadline, "the triggers did not all have their first look"
        await asyncio.sleep(0.02)


async def next_poll(watcher: JobWatcher) -> None:
    """Wait until the watcher has finished one more List poll (all pages)."""
    before = watcher.polls
    deadline = time.monotonic() + 60
    while watcher.polls == before:
        assert time.monotonic() < deadline, "the watcher did not list again"
        await asyncio.sleep(0.02)


def assert_described_once(control: EmulatorControl, names: Iterable[str]) -> None:
    """Each job was described once, when the List showed it ended: its first look was the List's."""
    described = describes_by_job(control)
    assert {name: described[name] for name in names} == dict.fromkeys(names, 1)


@asynccontextmanager
async def bystander(hook: SageMakerOptimizationJobHook, job_name: str, **overrides: Any) -> AsyncIterator[None]:
    """One more trigger, on a job that does not end: the watcher keeps listing until the others have ended."""
    create_jobs(hook, [job_name])
    tasks = start([trigger_for(job_name, **overrides)])
    try:
        yield
    finally:
        await cancel(tasks.values())


def list_in_flight(control: EmulatorControl) -> bool:
    return any(entry["status"] is None for entry in control.requests("ListOptimizationJobs"))


def finish(control: EmulatorControl, hook: SageMakerOptimizationJobHook, endings: dict[str, str]) -> None:
    """End each job with its status: ``COMPLETED``, ``FAILED`` (with a reason naming the job) or ``STOPPED``."""

    def end(name: str, status: str) -> None:
        if status == "COMPLETED":
            control.complete_job(name)
        elif status == "FAILED":
            control.fail_job(name, f"ClientError: {name} ran out of memory")
        else:
            hook.stop_optimization_job(name)

    hook.client  # noqa: B018  (built once, before the threads share it)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(end, endings, endings.values()))


def assert_one_event_each(events: Events, endings: dict[str, str]) -> None:
    assert set(events) == set(endings)
    for name, status in endings.items():
        assert len(events[name]) == 1, f"{name}: {events[name]}"
        payload = events[name][0]
        assert payload["status"] == trigger_event_status(status), f"{name}: {payload['message']}"
        assert payload["job_name"] == name
        assert payload["result"]["status"] == status
        expected_reason = f"ClientError: {name} ran out of memory" if status == "FAILED" else None
        assert payload["result"]["failure_reason"] == expected_reason


@pytest.fixture
async def installed(hook: SageMakerOptimizationJobHook) -> AsyncIterator[JobWatcher]:
    """A watcher with :data:`QUIET` settings for the connection's shared client, which the triggers then join."""
    async with hook.async_client() as client, watcher_installed(client, hook, QUIET) as watcher:
        yield watcher
    assert watcher_count() == 0


def endings_for(names: list[str]) -> dict[str, str]:
    cycle = ("COMPLETED", "FAILED", "STOPPED", "COMPLETED")
    return {name: cycle[index % len(cycle)] for index, name in enumerate(names)}


@pytest.mark.usefixtures("long_jobs")
async def test_250_jobs_share_one_list_of_three_pages_per_interval(hook, control, installed):
    names = create_jobs(hook, (f"many-{index:03d}" for index in range(250)))
    endings = endings_for(names)
    async with bystander(hook, "many-bystander"):
        tasks = start(trigger_for(name, poll_interval=0.3) for name in names)
        await first_looks_done(len(names) + 1)
        await next_poll(installed)

        await asyncio.to_thread(finish, control, hook, endings)
        events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert_described_once(control, names)
    pages = len(control.requests("ListOptimizationJobs"))
    assert installed.polls >= 2
    assert 3 * installed.polls <= pages <= 3 * (installed.polls + 1)
    assert not installed.polling


@pytest.mark.usefixtures("long_jobs")
async def test_a_list_that_lags_behind_describe_still_ends_each_wait_once(hook, control, installed):
    lag = 1.0
    names = create_jobs(hook, ["lagging-a", "lagging-b", "lagging-c"])
    endings = endings_for(names)
    control.add_fault("list_lag", "ListOptimizationJobs", lag_seconds=lag)
    await asyncio.sleep(lag)  # the jobs are older than the lag: the lagging List shows them, as it would in AWS
    async with bystander(hook, "lagging-bystander"):
        tasks = start(trigger_for(name) for name in names)
        await first_looks_done(len(names) + 1)
        await next_poll(installed)

        await asyncio.to_thread(finish, control, hook, endings)
        events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert_described_once(control, names)
    ended_at = {job["name"]: job["phases"][-1]["start"] for job in control.jobs()}
    for name in names:
        last_describe = max(e["time"] for e in control.requests("DescribeOptimizationJob") if e["job_name"] == name)
        assert last_describe >= ended_at[name] + lag, f"{name} was described before the List could show it ended"


@pytest.mark.parametrize("skew", [-30.0, 30.0], ids=["clock-behind", "clock-ahead"])
@pytest.mark.usefixtures("long_jobs")
async def test_client_clock_skew_of_30_seconds(hook, control, skew):
    names = create_jobs(hook, ["skewed-a", "skewed-b", "skewed-c"])
    endings = endings_for(names)
    settings = WatcherSettings(safety_net_polls=10**6, safety_net_seconds=3600, clock=lambda: time.time() + skew)
    async with (
        hook.async_client() as client,
        watcher_installed(client, hook, settings) as watcher,
        bystander(hook, "skewed-bystander"),
    ):
        tasks = start(trigger_for(name) for name in names)
        await first_looks_done(len(names) + 1)
        await next_poll(watcher)

        await asyncio.to_thread(finish, control, hook, endings)
        events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert_described_once(control, names)


@pytest.mark.usefixtures("long_jobs")
async def test_a_list_that_sees_nothing_leaves_the_first_look_and_the_safety_net(hook, control):
    # The watcher's clock is an hour ahead, so its List asks for jobs modified in the future and sees none: jobs
    # that ended before their triggers started end at the first look, the others at a safety-net look.
    names = create_jobs(hook, ["ended-before-a", "ended-before-b", "ends-later-a", "ends-later-b"])
    finish(control, hook, {"ended-before-a": "COMPLETED", "ended-before-b": "FAILED"})
    settings = WatcherSettings(safety_net_polls=3, clock=lambda: time.time() + 3600)
    async with hook.async_client() as client, watcher_installed(client, hook, settings) as watcher:
        tasks = start(trigger_for(name) for name in names)
        await all_described(control, names[2:])
        await next_poll(watcher)

        await asyncio.to_thread(finish, control, hook, {"ends-later-a": "COMPLETED", "ends-later-b": "STOPPED"})
        events = await events_of(tasks)

    assert_one_event_each(events, dict(zip(names, ["COMPLETED", "FAILED", "COMPLETED", "STOPPED"], strict=True)))
    assert [describes_by_job(control)[name] for name in names[:2]] == [1, 1]
    assert watcher.polls >= 1


@pytest.mark.usefixtures("long_jobs")
async def test_a_job_the_first_list_does_not_show_is_described_and_waited_for_within_the_grace(
    hook, control, installed
):
    async with bystander(hook, "not-yet-bystander"):
        tasks = start([trigger_for("not-created-yet")])
        await first_looks_done(2)

        def told_not_found() -> bool:
            return any(
                entry["job_name"] == "not-created-yet" and entry["status"] == 400
                for entry in control.requests("DescribeOptimizationJob")
            )

        await eventually(told_not_found)
        create_jobs(hook, ["not-created-yet"])
        await asyncio.to_thread(finish, control, hook, {"not-created-yet": "COMPLETED"})
        events = await events_of(tasks)

    assert_one_event_each(events, {"not-created-yet": "COMPLETED"})
    first_list = next(entry for entry in control.requests("ListOptimizationJobs") if entry["status"] == 200)
    first_describe = next(
        entry for entry in control.requests("DescribeOptimizationJob") if entry["job_name"] == "not-created-yet"
    )
    assert first_list["seq"] < first_describe["seq"], "the List came first; the job it did not show was described"


@pytest.mark.usefixtures("long_jobs")
async def test_throttled_list_backs_off_and_keeps_listing(optjob_aws_conn, hook, control, caplog):
    # One attempt per call, so that each throttled List call is one failed poll of the watcher. Each hook gets
    # its own copy of the settings: botocore rewrites the retries dict of a client it builds.
    def one_try() -> dict[str, Any]:
        return {"retries": {"mode": "standard", "total_max_attempts": 1}}

    one_try_hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn, config=one_try())
    names = create_jobs(hook, ["throttled-list-a", "throttled-list-b", "throttled-list-c"])
    endings = endings_for(names)
    control.add_fault("throttle", "ListOptimizationJobs", count=3)
    async with (
        one_try_hook.async_client() as client,
        watcher_installed(client, one_try_hook, QUIET) as watcher,
        bystander(hook, "throttled-list-bystander", botocore_config=one_try()),
    ):
        tasks = start(trigger_for(name, botocore_config=one_try()) for name in names)
        await first_looks_done(len(names) + 1)
        await next_poll(watcher)
        await asyncio.to_thread(finish, control, hook, endings)
        events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert control.faults() == []
    assert watcher.gave_up is None
    assert_described_once(control, names)  # the List, not per-job Describe calls, ended the waits
    failed_polls = [r.message for r in caplog.records if r.name == WATCHER_LOG and r.message.startswith("Listing")]
    pauses = [float(message.rsplit("listing again in ", 1)[1].split()[0]) for message in failed_polls]
    assert len(pauses) == 3
    assert pauses == sorted(pauses), "each pause is drawn from a longer range than the one before"
    assert all(POLL_INTERVAL / 2 <= pause <= backoff_cap(POLL_INTERVAL) for pause in pauses)


@pytest.mark.usefixtures("long_jobs")
async def test_denied_list_falls_back_to_describe_once_with_one_clear_log_line(hook, control, log_context):
    names = create_jobs(hook, ["denied-list-a", "denied-list-b", "denied-list-c"])
    endings = endings_for(names)
    control.add_fault("access_denied", "ListOptimizationJobs")

    tasks = start(trigger_for(name) for name in names)
    await eventually(lambda: bool(control.requests("ListOptimizationJobs")))
    await all_described(control, names, times=3)  # each trigger describes its own job every interval
    await asyncio.to_thread(finish, control, hook, endings)
    events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert [entry["error_code"] for entry in control.requests("ListOptimizationJobs")] == ["AccessDeniedException"]
    fallbacks = [r for r in log_context.records if r.name == WATCHER_LOG]
    assert len(fallbacks) == 1
    assert "now describe their own job every poll interval" in fallbacks[0].message
    assert "Allow sagemaker:ListOptimizationJobs" in fallbacks[0].message
    assert fallbacks[0].waiting_for is None, "the watcher's line belongs to the triggerer's log, not to one task's"


class StatusRecordingTrigger(SageMakerOptimizationJobTrigger):
    """Records each status it notes (and logs), with the trigger task it is noted in."""

    def _saw(self, status: str | None, last_modified: Any) -> None:
        self.noted: list[tuple[str | None, str | None]] = [*getattr(self, "noted", []), (WAITING_FOR.get(), status)]
        super()._saw(status, last_modified)


@pytest.mark.usefixtures("long_jobs")
async def test_a_status_the_list_shows_is_noted_in_the_waiting_triggers_own_task(hook, control, installed):
    names = create_jobs(hook, ["paused-a", "running-b"])
    triggers = [StatusRecordingTrigger(**trigger_for(name).serialize()[1]) for name in names]
    async with bystander(hook, "paused-bystander"):
        tasks = start(triggers)
        await first_looks_done(len(names) + 1)

        control.set_job_status("paused-a", "PAUSED")  # a status the API may add later: keep waiting
        await next_poll(installed)
        await next_poll(installed)
        await asyncio.to_thread(finish, control, hook, dict.fromkeys(names, "COMPLETED"))
        events = await events_of(tasks)

    assert_one_event_each(events, dict.fromkeys(names, "COMPLETED"))
    paused = triggers[0]
    assert ("paused-a", "PAUSED") in paused.noted, "the List's PAUSED was noted in the trigger's own task"
    assert {task for task, _ in paused.noted} == {"paused-a"}
    assert describes_by_job(control)["paused-a"] == 1, "PAUSED is not terminal: the List alone reported it"


@pytest.mark.usefixtures("long_jobs")
async def test_triggers_join_and_leave_while_a_poll_is_in_flight(hook, control):
    names = create_jobs(hook, ["flight-a", "flight-b", "flight-c", "flight-d"])
    control.add_fault("latency", "ListOptimizationJobs", delay_seconds=0.5)
    tasks = start(trigger_for(name) for name in names[:3])
    await first_looks_done(3)
    await eventually(lambda: list_in_flight(control))

    tasks.update(start([trigger_for("flight-d")]))
    await cancel([tasks.pop("flight-a")])
    await first_looks_done(3)
    await eventually(lambda: list_in_flight(control))
    endings = {"flight-b": "COMPLETED", "flight-c": "FAILED", "flight-d": "STOPPED"}
    await asyncio.to_thread(finish, control, hook, endings)
    events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert watcher_count() == 0
    assert shared_client_count() == 0


@pytest.mark.usefixtures("long_jobs")
async def test_the_last_triggers_leave_while_a_poll_is_in_flight(hook, control):
    names = create_jobs(hook, ["last-a", "last-b"])
    control.add_fault("latency", "ListOptimizationJobs", delay_seconds=0.5)
    tasks = start(trigger_for(name) for name in names)
    await first_looks_done(len(names))
    await eventually(lambda: list_in_flight(control))

    await cancel(tasks.values())

    assert watcher_count() == 0
    assert shared_client_count() == 0


@pytest.mark.usefixtures("long_jobs")
async def test_triggers_rebuilt_after_a_restart_still_deliver(hook, control):
    names = create_jobs(hook, ["restarted-a", "restarted-b", "restarted-c"])
    endings = endings_for(names)
    originals = [trigger_for(name) for name in names]
    tasks = start(originals)
    await first_looks_done(len(names))
    await eventually(lambda: any(entry["status"] == 200 for entry in control.requests("ListOptimizationJobs")))
    await cancel(tasks.values())
    assert watcher_count() == 0
    assert shared_client_count() == 0

    again = [rebuilt(trigger) for trigger in originals]
    tasks = start(again)
    await first_looks_done(len(names))
    await asyncio.to_thread(finish, control, hook, endings)
    events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert [trigger.end_time for trigger in again] == [trigger.end_time for trigger in originals]


@pytest.mark.usefixtures("long_jobs")
async def test_a_job_deleted_between_two_lists_ends_its_wait(hook, control, installed):
    names = create_jobs(hook, ["deleted-while-listed", "kept-while-listed"])
    tasks = start(trigger_for(name) for name in names)
    await first_looks_done(len(names))
    await next_poll(installed)

    # Describe is throttled while the job completes and is deleted, so its trigger cannot see it COMPLETED.
    control.add_fault("throttle", "DescribeOptimizationJob")
    control.complete_job("deleted-while-listed")
    hook.delete_optimization_job("deleted-while-listed")
    control.clear_faults()
    gone = await events_of({"deleted-while-listed": tasks.pop("deleted-while-listed")})
    finish(control, hook, {"kept-while-listed": "COMPLETED"})
    kept = await events_of(tasks)

    [payload] = gone["deleted-while-listed"]
    assert payload["status"] == "error"
    assert "'deleted-while-listed' does not exist any more" in payload["message"]
    assert_one_event_each(kept, {"kept-while-listed": "COMPLETED"})


@pytest.mark.parametrize(
    ("how", "triggers"), [("a lone trigger", 1), ("coalesced polling turned off", 2)], ids=["lone", "off"]
)
@pytest.mark.usefixtures("long_jobs")
async def test_describes_every_interval_without_a_shared_list(hook, control, monkeypatch, how, triggers):
    if how == "coalesced polling turned off":
        monkeypatch.setenv("AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__COALESCED_POLLING", "False")
    names = create_jobs(hook, [f"own-describe-{index}" for index in range(triggers)])
    endings = dict.fromkeys(names, "COMPLETED")
    tasks = start(trigger_for(name) for name in names)

    await all_described(control, names, times=3)
    await asyncio.to_thread(finish, control, hook, endings)
    events = await events_of(tasks)

    assert_one_event_each(events, endings)
    assert control.requests("ListOptimizationJobs") == []
