"""Ending a create-and-wait task mid-wait as a person, a timeout or a dying worker does: what happens to its job.

One real deployment (scheduler, triggerer, DAG processor, API server). Four create-and-wait tasks defer on
running jobs and a fifth waits on its worker; then, through the REST API as the UI does, one is cleared, one
marked failed and one marked success, the fourth reaches its ``max_wait``, and the fifth's task process is
killed (SIGKILL). Expected (the table in ``docs/operators.rst``):

- clear: the job keeps running; the new try attaches to it and succeeds when it completes;
- mark failed: on Airflow 3.3 the trigger's ``on_kill`` sees the task ``failed`` and stops the job; earlier
  versions never call a trigger's ``on_kill``, so the job keeps running;
- mark success: the job keeps running;
- ``max_wait``: the task fails with a ``timeout`` wait ending in XCom; the job keeps running;
- worker death: the job keeps running (a killed process runs no ``on_kill``); Airflow's retry attaches to it
  and succeeds when it completes;
- a job that fails by itself: Airflow's retry starts a new job under the derived name (``-r2``) and succeeds
  when that one completes.

Airflow 3.0 differs in two rows, by its own rules: a task whose process is killed is marked failed with no
retry, and resuming from a deferral takes a try, so ``retries=1`` is spent by the time a deferred task's job
fails. There the killed task and the failed-job task end ``failed``, the killed task's job keeps running and
no second job is created.

No other job is ever stopped, and no task creates a second job.
"""

from __future__ import annotations

import secrets
import time

import pytest

from airflow_provider_optjob.testing.airflow_env import airflow_major_version, airflow_minor_version
from tests.deployment import scenario

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.timeout(600),
    pytest.mark.skipif(airflow_major_version() < 3, reason="marks task states through Airflow 3's REST API"),
]

STOPPED = frozenset({"STOPPING", "STOPPED"})
#: A job that ends by itself a few seconds after it is created.
QUICK_PHASES = [("STARTING", 1.0), ("INPROGRESS", 2.0)]
#: The retry's job runs longer. Airflow 3.3.1's scheduler can take the deferring process's exit ("success") only
#: after the resumed try has started running, and then fails that try as "changed externally": a trigger that
#: fires a few seconds after its task deferred, on a busy machine, meets that race.
RETRY_PHASES = [("STARTING", 1.0), ("INPROGRESS", 12.0)]
#: Seconds for every trigger to poll its job at least once (the DAG's poke interval is 2 s).
FIRST_POLLS_SECONDS = 3.0


def triggers_running(deployment, tasks) -> bool:
    """Whether each task's trigger has started in the triggerer (it has written its trigger log file)."""
    names = [path.as_posix() for path in deployment.task_log_files()]
    return all(any(f"/task_id={task}/attempt=1.log.trigger." in name for name in names) for task in tasks)


def airflow_3_0() -> bool:
    """Whether this is Airflow 3.0, whose retries differ (see the module's docstring)."""
    from importlib.metadata import version

    return version("apache-airflow").startswith("3.0.")


def on_kill_reaches_triggers() -> bool:
    """Whether this Airflow's triggerer calls ``BaseTrigger.on_kill`` when it cancels a trigger (3.3 on)."""
    return airflow_minor_version() >= (3, 3)


