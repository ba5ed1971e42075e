"""Sensor DAGs for the fault matrix (``tests/faults``): one per mode, job names fixed so tests can script them.

``faults_sensor_<mode>`` waits on ``faults-sensor-<mode>`` (not-found grace 5 s);
``faults_gone_<mode>`` waits on ``faults-gone-<mode>`` with a short grace (0.5 s), for jobs that vanish.
Every DAG has a downstream ``all_done`` task, ``report``, that returns
``{"job_result": <the job_result XCom it found>}``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

#: A read timeout of 1 s (the latency rows answer slower than that) and one botocore retry per call.
FAST_CLIENT = {"read_timeout": 1, "connect_timeout": 1, "retries": {"mode": "standard", "max_attempts": 2}}
MODES: dict[str, dict[str, Any]] = {
    "deferrable": {"deferrable": True},
    "poke": {"deferrable": False, "mode": "poke"},
}


@task(trigger_rule="all_done")
def report(**context: Any) -> dict[str, Any]:
    """Return what the sensor pushed as ``job_result`` (``None`` if it pushed nothing)."""
    return {"job_result": context["ti"].xcom_pull(task_ids="wait", key="job_result")}


def fault_sensor_dag(dag_id: str, job_name: str, grace: float, mode_arguments: dict[str, Any]) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        wait = SageMakerOptimizationJobSensor(
            task_id="wait",
            job_name=job_name,
            poke_interval=0.1,
            timeout=40,
            not_found_grace_period=grace,
            botocore_config=FAST_CLIENT,
            **mode_arguments,
        )
        wait >> report.override(task_id="report")()
    return dag


for _mode, _arguments in MODES.items():
    globals()[f"faults_sensor_{_mode}"] = fault_sensor_dag(
        f"faults_sensor_{_mode}", f"faults-sensor-{_mode}", 5, _arguments
    )
    globals()[f"faults_gone_{_mode}"] = fault_sensor_dag(
        f"faults_gone_{_mode}", f"faults-gone-{_mode}", 0.5, _arguments
    )
