"""
React to a failed Amazon SageMaker optimization job.

The sensor fails the task when the job ends FAILED or STOPPED, but first pushes the job's ``status``
and ``failure_reason`` to XCom; a task with ``trigger_rule="all_done"`` reads them and decides what
to do (alert, clean up, retry with another configuration).
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

AWS_CONN_ID = os.environ.get("OPTJOB_EXAMPLE_AWS_CONN_ID", "aws_default")
ROLE_ARN = os.environ.get("OPTJOB_EXAMPLE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerOptimization")
POKE_INTERVAL_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_POKE_INTERVAL", "60"))

# One job per DAG run: a manual run on Airflow 3 has no logical date, so fall back to when it ran.
RUN_STAMP = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%dT%H%M%S') }}"
JOB_NAME = f"compile-mistral-{RUN_STAMP}"

with DAG(
    dag_id="example_optimization_job_failure",
    description="Hand a failed optimization job's reason to a downstream task.",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "sagemaker", "optimization-job"],
) as dag:
    create_job = SageMakerCreateOptimizationJobOperator(
        task_id="create_optimization_job",
        config={
            "OptimizationJobName": JOB_NAME,
            "RoleArn": ROLE_ARN,
            "ModelSource": {"S3": {"S3Uri": "s3://example-models/mistral-7b/"}},
            "DeploymentInstanceType": "ml.inf2.xlarge",
            "OptimizationConfigs": [{"ModelCompilationConfig": {"Image": "example-compiler:latest"}}],
            "OutputConfig": {"S3OutputLocation": "s3://example-models/compiled/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        },
        wait_for_completion=False,
        aws_conn_id=AWS_CONN_ID,
    )

    wait_for_job = SageMakerOptimizationJobSensor(
        task_id="wait_for_optimization_job",
        job_name=JOB_NAME,
        poke_interval=POKE_INTERVAL_SECONDS,
        aws_conn_id=AWS_CONN_ID,
    )

    # [START howto_failure_handling]
    @task(task_id="handle_job_outcome", trigger_rule="all_done")
    def handle_job_outcome(job_result: dict[str, Any]) -> dict[str, Any]:
        """Decide what to do from the job's final status and failure reason."""
        status, failure_reason = job_result["status"], job_result["failure_reason"]
        if status == "COMPLETED":
            return {"action": "none", "status": status}
        print(f"Optimization job {job_result['job_name']} ended {status}: {failure_reason}")
        return {"action": "alert", "status": status, "failure_reason": failure_reason}

    # ``job_result`` is always a dict; the single-value keys (``failure_reason``...) may be None,
    # which XComArg treats as missing, so read them with xcom_pull in templates instead.
    handle = handle_job_outcome(wait_for_job.output["job_result"])
    # [END howto_failure_handling]

    create_job >> wait_for_job >> handle
