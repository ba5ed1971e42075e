"""DAGs whose wait can end every way, each followed by an ``all_done`` task that reports the ending it read.

``endings_<component>`` has a task ``wait`` that waits on the job ``endings-<component>`` (sensors wait on a job
the test creates; create operators create it), 8 s at most, taking "not found" for 0.5 s. Components: the sensor
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


def endings_dag(component: str) -> DAG:
    with DAG(dag_id=f"endings_{component}", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        wait: Any
        if component in SENSORS:
            wait = SageMakerOptimizationJobSensor(
                task_id="wait",
                job_name=job_name(component),
                poke_interval=POKE_SECONDS,
                timeout=WAIT_SECONDS,
                not_found_grace_period=GRACE_SECONDS,
                **SENSORS[component],
            )
        else:
            wait = SageMakerCreateOptimizationJobOperator(
                task_id="wait",
                config=job_config(job_name(component)),
                poke_interval=POKE_SECONDS,
                max_wait=WAIT_SECONDS,
                not_found_grace_period=GRACE_SECONDS,
                **CREATES[component],
            )
        wait >> report.override(task_id="report")()
    return dag


for _component in (*SENSORS, *CREATES):
    globals()[f"endings_{_component}"] = endings_dag(_component)
