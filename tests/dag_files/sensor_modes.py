"""DAGs that run the sensor in each mode, with a downstream ``all_done`` task reporting what it saw."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

MODES: dict[str, dict[str, Any]] = {
    "deferrable": {"deferrable": True},
    "poke": {"deferrable": False, "mode": "poke"},
    "reschedule": {"deferrable": False, "mode": "reschedule"},
}


@task(trigger_rule="all_done", multiple_outputs=False)
def report_what_was_seen(job_result: dict[str, Any]) -> dict[str, Any]:
    return {
        "status": job_result["status"],
        "image": job_result["recommended_inference_image"],
        "reason": job_result["failure_reason"],
    }


def sensor_dag(dag_id: str, job_name: str, mode_arguments: dict[str, Any]) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        wait = SageMakerOptimizationJobSensor(
            task_id="wait", job_name=job_name, poke_interval=0.2, timeout=60, **mode_arguments
        )
        report = report_what_was_seen.override(task_id="downstream")(wait.output["job_result"])
        wait >> report
    return dag


for mode, arguments in MODES.items():
    for outcome in ("ok", "fail"):
        globals()[f"sensor_{outcome}_{mode}"] = sensor_dag(
            f"sensor_{outcome}_{mode}", f"sensor-{outcome}-{mode}", arguments
        )

already_done = sensor_dag("sensor_already_done", "already-done", MODES["deferrable"])
