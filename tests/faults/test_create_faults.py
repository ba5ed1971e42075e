"""Fault matrix, create-operator rows: ``dag.test()`` runs of ``tests/dag_files/faults_create.py``.

The operator waits in the triggerer (``deferrable``) or on the worker (``worker``). Each DAG creates a job with a
fixed name and has a downstream ``all_done`` task, ``report``, that returns the ``job_result`` XCom it found.
"""

from __future__ import annotations

from typing import Any

import pytest

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from tests.airflow_runs import task_states, xcom_value
from tests.faults.matrix import CREATE_DEFERRABLE, CREATE_MODES, CREATE_ON_WORKER, Row, rows_for
from tests.faults.runs import describe_calls, error_lines, optimization_job_calls, run_dag_with_logs

pytestmark = pytest.mark.usefixtures("airflow_db")

DAG_FILE = "faults_create.py"
SUCCEEDS_WITH_ONE_JOB = "task succeeds once the fault ends; exactly one job exists; COMPLETED outcome in XCom"


def job_name(row: Row) -> str:
    return f"faults-create-{row.mode}"


def seen_downstream(dag_run: Any) -> Any:
    """The ``job_result`` XCom as the downstream ``all_done`` task found it."""
    return xcom_value(dag_run, "report")["job_result"]


def job_names(hook) -> list[str]:
    return [summary["OptimizationJobName"] for summary in hook.list_optimization_jobs()]


@pytest.fixture
def worker_dies_after_create(monkeypatch):
    """Make the task's first try end right after CreateOptimizationJob returned, before any wait starts."""
    persist_link = SageMakerCreateOptimizationJobOperator._persist_link
    tries: list[int] = []

    def die_on_first_try(self, context, job_name):
        tries.append(1)
        if len(tries) == 1:
            raise RuntimeError("worker lost after CreateOptimizationJob (simulated)")
        persist_link(self, context, job_name)

    monkeypatch.setattr(SageMakerCreateOptimizationJobOperator, "_persist_link", die_on_first_try)


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.mode)
        for row in rows_for(
            CREATE_MODES,
            "worker dies between create and wait (first try ends right after CreateOptimizationJob); the task "
            "is retried",
            "the retry attaches to the job it created; exactly one job exists; task succeeds",
        )
    ],
)
@pytest.mark.usefixtures("worker_dies_after_create")
def test_retry_after_a_lost_worker_attaches_to_the_job(row, hook, control, capfd):
    name = f"faults-retried-{row.mode}"

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_retried_{row.mode}")

    assert task_states(dag_run) == {"create": "success", "report": "success"}, error_lines(logs)
    assert next(ti for ti in dag_run.get_task_instances() if ti.task_id == "create").try_number == 2
    assert job_names(hook) == [name]
    # The retry finds the job its first try created (owner tags name this task instance and try 1) and
    # attaches to it without another CreateOptimizationJob call.
    assert control.call_counts()["CreateOptimizationJob"] == 1
    assert f"Attaching to optimization job {name}" in logs
    assert seen_downstream(dag_run)["job_arn"] == hook.describe_optimization_job(name)["OptimizationJobArn"]


CREATE_FAULTS: list[tuple[Row, dict[str, Any]]] = [
    (
        Row(
            CREATE_DEFERRABLE,
            "CreateOptimizationJob answers slower than the 1 s read timeout (1.5 s, once): the job is created "
            "while the client gives up and retries",
            SUCCEEDS_WITH_ONE_JOB,
        ),
        {"kind": "latency", "delay_seconds": 1.5, "count": 1},
    ),
    (
        Row(
            CREATE_DEFERRABLE,
            "5xx burst: 4 CreateOptimizationJob calls answer 500 InternalFailure",
            SUCCEEDS_WITH_ONE_JOB,
        ),
        {"kind": "server_error", "count": 4},
    ),
    (
        Row(
            CREATE_ON_WORKER,
            "CreateOptimizationJob throttled (ThrottlingException) for 4 s, longer than botocore's 3 attempts last",
            SUCCEEDS_WITH_ONE_JOB,
        ),
        {"kind": "throttle", "seconds": 4},
    ),
]


@pytest.mark.parametrize(
    ("row", "fault"), [pytest.param(row, fault, id=f"{row.mode}-{fault['kind']}") for row, fault in CREATE_FAULTS]
)
def test_faults_on_create_end_with_one_job(row, fault, hook, control, capfd):
    control.add_fault(operation="CreateOptimizationJob", **fault)

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_create_{row.mode}")

    assert task_states(dag_run) == {"create": "success", "report": "success"}, error_lines(logs)
    assert job_names(hook) == [job_name(row)]
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
    assert control.faults() == [], "the operator finished before it met the whole fault"


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.mode)
        for row in rows_for(
            CREATE_MODES,
            "while waiting: 3 Describe calls answer 503, then 3 connections are reset",
            SUCCEEDS_WITH_ONE_JOB,
        )
    ],
)
def test_faults_while_waiting_end_in_success(row, hook, control, capfd):
    control.add_fault("server_error", "DescribeOptimizationJob", count=3, status_code=503)
    control.add_fault("connection_reset", "DescribeOptimizationJob", count=3)

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_create_{row.mode}")

    assert task_states(dag_run) == {"create": "success", "report": "success"}, error_lines(logs)
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
    assert job_names(hook) == [job_name(row)]
    assert control.faults() == []


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(
            Row(
                CREATE_DEFERRABLE,
                "AccessDeniedException on CreateOptimizationJob",
                "task fails at once (one Create call after the ownership Describe); message names the refused "
                "permission",
            ),
            id="deferrable",
        )
    ],
)
def test_access_denied_on_create_fails_at_once(row, hook, control, capfd):
    control.add_fault("access_denied", "CreateOptimizationJob")

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_create_{row.mode}")

    assert task_states(dag_run)["create"] == "failed"
    assert optimization_job_calls(control) == {"DescribeOptimizationJob": 1, "CreateOptimizationJob": 1}
    assert "is not authorized to perform: sagemaker:CreateOptimizationJob" in logs


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.mode)
        for row in rows_for(
            CREATE_MODES,
            "ExpiredTokenException on every Describe (expired credentials)",
            "task fails at once, at the ownership check before create (one Describe call); message says to "
            "check credentials",
        )
    ],
)
def test_expired_credentials_while_waiting_fail_at_once(row, hook, control, capfd):
    control.add_fault("expired_token", "DescribeOptimizationJob")

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_create_{row.mode}")

    assert task_states(dag_run)["create"] == "failed"
    assert describe_calls(control) == 1
    assert f"AWS refused access while describing optimization job '{job_name(row)}'" in logs
    assert "Check the connection's credentials" in logs
    assert job_names(hook) == []


@pytest.mark.parametrize(
    "row",
    [
        pytest.param(row, id=row.mode)
        for row in rows_for(
            CREATE_MODES,
            "ResourceNotFound right after create: the first Describe of the new job says it does not exist (grace 5 s)",
            "within grace: waiting goes on; task succeeds with the COMPLETED outcome",
        )
    ],
)
def test_not_found_right_after_create_is_tolerated(row, hook, control, capfd):
    # Counted, not timed: a first look later than a timed window (a slow trigger start) would miss it.
    control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=600, count=1)

    dag_run, logs = run_dag_with_logs(capfd, DAG_FILE, f"faults_create_{row.mode}")

    assert task_states(dag_run) == {"create": "success", "report": "success"}, error_lines(logs)
    assert f"Optimization job {job_name(row)} is not found yet" in logs
    assert seen_downstream(dag_run)["status"] == "COMPLETED"
