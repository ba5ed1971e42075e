"""An event-driven DAG in a real deployment: a job created outside Airflow completes, and the DAG runs once.

One deployment (scheduler, triggerer, DAG processor, API server) for the whole story. The DAG
``optjob_asset_watcher`` is scheduled on an asset watched by ``SageMakerOptimizationJobEventTrigger`` (polling
every second). Once the trigger polls in the triggerer, a job is created straight through the emulator's API
with boto3 and completes a few seconds later. Expected: exactly one asset event, whose extra holds the job's
outcome; exactly one DAG run, whose task read that outcome; no second event or run after several more polls.
On Airflow 3.3 the trigger's cursor is in the asset state store (the ``asset_state_store`` table) and names the
job it fired for.

Then across a restart: the triggerer is killed (SIGKILL), a second job completes while no triggerer runs, and a
new triggerer adopts the trigger. Where the cursor is in the asset state store (3.3), the second job fires once
and the first never again; where it is in memory (3.0 to 3.2), the documented window applies: the second job
is missed, and the first does not fire again.
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any

import pytest

from airflow_provider_optjob.testing.airflow_env import airflow_major_version
from optjob_harness.processes import wait_until
from tests.deployment import scenario
from tests.job_requests import job_config

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.timeout(600),
    pytest.mark.skipif(airflow_major_version() < 3, reason="asset watchers (BaseEventTrigger) need Airflow 3.0+"),
]

TRIGGER_CLASSPATH = "airflow_provider_optjob.triggers.job_events.SageMakerOptimizationJobEventTrigger"
TIMEOUT = 180.0
#: Phases of a job created outside Airflow: it completes 3 s after its creation.
QUICK_PHASES = [("STARTING", 1.0), ("INPROGRESS", 2.0)]


def asset_events(deployment: Any, asset_name: str) -> list[dict[str, Any]]:
    rows = deployment.database.query(
        "SELECT e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id WHERE a.name = ? ORDER BY e.id", asset_name
    )
    return [json.loads(extra) if isinstance(extra, str) else extra for (extra,) in rows]


def dag_runs(deployment: Any, dag_id: str) -> list[tuple[str, str]]:
    return [
        (str(run_id), str(state))
        for run_id, state in deployment.database.query(
            "SELECT run_id, state FROM dag_run WHERE dag_id = ? ORDER BY id", dag_id
        )
    ]


def list_calls(deployment: Any) -> int:
    return int(deployment.emulator.call_counts().get("ListOptimizationJobs", 0))


def stored_cursors(deployment: Any) -> list[tuple[str, dict[str, Any]]] | None:
    """The asset state store's rows of the trigger, or ``None`` where Airflow has no asset state store."""
    if not deployment.database.query("SELECT name FROM sqlite_master WHERE name = 'asset_state_store'"):
        return None
    rows = deployment.database.query("SELECT key, value FROM asset_state_store")
    return [(str(key), json.loads(value)) for key, value in rows if str(key).startswith("sagemaker_optimization_job")]


def new_job_name(dag: Any) -> str:
    return f"{dag.JOB_NAME_PART}-{int(time.time())}{secrets.token_hex(2)}"


def event_trigger_holder(deployment: Any) -> int | None:
    """The ``TriggererJob`` id that holds the event trigger (``None``: not assigned, or no trigger row yet)."""
    holders = [row.triggerer_id for row in deployment.triggers() if row.classpath == TRIGGER_CLASSPATH]
    return holders[0] if holders else None


def complete_job_outside_airflow(deployment: Any, job_name: str) -> None:
    """Create a job straight through the emulator's API with boto3, as the console or the SDK would."""
    deployment.emulator.script_job(job_name, "COMPLETED", phases=QUICK_PHASES)
    scenario.setup_client(deployment).create_optimization_job(**job_config(job_name))


def job_status(deployment: Any, job_name: str) -> str | None:
    return next((str(job["status"]) for job in deployment.emulator.jobs() if job["name"] == job_name), None)


def wait_for_polls(deployment: Any, count: int, what: str) -> None:
    polls = list_calls(deployment)
    wait_until(lambda: list_calls(deployment) >= polls + count, TIMEOUT, what, deployment._watched)


