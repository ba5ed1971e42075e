"""A model built from an optimization job in a real DAG run (see test_create_model_from_optimization_job.py).

The test creates the job beforehand, with model-hub credentials in its environment, so that nothing in this run
registers them with the secrets masker: what the run shows of them is what the operator lets through.
"""

from __future__ import annotations

from datetime import datetime

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateModelFromOptimizationJobOperator

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]

SECRETS_JOB = "model-with-secrets"

with DAG(dag_id="model_from_job", schedule=None, start_date=datetime(2026, 1, 1), catchup=False) as dag:
    SageMakerCreateModelFromOptimizationJobOperator(task_id="model", job_name=SECRETS_JOB, tags={"team": "ml"})
