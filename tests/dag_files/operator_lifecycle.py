"""DAGs that run the create operator through real Airflow."""

from __future__ import annotations

from datetime import datetime

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from tests.job_requests import job_config as config

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]

with DAG(
    dag_id="create_deferrable", schedule=None, start_date=datetime(2026, 1, 1), catchup=False
) as create_deferrable:
    SageMakerCreateOptimizationJobOperator(task_id="create", config=config("lifecycle-deferred"), poke_interval=0.2)

with DAG(dag_id="create_retried", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as create_retried:
    SageMakerCreateOptimizationJobOperator(task_id="create", config=config("lifecycle-retried"), poke_interval=0.2)