def run_the_first_job(deployment: Any, dag: Any, job_name: str) -> None:
    """Unpause the event-driven DAG, let its trigger poll, then complete a job and wait for the run it starts."""
    watched = deployment._watched
    deployment.wait_for_dag(dag.DAG_ID)
    deployment.airflow("dags", "unpause", dag.DAG_ID)
    wait_until(
        lambda: bool(event_trigger_holder(deployment)),
        TIMEOUT,
        "the event trigger to be assigned to the triggerer",
        watched,
    )
    wait_until(lambda: list_calls(deployment) >= 2, TIMEOUT, "the event trigger to poll", watched)
    complete_job_outside_airflow(deployment, job_name)
    wait_until(lambda: bool(asset_events(deployment, dag.ASSET_NAME)), TIMEOUT, "the asset event", watched)
    wait_until(
        lambda: [state for _, state in dag_runs(deployment, dag.DAG_ID)] == ["success"],
        TIMEOUT,
        "the event-driven run to succeed",
        watched,
    )


def test_a_job_finished_outside_airflow_runs_the_event_driven_dag_once_and_across_a_triggerer_kill(
    deployment_factory,
):
    dag = scenario.dag_module("optjob_asset_watcher")
    first_job, second_job = new_job_name(dag), new_job_name(dag) + "b"

    with deployment_factory(env=scenario.FAILOVER_ENV) as deployment:
        watched = deployment._watched
        run_the_first_job(deployment, dag, first_job)
        wait_for_polls(deployment, 3, "three more polls")
        check_the_first_job_fired_once(deployment, dag, first_job)

        first_holder = event_trigger_holder(deployment)
        cursors_before = stored_cursors(deployment)
        deployment.kill_triggerer(0)
        complete_job_outside_airflow(deployment, second_job)
        wait_until(
            lambda: job_status(deployment, second_job) == "COMPLETED",
            TIMEOUT,
            "the second job to complete while no triggerer runs",
            watched,
        )
        second_holder = deployment.triggerer_job_ids[deployment.start_triggerer()]
        wait_until(
            lambda: event_trigger_holder(deployment) == second_holder,
            TIMEOUT,
            "the new triggerer to adopt the event trigger",
            watched,
        )
        if cursors_before is not None:  # Airflow 3.3+: the second job fires from the resumed cursor
            wait_until(
                lambda: [state for _, state in dag_runs(deployment, dag.DAG_ID)] == ["success", "success"],
                TIMEOUT,
                "the second job's run to succeed",
                watched,
            )
        wait_for_polls(deployment, 3, "three polls by the new triggerer")

        events = asset_events(deployment, dag.ASSET_NAME)
        runs = dag_runs(deployment, dag.DAG_ID)
        cursors = stored_cursors(deployment)
        findings = scenario.scan_logs(deployment, scenario.HARD_LOG_PATTERNS)

    assert first_holder != second_holder
    fired = [event["payload"]["job_name"] for event in events]
    if cursors is not None:  # Airflow 3.3+: the new trigger resumed from the stored cursor
        assert fired == [first_job, second_job], fired
        assert [state for _, state in runs] == ["success", "success"], runs
        assert cursors_before is not None
        ((_, before),), ((_, after),) = cursors_before, cursors
        assert after["baseline"] == before["baseline"], "the new triggerer resumed the cursor, not a new first start"
    else:  # the cursor was in memory: a new first start, so the job that ended meanwhile counts as terminal at start
        assert fired == [first_job], fired
        assert [state for _, state in runs] == ["success"], runs
    assert not findings, findings


def check_the_first_job_fired_once(deployment: Any, dag: Any, job_name: str) -> None:
    """One asset event with the job's outcome, one DAG run whose task read it, the cursor naming the job (3.3+).

    :param deployment: the running deployment.
    :param dag: the event-driven DAG's module.
    :param job_name: the job completed outside Airflow.
    """
    events = asset_events(deployment, dag.ASSET_NAME)
    runs = dag_runs(deployment, dag.DAG_ID)
    assert len(events) == 1, events
    assert len(runs) == 1, runs
    ((run_id, _),) = runs
    payload = events[0]["payload"]
    assert payload["status"] == "success"
    assert payload["job_name"] == job_name
    assert payload["result"]["job_name"] == job_name
    assert payload["result"]["status"] == "COMPLETED"
    assert payload["result"]["recommended_inference_image"]
    assert deployment.xcom(dag.DAG_ID, run_id, "outcomes") == [payload["result"]]
    cursors = stored_cursors(deployment)
    if cursors is not None:  # Airflow 3.3+: the cursor outlives the trigger
        ((key, cursor),) = cursors
        assert job_name in cursor["fired"], (key, cursor)
    findings = scenario.scan_logs(deployment, scenario.HARD_LOG_PATTERNS)
    assert not findings, findings
