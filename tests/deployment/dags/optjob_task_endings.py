"""The task-endings test's DAG: create-and-wait tasks that a person, a timeout or a dying worker ends mid-wait.

Each task creates its own job and waits for it, in the triggerer except ``worker_death``, which waits on its
worker; the test then clears one, marks one failed and one success through the REST API, lets one reach its
``max_wait``, and kills the waiting worker's task process. ``failed_job``'s job fails by itself: Airflow's
retry must start a new job. Job names come from the run's
``dag_run.conf["tag"]`` (``deployment_jobs.job_name``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from deployment_jobs import TAG, create_config, job_name

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from optjob_harness.config import METADB

try:
    from airflow.sdk import DAG
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]

DAG_ID = "optjob_task_endings"
#: One task per way of ending a deferred wait; the task id names the ending.
ENDINGS = ("clear", "mark_failed", "mark_success", "max_wait", "worker_death", "failed_job")
MAX_WAIT_SECONDS = 20


with DAG(
    dag_id=DAG_ID,
    schedule=None,
    start_date=datetime(2026, 1, 1),
    catchup=False,
    max_active_tasks=8,
    tags=["optjob-deployment-test"],
) as dag:
    for ending in ENDINGS:
        SageMakerCreateOptimizationJobOperator(
            task_id=ending,
            config=create_config(job_name(TAG, ending)),
            wait_for_completion=True,
            # The worker that dies must be waiting on the job itself; the others wait in the triggerer.
            deferrable=ending != "worker_death",
            retries=1 if ending in {"worker_death", "failed_job"} else 0,
            retry_delay=timedelta(seconds=2),
            poke_interval=2,
            max_wait=MAX_WAIT_SECONDS if ending == "max_wait" else 600,
            aws_conn_id=METADB.conn_id,
        )
