"""One triggerer-at-scale scenario, run in a fresh process by ``benchmarks/triggerer_scale.py``.

``python -m benchmarks.triggerer_scenario SPEC.json RESULT.json`` (from the repository root).

The spec names the implementation (``ours``; ``ours-per-job``, the same trigger with
``[sagemaker_optimization_job] coalesced_polling`` off, which the orchestrator sets in this process's
environment; or ``baseline``), the Airflow connection, the number of triggers and the timing. The
process creates the jobs on the emulator (scripted to finish at staggered times), then runs every
trigger as its own asyncio task in one event loop, the way Airflow's triggerer consumes
``BaseTrigger.run()``, and writes raw measurements (event arrival times, event-loop lag samples, RSS
and CPU time series, the emulator's job timelines, call counts and TCP connection counts, and for our
trigger when every trigger had its first look) to ``RESULT.json``.
All the analysis happens in the orchestrator.

The environment (``AIRFLOW_HOME``, ``AIRFLOW_CONN_*``) is set by the orchestrator before this process
starts; nothing here touches a database.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from airflow_provider_optjob.testing import EmulatorControl

#: Our trigger, with and without coalesced polling (the orchestrator sets the option in the environment).
OUR_IMPLEMENTATIONS = ("ours", "ours-per-job")
HEARTBEAT_SECONDS = 0.010
SAMPLE_SECONDS = 0.050
CREATE_WORKERS = 16


def job_request(job_name: str) -> dict[str, Any]:
    """Return a valid ``CreateOptimizationJob`` request for ``job_name``."""
    return {
        "OptimizationJobName": job_name,
        "RoleArn": "arn:aws:iam::123456789012:role/bench-optimization",
        "ModelSource": {"S3": {"S3Uri": "s3://bench-models/llama/"}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationConfigs": [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}],
        "OutputConfig": {"S3OutputLocation": "s3://bench-models/optimized/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }


def create_jobs(spec: dict[str, Any]) -> tuple[list[str], float]:
    """Script and create the scenario's jobs; return their names and the planned start of the triggers.

    Finish times are spread uniformly (in random order) over ``window`` seconds, starting ``lead``
    seconds after the planned trigger start. Creation speed is estimated up front; if creation takes
    longer, the lead absorbs it (actual finish times are read back from the emulator afterwards).
    """
    import boto3

    from airflow_provider_optjob.testing import EmulatorControl

    url: str = spec["url"]
    count: int = spec["triggers"]
    control = EmulatorControl(url, timeout=60)
    client = boto3.session.Session().client(
        "sagemaker",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    names = [f"{spec['job_prefix']}-{index:05d}" for index in range(count)]
    fractions = [index / max(1, count - 1) for index in range(count)]
    random.Random(spec.get("seed", 7)).shuffle(fractions)
    planned_start = time.time() + count * spec.get("create_seconds_per_job", 0.004) + 1.0
    finish_at = {
        name: planned_start + spec["lead_seconds"] + spec["window_seconds"] * fraction
        for name, fraction in zip(names, fractions, strict=True)
    }

    def create(name: str) -> None:
        control.script_job(
            name,
            final_status="COMPLETED",
            starting_seconds=0.0,
            inprogress_seconds=max(0.0, finish_at[name] - time.time()),
        )
        client.create_optimization_job(**job_request(name))

    with ThreadPoolExecutor(CREATE_WORKERS) as pool:
        list(pool.map(create, names))
    return names, planned_start


def emulator_connections(control: EmulatorControl) -> dict[str, float] | None:
    """
    Return the TCP connections the emulator's server has ``accepted`` so far and holds ``open``, and the ``time``.

    ``None`` when its server does not count them (werkzeug's, which closes every connection after one request).
    The request that reads them is one of the accepted connections: :class:`EmulatorControl` opens one per request.
    """
    from airflow_provider_optjob.testing import EmulatorControlError

    try:
        counts = control.connections()
    except EmulatorControlError:
        return None
    return {"time": time.time(), "accepted": counts["accepted"], "open": counts["open"]}


def make_trigger(spec: dict[str, Any], job_name: str, end_time: float) -> Any:
    """Build one trigger of the scenario's implementation."""
    if spec["implementation"] in OUR_IMPLEMENTATIONS:
        from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger

        return SageMakerOptimizationJobTrigger(
            job_name=job_name,
            end_time=end_time,
            poll_interval=spec["poll_interval"],
            aws_conn_id=spec["conn_id"],
        )
    from benchmarks.baseline_trigger import BaselineOptimizationJobTrigger

    max_attempts = int((end_time - time.time()) / spec["poll_interval"]) + 10
    return BaselineOptimizationJobTrigger(
        job_name=job_name,
        waiter_delay=spec["poll_interval"],
        waiter_max_attempts=max_attempts,
        aws_conn_id=spec["conn_id"],
    )


class Sampler(threading.Thread):
    """Samples this process's RSS and CPU time every :data:`SAMPLE_SECONDS` (a /proc read each)."""

    def __init__(self) -> None:
        super().__init__(name="bench-sampler", daemon=True)
        import psutil

        self.process = psutil.Process()
        self.samples: list[tuple[float, int, float]] = []
        self.stop_event = threading.Event()

    def sample(self) -> tuple[float, int, float]:
        times = self.process.cpu_times()
        return (time.time(), self.process.memory_info().rss, times.user + times.system)

    def run(self) -> None:
        while not self.stop_event.wait(SAMPLE_SECONDS):
            self.samples.append(self.sample())


async def first_looks(
    count: int, control: EmulatorControl, arrivals: dict[str, float], done: asyncio.Event
) -> dict[str, Any]:
    """
    Find when each of our ``count`` triggers has had its first look at its job, while their job watchers list jobs.

    That is when the loop's watchers hold every trigger (those that already fired have left them), none of them
    awaits the List that gives a trigger its first look, and the emulator has seen one Describe per watcher: the
    first trigger on a connection joins a watcher that does not list yet, and describes its job first. Checked
    every :data:`SAMPLE_SECONDS`; the emulator is asked (in a thread of its own) only once the watchers are done.

    :param count: how many triggers run.
    :param control: the emulator's control client.
    :param arrivals: the events received so far, by job name.
    :param done: set when every trigger has ended.
    :return: ``done_at`` (epoch seconds; ``None`` if not found, and always when the watchers do not list jobs, as
        with coalesced polling off), ``coalescing``, ``watchers``, the ``describes_required`` and
        ``describes_seen`` then, and the emulator ``control_requests`` made (each one TCP connection).
    """
    from airflow_provider_optjob.triggers.job_watcher import watchers

    loop = asyncio.get_running_loop()
    found: dict[str, Any] = {
        "done_at": None,
        "coalescing": None,
        "watchers": 0,
        "describes_required": None,
        "describes_seen": None,
        "control_requests": 0,
    }
    with ThreadPoolExecutor(1, thread_name_prefix="bench-first-looks") as pool:
        while not done.is_set():
            await asyncio.sleep(SAMPLE_SECONDS)
            current = watchers()
            if not current or sum(w.members for w in current) + len(arrivals) < count:
                continue  # not every trigger has joined yet
            found["coalescing"] = all(w.coalescing for w in current)
            found["watchers"] = len(current)
            if not found["coalescing"]:
                break  # every trigger describes its job first: the orchestrator counts N Describe calls
            if any(w.awaiting_first_look for w in current):
                continue
            found["control_requests"] += 1
            calls = await loop.run_in_executor(pool, control.call_counts)
            found["describes_required"] = len(current)
            found["describes_seen"] = calls.get("DescribeOptimizationJob", 0)
            if found["describes_seen"] >= found["describes_required"]:
                found["done_at"] = time.time()
                break
    return found


async def run_triggers(spec: dict[str, Any], names: list[str], control: EmulatorControl) -> dict[str, Any]:
    """Run one trigger per job as concurrent tasks; return the raw measurements."""
    end_time = time.time() + spec["lead_seconds"] + spec["window_seconds"] + spec["deadline_margin_seconds"]
    triggers = [make_trigger(spec, name, end_time) for name in names]
    arrivals: dict[str, float] = {}
    statuses: dict[str, str] = {}
    messages: dict[str, str] = {}
    # (time, lag, CPU the loop's thread used meanwhile): a long lag with little loop-thread CPU means
    # the loop was descheduled or waiting for the GIL, not busy running trigger code.
    lag: list[tuple[float, float, float]] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        loop = asyncio.get_running_loop()
        while not done.is_set():
            started, cpu_started = loop.time(), time.thread_time()
            await asyncio.sleep(HEARTBEAT_SECONDS)
            lag.append((time.time(), loop.time() - started - HEARTBEAT_SECONDS, time.thread_time() - cpu_started))

    async def run_trigger(name: str, trigger: Any) -> None:
        # As Airflow's TriggerRunner.run_trigger: consume the async generator to its end.
        async for event in trigger.run():
            if name not in arrivals:
                arrivals[name] = time.time()
                statuses[name] = str(event.payload.get("status"))
                messages[name] = str(event.payload.get("message", ""))[:300]

    beat = asyncio.create_task(heartbeat())
    await asyncio.sleep(0.2)  # heartbeat settles before the burst
    go = time.time()
    tasks = [asyncio.create_task(run_trigger(name, trigger)) for name, trigger in zip(names, triggers, strict=True)]
    looks = None
    if spec["implementation"] in OUR_IMPLEMENTATIONS:
        looks = asyncio.create_task(first_looks(len(names), control, arrivals, done))
    timeout = spec["lead_seconds"] + spec["window_seconds"] + spec["deadline_margin_seconds"] + 60
    finished, pending = await asyncio.wait(tasks, timeout=timeout)
    last = time.time()
    for task in pending:
        task.cancel()
    errors = [repr(task.exception())[:300] for task in finished if task.exception() is not None]
    done.set()
    await beat
    first_look = None if looks is None else await looks
    return {
        "first_looks": first_look,
        "go": go,
        "last_event": last,
        "arrivals": arrivals,
        "statuses": statuses,
        "messages": {name: text for name, text in messages.items() if statuses.get(name) != "success"},
        "task_errors": errors[:20],
        "task_error_count": len(errors),
        "pending": len(pending),
        "lag": lag,
    }


def main(argv: list[str]) -> int:
    spec_path, result_path = Path(argv[0]), Path(argv[1])
    spec: dict[str, Any] = json.loads(spec_path.read_text())

    # Imports a triggerer running AWS triggers has done before these start (not counted as growth).
    import aiobotocore.client
    import aiobotocore.credentials
    import aiobotocore.session  # noqa: F401
    import airflow.providers.amazon.aws.hooks.base_aws
    import airflow.triggers.base  # noqa: F401
    import psutil

    from airflow_provider_optjob.testing import EmulatorControl

    if spec["implementation"] in OUR_IMPLEMENTATIONS:
        import airflow_provider_optjob.triggers.optimization_job  # noqa: F401
    else:
        import benchmarks.baseline_trigger  # noqa: F401

    control = EmulatorControl(spec["url"], timeout=60)
    created_at = time.time()
    names, planned_start = create_jobs(spec)
    creation_seconds = time.time() - created_at

    control.reset_call_counts()
    gc.collect()
    time.sleep(0.5)
    process = psutil.Process()
    rss_before = process.memory_info().rss
    sampler = Sampler()
    gc_pauses: list[tuple[float, int, float]] = []  # (time, generation, seconds)
    gc_started: list[float] = [0.0]

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            gc_started[0] = time.perf_counter()
        else:
            gc_pauses.append((time.time(), info["generation"], time.perf_counter() - gc_started[0]))

    connections_before = emulator_connections(control)
    cpu_before = sampler.sample()
    sampler.start()
    gc.callbacks.append(on_gc)
    measured = asyncio.run(run_triggers(spec, names, control))
    gc.callbacks.remove(on_gc)
    cpu_after = sampler.sample()
    connections_after = emulator_connections(control)
    sampler.stop_event.set()
    sampler.join()
    gc.collect()
    rss_after = process.memory_info().rss

    calls = control.call_counts()
    wanted = set(names)
    jobs = {job["name"]: job for job in control.jobs() if job["name"] in wanted}
    finishes = {}
    for name, job in jobs.items():
        terminal = [phase for phase in job["phases"] if phase["status"] == "COMPLETED"]
        if terminal:
            finishes[name] = terminal[0]["start"]

    result = {
        "spec": spec,
        "pid": os.getpid(),
        "python": sys.version.split()[0],
        "creation_seconds": creation_seconds,
        "planned_start": planned_start,
        "rss_before": rss_before,
        "rss_after": rss_after,
        "cpu_before": cpu_before,
        "cpu_after": cpu_after,
        "samples": sampler.samples,
        "calls": calls,
        "finishes": finishes,
        "gc_pauses": gc_pauses,
        "connections_before": connections_before,
        "connections_after": connections_after,
        **measured,
    }
    result_path.write_text(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
