"""
React to an Amazon SageMaker optimization job that did not complete.

The create operator waits for its job. However that wait ends (the job ``COMPLETED``, ``FAILED`` or
``STOPPED``, the wait timed out, access was denied, the job was not found), the task pushes the XCom keys
``wait_ending`` (``{"reason", "message"}``) and ``job_result`` (the last known outcome) before it succeeds
or fails. A task with ``trigger_rule="all_done"`` reads them and decides what to do: alert, clean up,
retry with another configuration.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

AWS_CONN_ID = os.environ.get("OPTJOB_EXAMPLE_AWS_CONN_ID", "aws_default")
ROLE_ARN = os.environ.get("OPTJOB_EXAMPLE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerOptimization")
POKE_INTERVAL_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_POKE_INTERVAL", "60"))
MAX_WAIT_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_MAX_WAIT", str(6 * 60 * 60)))
NOT_FOUND_GRACE_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_NOT_FOUND_GRACE", "60"))

# One job per DAG run: a manual run on Airflow 3 has no logical date, so fall back to when it ran.
RUN_STAMP = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%dT%H%M%S') }}"
JOB_NAME = f"compile-mistral-{RUN_STAMP}"

with DAG(
    dag_id="example_optimization_job_failure",
    description="Hand how an optimization job's wait ended to a downstream task.",
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
        poke_interval=POKE_INTERVAL_SECONDS,
        max_wait=MAX_WAIT_SECONDS,
        not_found_grace_period=NOT_FOUND_GRACE_SECONDS,
        aws_conn_id=AWS_CONN_ID,
    )

    # [START howto_failure_handling]
    @task(task_id="handle_job_outcome", trigger_rule="all_done", multiple_outputs=False)
    def handle_job_outcome(**context: Any) -> dict[str, Any]:
        """Decide what to do from how the wait ended and the job's last known status."""
        ti = context["ti"]
        ending = ti.xcom_pull(task_ids="create_optimization_job", key="wait_ending")
        job = ti.xcom_pull(task_ids="create_optimization_job", key="job_result")
        if ending is None or job is None:
            # The task failed before its wait began (e.g. the create call itself was refused): see its log.
            return {"action": "investigate", "reason": None, "status": None, "failure_reason": None}
        report = {
            "action": "none" if ending["reason"] == "completed" else "alert",
            "reason": ending["reason"],  # completed | failed | stopped | timeout | error
            "status": job["status"],  # the last status seen, e.g. "FAILED" or "INPROGRESS"; None if never seen
            "failure_reason": job["failure_reason"],
        }
        if report["action"] == "alert":
            print(f"Optimization job {job['job_name']}: {ending['message']}")
        return report

    # Pull with ``xcom_pull`` rather than passing ``create_job.output[...]``: a task reading an XComArg
    # fails with ``XComNotFound`` when the upstream task never pushed it.
    create_job >> handle_job_outcome()
    # [END howto_failure_handling]