def test_clear_mark_failed_mark_success_max_wait_and_worker_death_mid_wait(deployment_factory):
    dag = scenario.dag_module("optjob_task_endings")
    tag = f"e{int(time.time())}{secrets.token_hex(2)}"
    jobs = {ending: dag.job_name(tag, ending) for ending in dag.ENDINGS}
    retried_job = f"{jobs['failed_job']}-r2"
    retries_run = not airflow_3_0()

    with deployment_factory() as deployment:
        control = deployment.emulator
        for ending, name in jobs.items():
            if ending != "failed_job":
                control.script_job(name, final_status="COMPLETED", phases=scenario.HELD_PHASES)
        control.script_job(jobs["failed_job"], final_status="FAILED", phases=QUICK_PHASES)
        control.script_job(retried_job, final_status="COMPLETED", phases=RETRY_PHASES)
        run_id = deployment.trigger_dag(dag.DAG_ID, run_id=f"manual__{tag}", conf={"tag": tag})
        watcher = deployment.watch_run(dag.DAG_ID, run_id)
        try:
            deferring = [ending for ending in jobs if ending not in {"worker_death", "failed_job"}]
            watcher.wait_for(
                lambda seen: (
                    all(seen.tasks.get(e) and seen.tasks[e].state == "deferred" for e in deferring)
                    and triggers_running(deployment, deferring)
                    and seen.tasks.get("worker_death") is not None
                    and seen.tasks["worker_death"].state == "running"
                    and scenario.job_statuses(deployment).get(jobs["worker_death"]) == "INPROGRESS"
                ),
                scenario.DEFAULT_TIMEOUT,
                "every task to defer and its trigger to run in the triggerer",
                deployment.check_alive,
            )
            time.sleep(FIRST_POLLS_SECONDS)
            deployment.kill_task_process(dag.DAG_ID, run_id, "worker_death")
            deployment.clear_task(dag.DAG_ID, run_id, "clear")
            deployment.set_task_state(dag.DAG_ID, run_id, "mark_failed", "failed")
            deployment.set_task_state(dag.DAG_ID, run_id, "mark_success", "success")
            watcher.wait_for(
                lambda seen: (
                    seen.tasks["clear"].try_number >= 2
                    and seen.tasks["clear"].state == "deferred"
                    and seen.tasks["max_wait"].state == "failed"
                    and (
                        seen.tasks["worker_death"].try_number >= 2 and seen.tasks["worker_death"].state == "running"
                        if retries_run
                        else seen.tasks["worker_death"].state == "failed"
                    )
                    and seen.tasks["failed_job"].try_number >= 2
                ),
                scenario.DEFAULT_TIMEOUT,
                "the cleared task to defer again, the max_wait task to fail, the killed and failed-job tasks to retry",
                deployment.check_alive,
            )
            if on_kill_reaches_triggers():  # the trigger reads the task's state first, then stops the job
                watcher.wait_for(
                    lambda _: scenario.job_statuses(deployment).get(jobs["mark_failed"]) in STOPPED,
                    60,
                    "the marked-failed task's job to be stopped",
                    deployment.check_alive,
                )
            # The triggers of the ended tasks are cancelled by now: time for a wrong stop to show.
            time.sleep(5)
            statuses_before_completion = scenario.job_statuses(deployment)
            control.complete_job(jobs["clear"])
            control.complete_job(jobs["worker_death"])
            observation = deployment.wait_run_finished(watcher, scenario.DEFAULT_TIMEOUT)
        finally:
            watcher.stop()
        wait_ending = deployment.xcom(dag.DAG_ID, run_id, "max_wait", "wait_ending")
        used_job_names = {
            e: deployment.xcom(dag.DAG_ID, run_id, e, "job_name") for e in ("clear", "worker_death", "failed_job")
        }
        hits = scenario.scan_logs(deployment, scenario.HARD_LOG_PATTERNS)
        final_job_statuses = scenario.job_statuses(deployment)

    states = observation.task_states()
    stopped = {name for name, status in statuses_before_completion.items() if status in STOPPED}
    expected_stopped = {jobs["mark_failed"]} if on_kill_reaches_triggers() else set()
    final_statuses = {name: status for name, status in final_job_statuses.items() if name.startswith(f"{tag}-")}

    assert states == {
        "clear": "success",
        "mark_failed": "failed",
        "mark_success": "success",
        "max_wait": "failed",
        "worker_death": "success" if retries_run else "failed",
        "failed_job": "success" if retries_run else "failed",
    }, {task_id: task.history for task_id, task in observation.tasks.items()}
    assert stopped == expected_stopped
    assert final_statuses[jobs["failed_job"]] == "FAILED"
    assert used_job_names["clear"] == jobs["clear"]
    assert used_job_names["worker_death"] == jobs["worker_death"]
    if retries_run:
        assert set(final_statuses) == {*jobs.values(), retried_job}, "a task created a second job, or none"
        assert final_statuses[retried_job] == "COMPLETED"
        assert used_job_names["failed_job"] == retried_job
        assert observation.tasks["clear"].try_number == 2
        assert observation.tasks["worker_death"].try_number == 2
        assert observation.tasks["failed_job"].try_number == 2
    else:
        assert set(final_statuses) == set(jobs.values()), "a task created a second job"
        assert used_job_names["failed_job"] == jobs["failed_job"]
    assert statuses_before_completion[jobs["mark_success"]] == "INPROGRESS"
    assert statuses_before_completion[jobs["max_wait"]] == "INPROGRESS"
    assert wait_ending["reason"] == "timeout"
    assert not hits, f"triggerer or trigger logs: {hits}"
