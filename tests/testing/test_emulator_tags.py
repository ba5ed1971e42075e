"""Tags on an optimization job's ARN, through the real boto3 client: readable back, changeable, per job."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError


def test_tags_given_at_create_are_read_back_and_can_change(sm, job_request):
    request = job_request("tagged-job")
    request["Tags"] = [{"Key": "airflow:dag_id", "Value": "nightly"}, {"Key": "team", "Value": "ml"}]
    arn = sm.create_optimization_job(**request)["OptimizationJobArn"]
    sm.create_optimization_job(**job_request("untagged-job"))

    assert sm.list_tags(ResourceArn=arn)["Tags"] == request["Tags"]

    sm.add_tags(ResourceArn=arn, Tags=[{"Key": "team", "Value": "platform"}, {"Key": "run", "Value": "7"}])
    sm.delete_tags(ResourceArn=arn, TagKeys=["airflow:dag_id"])

    assert sm.list_tags(ResourceArn=arn)["Tags"] == [{"Key": "team", "Value": "platform"}, {"Key": "run", "Value": "7"}]
    untagged_arn = arn.replace("tagged-job", "untagged-job")
    assert sm.list_tags(ResourceArn=untagged_arn)["Tags"] == []


def test_tags_of_a_missing_job_are_a_not_found_error(sm):
    missing = "arn:aws:sagemaker:us-east-1:123456789012:optimization-job/no-such-job"

    with pytest.raises(ClientError) as error:
        sm.list_tags(ResourceArn=missing)

    assert error.value.response["Error"]["Code"] == "ResourceNotFound"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_tag_calls_are_named_in_the_request_log(sm, job_request, emulator):
    arn = sm.create_optimization_job(**job_request("logged-tags"))["OptimizationJobArn"]
    sm.list_tags(ResourceArn=arn)

    operations = [entry["operation"] for entry in emulator.control.requests()]

    assert operations[-2:] == ["CreateOptimizationJob", "ListTags"]
