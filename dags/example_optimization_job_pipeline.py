"""
Optimize a model with an Amazon SageMaker optimization job, then deploy what it recommends.

create the job -> wait for it in the triggerer (deferrable sensor) -> read its outcome -> build the
SageMaker model from the job (recommended inference image, optimized artifacts, the job's environment)
-> endpoint config -> endpoint -> report. Names and outcomes travel through XCom; the job's environment
goes from the job to the model inside AWS.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

from airflow.providers.amazon.aws.operators.sagemaker import (
    SageMakerEndpointConfigOperator,
    SageMakerEndpointOperator,
)

from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateModelFromOptimizationJobOperator,
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
)
from airflow_provider_optjob.sensors.optimization_job import SageMakerOptimizationJobSensor

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]

AWS_CONN_ID = os.environ.get("OPTJOB_EXAMPLE_AWS_CONN_ID", "aws_default")
ROLE_ARN = os.environ.get("OPTJOB_EXAMPLE_ROLE_ARN", "arn:aws:iam::123456789012:role/SageMakerOptimization")
MODEL_S3_URI = os.environ.get("OPTJOB_EXAMPLE_MODEL_S3_URI", "s3://example-models/llama-3-8b/")
OUTPUT_S3_URI = os.environ.get("OPTJOB_EXAMPLE_OUTPUT_S3_URI", "s3://example-models/optimized/")
POKE_INTERVAL_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_POKE_INTERVAL", "60"))

# One job per DAG run: a manual run on Airflow 3 has no logical date, so fall back to when it ran.
RUN_STAMP = "{{ (dag_run.logical_date or dag_run.run_after).strftime('%Y%m%dT%H%M%S') }}"
JOB_NAME = f"quantize-llama-{RUN_STAMP}"
CREATE_TASK = "create_optimization_job"
RESULT_TASK = "optimization_result"
MODEL_TASK = "register_optimized_model"
# The job the create task actually used: JOB_NAME, or ``JOB_NAME-r<try>`` when a retry re-ran a failed job.
USED_JOB_NAME = f"{{{{ ti.xcom_pull(task_ids='{CREATE_TASK}', key='job_name') }}}}"
# The SageMaker model the model task built (or found) for that job.
MODEL_NAME = f"{{{{ ti.xcom_pull(task_ids='{MODEL_TASK}') }}}}"

# [START howto_optimization_job_config]
OPTIMIZATION_JOB_CONFIG: dict[str, Any] = {
    "OptimizationJobName": JOB_NAME,
    "RoleArn": ROLE_ARN,
    "ModelSource": {"S3": {"S3Uri": MODEL_S3_URI}},
    "DeploymentInstanceType": "ml.g5.2xlarge",
    "OptimizationConfigs": [
        {"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}},
    ],
    "OutputConfig": {"S3OutputLocation": OUTPUT_S3_URI},
    "StoppingCondition": {"MaxRuntimeInSeconds": 36000},
}
# [END howto_optimization_job_config]

with DAG(
    dag_id="example_optimization_job_pipeline",
    description="Optimize a model with SageMaker, then deploy the recommended image.",
    start_date=datetime(2026, 1, 1),
    schedule=None,
    catchup=False,
    tags=["example", "sagemaker", "optimization-job"],
) as dag:
    # [START howto_operator_create_optimization_job]
    create_job = SageMakerCreateOptimizationJobOperator(
        task_id=CREATE_TASK,
        config=OPTIMIZATION_JOB_CONFIG,
        wait_for_completion=False,
        retries=2,
        aws_conn_id=AWS_CONN_ID,
    )
    # [END howto_operator_create_optimization_job]

    # [START howto_sensor_optimization_job]
    wait_for_job = SageMakerOptimizationJobSensor(
        task_id="wait_for_optimization_job",
        job_name=USED_JOB_NAME,
        deferrable=True,
        poke_interval=POKE_INTERVAL_SECONDS,
        timeout=60 * 60 * 12,
        aws_conn_id=AWS_CONN_ID,
    )
    # [END howto_sensor_optimization_job]

    # [START howto_operator_optimization_job_result]
    job_result = SageMakerOptimizationJobResultOperator(
        task_id=RESULT_TASK,
        job_name=USED_JOB_NAME,
        aws_conn_id=AWS_CONN_ID,
    )
    # [END howto_operator_optimization_job_result]

    # [START howto_deploy_from_optimization_job]
    register_model = SageMakerCreateModelFromOptimizationJobOperator(
        task_id=MODEL_TASK,
        job_name=create_job.output["job_name"],
        aws_conn_id=AWS_CONN_ID,
    )
    # [END howto_deploy_from_optimization_job]

    create_endpoint_config = SageMakerEndpointConfigOperator(
        task_id="create_endpoint_config",
        config={
            "EndpointConfigName": "{{ ti.xcom_pull(task_ids='optimization_result')['job_name'] }}",
            "ProductionVariants": [
                {
                    "VariantName": "optimized",
                    "ModelName": MODEL_NAME,
                    "InstanceType": "{{ ti.xcom_pull(task_ids='optimization_result')['deployment_instance_type'] }}",
                    "InitialInstanceCount": 1,
                }
            ],
        },
        aws_conn_id=AWS_CONN_ID,
    )

    create_endpoint = SageMakerEndpointOperator(
        task_id="create_endpoint",
        config={
            "EndpointName": "{{ ti.xcom_pull(task_ids='optimization_result')['job_name'] }}",
            "EndpointConfigName": "{{ ti.xcom_pull(task_ids='optimization_result')['job_name'] }}",
        },
        wait_for_completion=True,
        check_interval=2,
        aws_conn_id=AWS_CONN_ID,
    )

    @task(task_id="report_deployment")
    def report_deployment(result: dict[str, Any], model_name: str, endpoint_response: dict[str, Any]) -> dict[str, Any]:
        """Summarize what was deployed from which optimization job."""
        endpoint = endpoint_response["Endpoint"]
        summary = {
            "optimization_job": result["job_name"],
            "recommended_inference_image": result["recommended_inference_image"],
            "optimized_model_s3_uri": result["output_s3_uri"],
            "model_name": model_name,
            "endpoint_name": endpoint["EndpointName"],
            "endpoint_status": endpoint["EndpointStatus"],
        }
        print(f"Deployed: {summary}")
        return summary

    report_deployment(job_result.output, register_model.output, create_endpoint.output)

    create_job >> wait_for_job >> job_result >> register_model >> create_endpoint_config >> create_endpoint
