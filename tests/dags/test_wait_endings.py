"""Every way a wait ends, in real Airflow: the downstream ``all_done`` task reads the ending and the last status.

Runs ``tests/dag_files/wait_endings.py`` with ``dag.test()`` against the emulator, for the sensor in each mode and
the create operator waiting in the triggerer or on the worker.
"""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from tests.airflow_runs import load_dag, run_dag, task_states, xcom_value
from tests.dag_files.wait_endings import job_name
from tests.faults.runs import Waiter, meanwhile
from tests.job_requests import job_config

pytestmark = pytest.mark.usefixtures("airflow_db")

SENSORS = ["sensor_deferrable", "sensor_poke", "sensor_reschedule"]
CREATES = ["create_deferrable", "create_worker"]
COMPONENTS = SENSORS + CREATES


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


@pytest.fixture
def control(optjob_aws_conn: str, sagemaker_emulator: Any) -> Any:
    return sagemaker_emulator.control


AIRFLOW_3_0 = version("apache-airflow").startswith("3.0.")


def start_job(component: str, hook: SageMakerOptimizationJobHook, control: Any, **script: Any) -> None:
    """Script the component's job; a sensor waits on a job that exists already, a create task makes its own."""
    if script:
        control.script_job(job_name(component), **script)
    if component.startswith("sensor"):
        hook.create_optimization_job(job_config(job_name(component)))


def run(component: str, dag_id_prefix: str = "endings") -> Any:
    return run_dag(load_dag("wait_endings.py", f"{dag_id_prefix}_{component}"))


def reported(dag_run: Any) -> Any:
    """What the downstream ``all_done`` task read."""
    return xcom_value(dag_run, "report")


@pytest.mark.parametrize("component", COMPONENTS)
@pytest.mark.parametrize(
    ("final_status", "failure_reason", "reason", "state"),
    [
        ("COMPLETED", None, "completed", "success"),
        ("FAILED", "Quantization diverged", "failed", "failed"),
        ("STOPPED", None, "stopped", "failed"),
    ],
    ids=["completed", "failed", "stopped"],
)
def test_terminal_job_ending_reaches_downstream(component, final_status, failure_reason, reason, state, hook, control):
    start_job(component, hook, control, final_status=final_status, failure_reason=failure_reason)

    dag_run = run(component)

    assert task_states(dag_run) == {"wait": state, "report": "success"}
    seen = reported(dag_run)
    assert seen["wait_ending"]["reason"] == reason
    assert f"'{job_name(component)}' ended with status {final_status}" in seen["wait_ending"]["message"]
    assert seen["job_result"]["status"] == final_status
    assert seen["job_result"]["failure_reason"] == failure_reason
    assert seen["job_result"]["wait_ending"] == seen["wait_ending"]
    if state == "success":
        assert xcom_value(dag_run, "wait") == seen["job_result"]


@pytest.mark.parametrize(
    "component",
    [
        pytest.param(
            component,
            marks=pytest.mark.xfail(
                AIRFLOW_3_0 and component == "sensor_reschedule",
                reason="Airflow 3.0.x's dag.test() hands a rescheduled sensor its first reschedule date as a string "
                "(its in-process API client skips validation), BaseSensorOperator raises TypeError, and the wait "
                "ends as an error ending, not a timeout",
            ),
        )
        for component in COMPONENTS
    ],
)
def test_timeout_ending_names_the_last_status(component, hook, control):
    start_job(component, hook, control, final_status="COMPLETED", starting_seconds=0, inprogress_seconds=600)

    dag_run = run(component)

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    seen = reported(dag_run)
    assert seen["wait_ending"]["reason"] == "timeout"
    assert seen["job_result"]["job_name"] == job_name(component)
    assert seen["job_result"]["status"] == "INPROGRESS"
    assert seen["job_result"]["wait_ending"] == seen["wait_ending"]
    assert xcom_value(dag_run, "wait", "status") == "INPROGRESS"


def test_soft_fail_timeout_skips_after_pushing_the_ending(hook, control):
    start_job(
        "sensor_poke_soft_fail", hook, control, final_status="COMPLETED", starting_seconds=0, inprogress_seconds=600
    )

    dag_run = run("sensor_poke_soft_fail")

    assert task_states(dag_run) == {"wait": "skipped", "report": "success"}
    seen = reported(dag_run)
    assert seen["wait_ending"]["reason"] == "timeout"
    assert seen["job_result"]["status"] == "INPROGRESS"


@pytest.mark.parametrize("component", COMPONENTS)
def test_access_denied_ending_reaches_downstream(component, hook, control):
    start_job(component, hook, control, final_status="COMPLETED", inprogress_seconds=600)

    def deny_describe_once_the_job_exists(waiter: Waiter) -> None:
        # A create task describes the name before creating the job; deny only the describes of its wait.
        while control.call_counts().get("CreateOptimizationJob", 0) < 1:
            waiter.wait_for_describes(control.call_counts().get("DescribeOptimizationJob", 0) + 1)
        control.add_fault("access_denied", "DescribeOptimizationJob")

    with meanwhile(control, deny_describe_once_the_job_exists):
        dag_run = run(component)

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    seen = reported(dag_run)
    assert seen["wait_ending"]["reason"] == "error"
    assert (
        f"AWS refused access while describing optimization job '{job_name(component)}'"
        in (seen["wait_ending"]["message"])
    )
    assert seen["job_result"]["job_name"] == job_name(component)
    assert seen["job_result"]["wait_ending"] == seen["wait_ending"]


@pytest.mark.parametrize("component", COMPONENTS)
def test_not_found_ending_reaches_downstream(component, control):
    if component.startswith("create"):
        control.add_fault("not_found_after_create", "DescribeOptimizationJob", after_create_seconds=600)

    dag_run = run(component, "missing")

    assert task_states(dag_run) == {"wait": "failed", "report": "success"}
    seen = reported(dag_run)
    assert seen["wait_ending"]["reason"] == "error"
    assert f"'{job_name(component)}'" in seen["wait_ending"]["message"]
    assert seen["job_result"]["job_name"] == job_name(component)
    assert seen["job_result"]["status"] is None
    assert seen["job_result"]["wait_ending"] == seen["wait_ending"]
