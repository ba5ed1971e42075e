"""DAGs whose wait can end every way, each followed by an ``all_done`` task that reports the ending it read.

``endings_<component>`` has a task ``wait`` that waits on the job ``endings-<component>`` (sensors wait on a job
the test creates; create operators create it), 8 s at most, taking "not found" for 0.5 s; ``missing_<component>``
waits on the same job for 300 s, for a job that never appears. Components: the sensor
in each mode (``sensor_deferrable``, ``sensor_poke``, ``sensor_reschedule``, and ``sensor_poke_soft_fail``),
and the create operator waiting in the triggerer (``create_deferrable``) or on the worker (``create_worker``).
The downstream task ``report`` returns ``{"wait_ending": ..., "job_result": ...}`` as ``xcom_pull`` found them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor
from tests.job_requests import job_config

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

WAIT_SECONDS = 8
MISSING_JOB_WAIT_SECONDS = 300
POKE_SECONDS = 0.2
GRACE_SECONDS = 0.5
SENSORS: dict[str, dict[str, Any]] = {
    "sensor_deferrable": {"deferrable": True},
    "sensor_poke": {"deferrable": False, "mode": "poke"},
    "sensor_reschedule": {"deferrable": False, "mode": "reschedule"},
    "sensor_poke_soft_fail": {"deferrable": False, "mode": "poke", "soft_fail": True},
}
CREATES: dict[str, dict[str, Any]] = {"create_deferrable": {"deferrable": True}, "create_worker": {"deferrable": False}}


@task(trigger_rule="all_done", multiple_outputs=False)
def report(**context: Any) -> dict[str, Any]:
    """Return the ``wait_ending`` and ``job_result`` XComs of ``wait`` (``None`` for one it did not push)."""
    ti = context["ti"]
    return {
        "wait_ending": ti.xcom_pull(task_ids="wait", key="wait_ending"),
        "job_result": ti.xcom_pull(task_ids="wait", key="job_result"),
    }


def job_name(component: str) -> str:
    """The job that ``endings_<component>`` waits on."""
    return f"endings-{component.replace('_', '-')}"


def endings_dag(component: str, dag_id_prefix: str = "endings", wait_seconds: float = WAIT_SECONDS) -> DAG:
    """The DAG ``<dag_id_prefix>_<component>``, whose ``wait`` gives up after ``wait_seconds``."""
    dag_id = f"{dag_id_prefix}_{component}"
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        wait: Any
        if component in SENSORS:
            wait = SageMakerOptimizationJobSensor(
                task_id="wait",
                job_name=job_name(component),
                poke_interval=POKE_SECONDS,
                timeout=wait_seconds,
                not_found_grace_period=GRACE_SECONDS,
                **SENSORS[component],
            )
        else:
            wait = SageMakerCreateOptimizationJobOperator(
                task_id="wait",
                config=job_config(job_name(component)),
                poke_interval=POKE_SECONDS,
                max_wait=wait_seconds,
                not_found_grace_period=GRACE_SECONDS,
                **CREATES[component],
            )
        wait >> report.override(task_id="report")()
    return dag


for _component in (*SENSORS, *CREATES):
    globals()[f"endings_{_component}"] = endings_dag(_component)
    # For a job that never appears: its wait must end on the grace period, however late the first look comes
    # on a busy machine, so the deadline is far.
    globals()[f"missing_{_component}"] = endings_dag(_component, "missing", MISSING_JOB_WAIT_SECONDS)
