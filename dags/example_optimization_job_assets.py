"""
Run a DAG once per optimized model: asset events from completed optimization jobs.

``example_optimization_job_assets`` optimizes the model named by its ``model`` param. Its create task declares
the asset alias ``optimized-models`` as an outlet; when the job completes, the task adds an asset event for the
job's S3 output (``s3://example-models/optimized/<model>/``) through the alias, with the job's name, status and
recommended inference image as the event's extra. ``example_optimized_model_consumer`` is scheduled on the
alias: it runs once per completed job and reads that extra. A job that fails or is stopped emits nothing.

Trigger the first DAG with ``{"model": "llama-3-8b"}``, then with ``{"model": "mistral-7b"}``: the second DAG
runs after each.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow_provider_optjob.lineage.assets import (
    OptimizedModel,
    optimized_model_alias,
    triggering_optimized_models,
)
from airflow_provider_optjob.operators.optimization_job import SageMakerCreateOptimizationJobOperator

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

AWS_CONN_ID = os.environ.get("OPTJOB_EXAMPLE_AWS_CONN_ID", "aws_default")
ROLE_ARN = os.environ.get("OPTJOB_EXAMPLE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerOptimization")
POKE_INTERVAL_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_POKE_INTERVAL", "60"))

# One job per model and DAG run: a manual run on Airflow 3 has no logical date, so fall back to when it ran.
RUN_STAMP = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%dT%H%M%S') }}"
MODEL = "{{ params.model }}"

# [START howto_asset_alias_producer]
OPTIMIZED_MODELS = "optimized-models"

with DAG(
    dag_id="example_optimization_job_assets",
    description="Optimize a model; its S3 output becomes an asset event when the job completes.",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    params={"model": "llama-3-8b"},
    tags=["example", "sagemaker", "optimization-job", "assets"],
) as dag:
    SageMakerCreateOptimizationJobOperator(
        task_id="create_optimization_job",
        config={
            "OptimizationJobName": f"optimize-{MODEL}-{RUN_STAMP}",
            "RoleArn": ROLE_ARN,
            "ModelSource": {"S3": {"S3Uri": f"s3://example-models/{MODEL}/"}},
            "DeploymentInstanceType": "ml.g5.2xlarge",
            "OptimizationConfigs": [{"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}}],
            "OutputConfig": {"S3OutputLocation": f"s3://example-models/optimized/{MODEL}/"},
            "StoppingCondition": {"MaxRuntimeInSeconds": 36000},
        },
        asset_alias=OPTIMIZED_MODELS,  # declared as an outlet; the event's asset is the job's S3 output
        poke_interval=POKE_INTERVAL_SECONDS,
        aws_conn_id=AWS_CONN_ID,
    )
# [END howto_asset_alias_producer]

# [START howto_asset_alias_consumer]
with DAG(
    dag_id="example_optimized_model_consumer",
    description="Runs once per optimized model that an optimization job completed.",
    start_date=datetime(2026, 1, 1),
    schedule=[optimized_model_alias(OPTIMIZED_MODELS)],  # AssetAlias (DatasetAlias on Airflow 2)
    catchup=False,
    tags=["example", "sagemaker", "optimization-job", "assets"],
) as consumer_dag:

    @task(task_id="read_optimized_models")
    def read_optimized_models(**context: Any) -> list[OptimizedModel]:
        """Read the optimized models whose asset events triggered this run."""
        models = triggering_optimized_models(context)
        for model in models:
            print(
                f"Optimization job {model['job_name']} ({model['status']}) wrote {model['uri']}; "
                f"recommended inference image: {model['recommended_inference_image']}"
            )
        return models

    read_optimized_models()
# [END howto_asset_alias_consumer]
