"""SageMaker models in the emulator: a taken name is refused, and a job's ``OutputConfig.SageMakerModel`` appears."""

from __future__ import annotations

import subprocess
import sys

import pytest
from botocore.exceptions import ClientError

from tests.api_members import needs_output_model

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_create_model_refuses_a_taken_name_as_sagemaker_does(sm, emulator):
    sm.create_model(ModelName="taken", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "first:1"})

    with pytest.raises(ClientError) as raised:
        sm.create_model(ModelName="taken", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "second:1"})

    assert raised.value.response["Error"]["Code"] == "ValidationException"
    assert "Cannot create already existing model" in raised.value.response["Error"]["Message"]
    assert sm.describe_model(ModelName="taken")["PrimaryContainer"] == {"Image": "first:1"}


@needs_output_model
def test_a_completed_job_creates_the_model_its_output_config_names(sm, emulator, job_request):
    output = {"S3OutputLocation": "s3://models/out/", "SageMakerModel": {"ModelName": "job-made"}}
    emulator.control.script_job("makes-a-model", "COMPLETED", hold=True)  # completes only when the test says
    sm.create_optimization_job(**job_request("makes-a-model", OutputConfig=output))

    with pytest.raises(ClientError, match="Could not find model"):
        sm.describe_model(ModelName="job-made")
    emulator.control.complete_job("makes-a-model")
    image = sm.describe_optimization_job(OptimizationJobName="makes-a-model")["OptimizationOutput"][
        "RecommendedInferenceImage"
    ]

    model = sm.describe_model(ModelName="job-made")
    assert model["ExecutionRoleArn"] == ROLE_ARN
    assert model["PrimaryContainer"] == {
        "Image": image,
        "ModelDataSource": {
            "S3DataSource": {
                "S3Uri": "s3://models/out/",
                "S3DataType": "S3Prefix",
                "CompressionType": "None",
                "ModelAccessConfig": {"AcceptEula": True},
            }
        },
        "Environment": {"OPTION_QUANTIZE": "awq"},
    }
    assert sm.list_tags(ResourceArn=model["ModelArn"])["Tags"] == [
        {"Key": "OptimizationJobName", "Value": "makes-a-model"}
    ]


def test_the_emulator_builds_job_models_without_importing_airflow():
    """The emulator runs in processes of its own (the demo, deployments), where Airflow is not set up."""
    code = (
        "import sys, airflow_provider_optjob.testing.app, airflow_provider_optjob.testing.job_models\n"
        "print('airflow' in sys.modules)"
    )

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True)

    assert result.stdout.strip() == "False"
