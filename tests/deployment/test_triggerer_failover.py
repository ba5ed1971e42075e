"""Triggers that move between triggerers: a frozen triggerer (SIGSTOP, then SIGCONT), then a killed one (SIGKILL).

One deployment, one run. Triggerer A takes every trigger of the run; only then does triggerer B start. A is frozen
for longer than ``[triggerer] triggerer_health_check_threshold``, so B adopts A's triggers, and thawed again; then B
is killed, so A adopts them back. Every task must succeed on its first try, no job may be stopped (a thawed A
cancels the triggers it lost; on Airflow 3.3 that calls their ``on_kill``, apache/airflow#73454, and the create
operator's trigger stops its job in ``on_kill``), and each trigger must really have been held by A, then B, then A.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import pytest

from tests.deployment import scenario

if TYPE_CHECKING:
    from collections.abc import Callable

    from optjob_harness.deployment import LocalDeployment
    from optjob_harness.watch import RunWatcher

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.timeout(900),
]

#: A frozen triggerer's own watchdog reports the freeze as a blocked loop: not a finding here.
FAILOVER_LOG_PATTERNS = tuple(pattern for pattern in scenario.LOG_PATTERNS if pattern != "blocked for")
#: Seconds B runs beside a healthy A before A fails (B must take nothing meanwhile).
SIDE_BY_SIDE_SECONDS = 3.0
#: A heartbeat at most this old (seconds) counts as healthy when the test needs a healthy triggerer.
FRESH_HEARTBEAT_SECONDS = 3.0
#: Seconds after a thawed A has heartbeated again, for it to notice and cancel the triggers it lost.
AFTER_THAW_SECONDS = 6.0


def heartbeat_fresh(deployment, index: int) -> bool:
    age = deployment.heartbeat_age(index)
    return age is not None and age < FRESH_HEARTBEAT_SECONDS


def test_triggers_move_to_a_thawed_triggerer_and_back_after_a_kill(deployment_factory):
    record = scenario.RunRecord(
        "failover-sigstop-then-sigkill", "Triggerer failover (SIGSTOP, then SIGKILL)", scenario.make_plan()
    )
    plan, mark = record.plan, record.mark
    observation = None
    error = None

    with deployment_factory(env=scenario.FAILOVER_ENV) as deployment:
        watcher = None
        a_job = deployment.triggerer_job_ids[0]
        b_job = None
        try:
            scenario.prepare_jobs(deployment, plan)
            _, watcher = scenario.start_run(deployment, plan)
            # A healthy A (heartbeat fresh) holds every trigger before B exists: B can only adopt them by failover.
            watcher.wait_for(
                lambda seen: (
                    scenario.all_checked_their_jobs(plan, seen)
                    and scenario.held_by(plan, seen, a_job)
                    and heartbeat_fresh(deployment, 0)
                ),
                scenario.DEFAULT_TIMEOUT,
                "every trigger to be held by a healthy triggerer A",
                deployment.check_alive,
            )
            mark(f"triggerer A (job {a_job}) holds every trigger")
            b_job = deployment.triggerer_job_ids[deployment.start_triggerer()]
            mark(f"triggerer B (job {b_job}) started")
            time.sleep(SIDE_BY_SIDE_SECONDS)
            if not scenario.held_by(plan, watcher.snapshot(), a_job):
                mark("triggerer B took triggers from a healthy triggerer A")
            freeze_until_adopted_then_thaw(deployment, plan, watcher, b_job, mark)
            # A heartbeats again and has cancelled the triggers it lost: now B dies outright, and A adopts them back.
            watcher.wait_for(
                lambda _: heartbeat_fresh(deployment, 0),
                60,
                "thawed triggerer A to heartbeat on time",
                deployment.check_alive,
            )
            killed_at_epoch = time.time()
            deployment.kill_triggerer(1)
            mark("triggerer B killed (SIGKILL)")
            watcher.wait_for(
                lambda seen: scenario.held_by(plan, seen, a_job),
                scenario.HEALTH_CHECK_THRESHOLD_SECONDS + 120,
                "triggerer A to take every trigger back",
                deployment.check_alive,
            )
            mark("triggerer A holds every trigger again")
            watcher.wait_for(
                lambda _: scenario.polled_every_store_since(deployment, killed_at_epoch),
                120,
                "triggerer A to poll every store's jobs again",
                deployment.check_alive,
            )
            mark("triggerer A polls every store's jobs")
            scenario.finish_jobs(deployment, plan)
            mark("jobs completed")
            observation = deployment.wait_run_finished(watcher, scenario.DEFAULT_TIMEOUT)
            mark(f"run {observation.state}")
        except Exception as exc:  # reported per store below, then asserted
            error = f"{type(exc).__name__}: {exc}"
            observation = watcher.stop() if watcher else None
        findings = scenario.collect_findings(deployment, error, FAILOVER_LOG_PATTERNS)
        expected_holders = [a_job, b_job, a_job]
        moves = {
            task_id: [
                f"{task_id} held by triggerer jobs {task.triggerer_history}, not A ({a_job}), B ({b_job}), then A"
            ]
            for task_id in plan.jobs
            if observation
            and b_job is not None  # else the test stopped earlier, for a reason reported already
            and (task := observation.tasks.get(task_id))
            and "deferred" in task.history
            and task.triggerer_history != expected_holders
        }
        scenario.report_run(record, deployment, observation, findings, moves)


def freeze_until_adopted_then_thaw(
    deployment: LocalDeployment, plan: scenario.Plan, watcher: RunWatcher, b_job: int, mark: Callable[[str], None]
) -> None:
    """Freeze triggerer A past the health threshold, until B holds every trigger and polls them; then thaw A.

    :param deployment: the running deployment; triggerer A is its first, B its second.
    :param plan: the run's tasks and jobs.
    :param watcher: the run's watcher.
    :param b_job: B's ``TriggererJob`` id.
    :param mark: records a moment of the timeline.
    """
    deployment.freeze_triggerer(0)
    frozen_at, frozen_at_epoch = time.monotonic(), time.time()
    mark("triggerer A frozen (SIGSTOP)")
    watcher.wait_for(
        lambda seen: scenario.held_by(plan, seen, b_job),
        scenario.HEALTH_CHECK_THRESHOLD_SECONDS + 120,
        "triggerer B to take every trigger",
        deployment.check_alive,
    )
    mark("triggerer B holds every trigger")
    # B may adopt the triggers sooner (A's last heartbeat can be older than the freeze): A stays frozen past the
    # threshold all the same, as a triggerer host that hangs for a while would.
    time.sleep(max(0.0, frozen_at + scenario.HEALTH_CHECK_THRESHOLD_SECONDS + 2 - time.monotonic()))
    # B stalls its heartbeat while it serves the adopted triggers' first connection lookups (Airflow 3 starts its
    # in-process execution API then: 10-15 s on a busy 2-core machine); a thawed A would take back the triggers of
    # a B whose heartbeat is older than the (lowered) threshold. So A is thawed once B polls the jobs of every
    # store (its lookups are done) and heartbeats on time.
    watcher.wait_for(
        lambda _: scenario.polled_every_store_since(deployment, frozen_at_epoch) and heartbeat_fresh(deployment, 1),
        120,
        "triggerer B to poll every store's jobs and heartbeat on time",
        deployment.check_alive,
    )
    mark("triggerer B polls every store's jobs")
    heartbeat = deployment.latest_heartbeat(0)
    deployment.thaw_triggerer(0)
    mark(f"triggerer A thawed (SIGCONT) after {time.monotonic() - frozen_at:.1f} s frozen")
    watcher.wait_for(
        lambda _: deployment.latest_heartbeat(0) != heartbeat,
        60,
        "thawed triggerer A to heartbeat again",
        deployment.check_alive,
    )
    mark("triggerer A heartbeats again")
    time.sleep(AFTER_THAW_SECONDS)
