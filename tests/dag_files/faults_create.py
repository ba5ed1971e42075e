"""Create-operator DAGs for the fault matrix (``tests/faults``), job names fixed so tests can script them.

``faults_create_<mode>`` creates ``faults-create-<mode>`` and waits in the triggerer (``deferrable``) or on
the worker (``worker``), without task retries; ``faults_retried_<mode>`` creates ``faults-retried-<mode>``
with one immediate task retry. Every DAG has a downstream ``all_done`` task, ``report``, that returns
``{"job_result": <the job_result XCom it found>}``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from tests.job_requests import job_config

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

#: A read timeout of 1 s (the latency rows answer slower than that); botocore's default 3 attempts per call.
FAST_CLIENT = {"read_timeout": 1, "connect_timeout": 1, "retries": {"mode": "standard", "max_attempts": 3}}
MODES: dict[str, dict[str, Any]] = {"deferrable": {"deferrable": True}, "worker": {"deferrable": False}}


@task(trigger_rule="all_done")
def report(**context: Any) -> dict[str, Any]:
    """Return what the create task pushed as ``job_result`` (``None`` if it pushed nothing)."""
    return {"job_result": context["ti"].xcom_pull(task_ids="create", key="job_result")}


def fault_create_dag(dag_id: str, job_name: str, retries: int, mode_arguments: dict[str, Any]) -> DAG:
    with DAG(dag_id=dag_id, schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
        create = SageMakerCreateOptimizationJobOperator(
            task_id="create",
            config=job_config(job_name),
            poke_interval=0.1,
            max_wait=40,
            not_found_grace_period=5,
            botocore_config=FAST_CLIENT,
            retries=retries,
            retry_delay=timedelta(0),
            **mode_arguments,
        )
        create >> report.override(task_id="report")()
    return dag


for _mode, _arguments in MODES.items():
    globals()[f"faults_create_{_mode}"] = fault_create_dag(
        f"faults_create_{_mode}", f"faults-create-{_mode}", 0, _arguments
    )
    globals()[f"faults_retried_{_mode}"] = fault_create_dag(
        f"faults_retried_{_mode}", f"faults-retried-{_mode}", 1, _arguments
    )
