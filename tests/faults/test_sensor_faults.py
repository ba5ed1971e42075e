"""Fault matrix, sensor rows: ``dag.test()`` runs of ``tests/dag_files/faults_sensor.py`` in deferrable and poke modes.

Each DAG waits on a job with a fixed name and has a downstream ``all_done`` task, ``report``, that returns the
``job_result`` XCom it found, so each row also shows what reaches downstream tasks.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from tests.airflow_runs import task_states, xcom_value
from tests.faults.matrix import SENSOR_MODES, Row, rows_for
from tests.faults.runs import Waiter, describe_calls, error_lines, meanwhile, run_dag_with_logs
from tests.job_requests import job_config

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_FILE = "faults_sensor.py"
SUCCEEDS = "task succeeds once the fault ends; COMPLETED outcome reaches the downstream task"


def seen_downstream(dag_run: Any) -> Any:
    """The ``job_result`` XCom as the downstream ``all_done`` task found it."""
    return xcom_value(dag_run, "report")["job_result"]


def job_name(row: Row) -> str:
    return f"faults-sensor-{row.mode}"


def gone_job_name(row: Row) -> str:
    return f"faults-gone-{row.mode}"


def params(rows: list[Row], *extra: Any) -> list[Any]:
    return [pytest.param(row, *extra, id=f"{row.mode}") for row in rows]


TRANSIENT_FAULTS: list[tuple[str, list[dict[str, Any]]]] = [
    ("throttling burst: 8 Describe calls answer ThrottlingException", [{"kind": "throttle", "count": 8}]),
    (
        "5xx burst: 4 Describe calls answer 500 InternalFailure, then 4 answer 503 ServiceUnavailable",
        [
            {"kind": "server_error", "count": 4, "status_code": 500},
            {"kind": "server_error", "count": 4, "status_code": 503},
        ],
    ),
    ("connection resets: 6 Describe connections dropped without an answer", [{"kind": "connection_reset", "count": 6}]),
    (
        "responses slower than the client's 1 s read timeout (1.5 s latency) for 3 s",
        [{"kind": "latency", "delay_seconds": 1.5, "seconds": 3}],
    ),
]


@pytest.mark.parametrize(
    ("row", "faults"),
    [
        pytest.param(row, faults, id=f"{row.mode}-{faults[0]['kind']}")
        for fault, faults in TRANSIENT_FAULTS
        for row in rows_for(SENSOR_MODES, fault, SUCCEEDS)
    ],
)
def test_transient_faults_end_in_success(row, faults, hook, control, capfd):
    hook.create_optimization_job(job_config(job_name(row)))
    for fault in faults:
        control.add_fault(operation="DescribeOptimizationJob", **fault)

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run) == {"wait": "success", "report": "success"}, error_lines(logs)
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
    assert control.faults() == [], "the sensor finished before it met the whole fault"


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "ResourceNotFound right after create: the job appears while the sensor waits, and stays invisible "
            "0.5 s after its creation (grace 5 s)",
            "within grace: waiting goes on; task succeeds with the COMPLETED outcome",
        )
    ),
)
def test_not_found_within_grace_then_success(row, optjob_aws_conn, control, capfd):
    control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=0.5)

    def create_once_the_sensor_looked(waiter: Waiter) -> None:
        waiter.wait_for_describes(2)
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).create_optimization_job(job_config(job_name(row)))

    with meanwhile(control, create_once_the_sensor_looked):
        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run) == {"wait": "success", "report": "success"}, error_lines(logs)
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
    assert f"Optimization job {job_name(row)} is not found yet" in logs


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "ResourceNotFound past the grace period: the job stays invisible for 30 s (grace 0.5 s)",
            "task fails soon after the grace period, naming the job and what to check",
        )
    ),
)
def test_not_found_past_grace_fails_naming_the_job(row, hook, control, capfd):
    hook.create_optimization_job(job_config(gone_job_name(row)))
    control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=30)
    started = time.monotonic()

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_gone_{row.mode}")

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    assert f"Optimization job '{gone_job_name(row)}' does not exist" in logs
    assert "check the job name, and the region and account" in logs
    seen = seen_downstream(dag_run)
    assert seen["wait_ending"]["reason"] == "error"
    assert seen["job_name"] == gone_job_name(row)
    assert time.monotonic() - started < 20, "the sensor waited far past its grace period"


ACCESS_FAULTS = [
    ("access_denied", "AccessDeniedException: identity not allowed sagemaker:DescribeOptimizationJob"),
    (
        "expired_token",
        "ExpiredTokenException: expired credentials (the emulator does not check keys, so a fault stands in "
        "for a connection with bad keys)",
    ),
]


@pytest.mark.parametrize(
    ("row", "kind"),
    [
        pytest.param(row, kind, id=f"{row.mode}-{kind}")
        for kind, fault in ACCESS_FAULTS
        for row in rows_for(
            SENSOR_MODES, fault, "task fails at once (at most 2 Describe calls); message says to check credentials"
        )
    ],
)
def test_access_errors_fail_at_once_without_a_retry_storm(row, kind, hook, control, capfd):
    hook.create_optimization_job(job_config(job_name(row)))
    control.add_fault(kind, "DescribeOptimizationJob")
    control.reset_call_counts()

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run)["wait"] == "failed"
    assert describe_calls(control) <= 2
    assert f"AWS refused access while describing optimization job '{job_name(row)}'" in logs
    assert "Check the connection's credentials" in logs


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "status the API does not list today: PAUSED (set while the sensor waits, for 1 s and until it has "
            "seen it 3 times), then the job completes",
            "PAUSED means keep waiting; task succeeds with the COMPLETED outcome",
        )
    ),
)
def test_unknown_status_keeps_waiting(row, hook, control, capfd):
    control.script_job(job_name(row), final_status="COMPLETED", inprogress_seconds=60)
    hook.create_optimization_job(job_config(job_name(row)))

    def pause_then_complete(waiter: Waiter) -> None:
        seen = waiter.wait_for_describes(1)
        control.set_job_status(job_name(row), "PAUSED", seconds=1)
        paused_at = time.monotonic()
        waiter.wait_for_describes(seen + 3)
        time.sleep(max(0.0, 1 - (time.monotonic() - paused_at)))
        control.complete_job(job_name(row))

    with meanwhile(control, pause_then_complete):
        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run) == {"wait": "success", "report": "success"}, error_lines(logs)
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
    assert f"Optimization job {job_name(row)} is PAUSED" in logs


@pytest.fixture
def empty_failure_reasons(monkeypatch):
    """Blank the FailureReason of real Describe answers (the emulator always gives one)."""
    describe = SageMakerOptimizationJobHook.describe_optimization_job
    async_describe = SageMakerOptimizationJobHook.async_describe_optimization_job

    def blank(response: dict[str, Any]) -> dict[str, Any]:
        return {**response, "FailureReason": ""} if "FailureReason" in response else response

    def describe_blank(self, job_name):
        return blank(describe(self, job_name))

    async def async_describe_blank(self, job_name, client=None):
        return blank(await async_describe(self, job_name, client))

    monkeypatch.setattr(SageMakerOptimizationJobHook, "describe_optimization_job", describe_blank)
    monkeypatch.setattr(SageMakerOptimizationJobHook, "async_describe_optimization_job", async_describe_blank)


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "FAILED job with an empty FailureReason",
            "task fails naming the job and saying no reason was given; FAILED outcome reaches downstream",
        )
    ),
)
@pytest.mark.usefixtures("empty_failure_reasons")
def test_failed_job_with_an_empty_reason(row, hook, control, capfd):
    control.script_job(job_name(row), final_status="FAILED")
    hook.create_optimization_job(job_config(job_name(row)))

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    assert f"Optimization job '{job_name(row)}' ended with status FAILED: no FailureReason was given" in logs
    seen = seen_downstream(dag_run)
    assert seen["status"] == "FAILED"
    assert not seen["failure_reason"]


LONG_REASON = ("ClientError: quantization failed at layer 31 of 32; " * 30)[:1023] + "!"


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "FAILED job with a 1024-character FailureReason (the API's maximum)",
            "task fails naming the job; the whole reason, untruncated, in the error and in XCom",
        )
    ),
)
def test_failed_job_with_a_very_long_reason(row, hook, control, capfd):
    control.script_job(job_name(row), final_status="FAILED", failure_reason=LONG_REASON)
    hook.create_optimization_job(job_config(job_name(row)))

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert len(LONG_REASON) == 1024
    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    assert f"Optimization job '{job_name(row)}' ended with status FAILED: {LONG_REASON}" in logs
    assert seen_downstream(dag_run)["failure_reason"] == LONG_REASON
    assert xcom_value(dag_run, "wait", "failure_reason") == LONG_REASON


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "COMPLETED job without OptimizationOutput",
            "task succeeds; outcome has recommended_inference_image None and the output location, in XCom",
        )
    ),
)
def test_completed_job_without_optimization_output(row, hook, control, capfd):
    control.script_job(job_name(row), final_status="COMPLETED", omit_optimization_output=True)
    hook.create_optimization_job(job_config(job_name(row)))

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_sensor_{row.mode}")

    assert task_states(dag_run) == {"wait": "success", "report": "success"}, error_lines(logs)
    seen = seen_downstream(dag_run)
    assert seen["status"] == "COMPLETED"
    assert seen["recommended_inference_image"] is None
    assert seen["output_s3_uri"] == "s3://models/optimized/"
    assert xcom_value(dag_run, "wait", "recommended_inference_image") is None


@pytest.mark.parametrize(
    "row",
    params(
        rows_for(
            SENSOR_MODES,
            "job deleted while waited on: it completes and is deleted (DeleteOptimizationJob) between two "
            "polls, so the sensor never sees it finished (grace 0.5 s)",
            "task fails within the grace period saying the job does not exist; no wait until the timeout",
        )
    ),
)
def test_job_deleted_while_waited_on(row, hook, control, optjob_aws_conn, capfd):
    control.script_job(gone_job_name(row), final_status="COMPLETED", inprogress_seconds=60)
    hook.create_optimization_job(job_config(gone_job_name(row)))

    def complete_and_delete_between_two_polls(waiter: Waiter) -> None:
        waiter.wait_for_describes(2)
        # Throttle Describe while the job completes and is deleted, so the sensor cannot see it COMPLETED.
        control.add_fault("throttle", "DescribeOptimizationJob")
        control.complete_job(gone_job_name(row))
        SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn).delete_optimization_job(gone_job_name(row))
        control.clear_faults()

    started = time.monotonic()
    with meanwhile(control, complete_and_delete_between_two_polls):
        dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_gone_{row.mode}")

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    assert f"Optimization job '{gone_job_name(row)}' does not exist" in logs
    seen = seen_downstream(dag_run)
    assert seen["wait_ending"]["reason"] == "error"
    assert seen["job_name"] == gone_job_name(row)
    assert time.monotonic() - started < 20, "the sensor waited far past its grace period"
