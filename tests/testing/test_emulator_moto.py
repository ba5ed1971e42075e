"""Everything that is not an optimization-job operation is served by moto, through the same URL."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"


def test_deploy_half_is_served_by_moto(sm, emulator, job_request, wait_for_status):
    sm.create_optimization_job(**job_request("deploy-job"))
    emulator.control.complete_job("deploy-job")
    image = sm.describe_optimization_job(OptimizationJobName="deploy-job")["OptimizationOutput"][
        "RecommendedInferenceImage"
    ]

    model_arn = sm.create_model(
        ModelName="opt-model",
        ExecutionRoleArn=ROLE_ARN,
        PrimaryContainer={"Image": image, "ModelDataUrl": "s3://models/out/model.tar.gz"},
    )["ModelArn"]
    assert model_arn == "arn:aws:sagemaker:us-east-1:123456789012:model/opt-model"
    sm.create_endpoint_config(
        EndpointConfigName="opt-config",
        ProductionVariants=[
            {
                "VariantName": "main",
                "ModelName": "opt-model",
                "InitialInstanceCount": 1,
                "InstanceType": "ml.g4dn.xlarge",
            }
        ],
    )
    sm.create_endpoint(EndpointName="opt-endpoint", EndpointConfigName="opt-config")
    endpoint = sm.describe_endpoint(EndpointName="opt-endpoint")
    assert endpoint["EndpointName"] == "opt-endpoint"
    assert endpoint["EndpointConfigName"] == "opt-config"

    counts = emulator.control.call_counts()
    for operation in ("CreateModel", "CreateEndpointConfig", "CreateEndpoint", "DescribeEndpoint"):
        assert counts[operation] == 1, operation
    assert counts["CreateOptimizationJob"] == 1


def test_moto_errors_pass_through(sm_no_retry):
    with pytest.raises(ClientError) as exc:
        sm_no_retry.describe_model(ModelName="nope")
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_sts_assume_role(client_factory, emulator):
    sts = client_factory("sts")
    credentials = sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="airflow")["Credentials"]
    assert credentials["AccessKeyId"]
    assert emulator.control.call_counts()["AssumeRole"] == 1


def test_faults_apply_to_delegated_operations(client_factory, emulator):
    sts = client_factory("sts", retries={"total_max_attempts": 1})
    emulator.control.add_fault("throttle", "AssumeRole", count=1)
    with pytest.raises(ClientError) as exc:
        sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="airflow")
    assert exc.value.response["Error"]["Code"] == "ThrottlingException"
    sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="airflow")
    assert emulator.control.call_counts()["AssumeRole"] == 2


def test_reset_also_resets_moto(sm, emulator):
    sm.create_model(ModelName="to-forget", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "img"})
    emulator.control.reset()
    with pytest.raises(ClientError):
        sm.describe_model(ModelName="to-forget")
    sm.create_model(ModelName="to-keep", ExecutionRoleArn=ROLE_ARN, PrimaryContainer={"Image": "img"})
    emulator.control.reset(moto=False)
    assert sm.describe_model(ModelName="to-keep")["ModelName"] == "to-keep"
