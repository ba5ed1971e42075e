"""The deployment tests' DAG: deferrable waits through each of the three connection stores, all at once.

Per store (metadata DB, secrets backend, environment variable): sensors on jobs the test creates before the
run, and one operator that creates its job and waits for it. Every task defers. Job names come from the
run's ``dag_run.conf["tag"]`` (``deployment_jobs.job_name``), so each run has its own jobs.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from deployment_jobs import TAG, create_config, job_name

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor
from optjob_harness.config import ENV_VAR, METADB, SECRETS_BACKEND, ConnectionStore

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]

DAG_ID = "optjob_deployment"
POKE_INTERVAL_SECONDS = 2
#: Sensor tasks per connection store: 10 concurrent deferrable sensors in all.
SENSORS_PER_STORE: dict[ConnectionStore, int] = {METADB: 4, SECRETS_BACKEND: 3, ENV_VAR: 3}


def sensor_task_ids(store: ConnectionStore) -> list[str]:
    """The sensor tasks that wait through ``store``'s connection."""
    return [f"{store.name}_wait_{index}" for index in range(SENSORS_PER_STORE[store])]


def create_task_id(store: ConnectionStore) -> str:
    """The create-and-wait task that goes through ``store``'s connection."""
    return f"{store.name}_create_and_wait"


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=32,
    # A retry would hide a failure behind a success: the tests fail on any try after the first.
    default_args={"retries": 1, "retry_delay": timedelta(seconds=2)},
    tags=["optjob-deployment-test"],
) as dag:
    for store in SENSORS_PER_STORE:
        for task_id in sensor_task_ids(store):
            SageMakerOptimizationJobSensor(
                task_id=task_id,
                job_name=job_name(TAG, task_id),
                aws_conn_id=store.conn_id,
                deferrable=True,
                poke_interval=POKE_INTERVAL_SECONDS,
                timeout=600,
            )
        SageMakerCreateOptimizationJobOperator(
            task_id=create_task_id(store),
            config=create_config(job_name(TAG, create_task_id(store))),
            wait_for_completion=True,
            deferrable=True,
            aws_conn_id=store.conn_id,
            poke_interval=POKE_INTERVAL_SECONDS,
            max_wait=600,
        )
