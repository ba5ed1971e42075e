from __future__ import annotations

import pytest

from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink


@pytest.mark.parametrize(
    ("partition", "region", "expected"),
    [
        (
            "aws",
            "eu-west-1",
            "https://console.aws.amazon.com/sagemaker/home?region=eu-west-1#/optimization-jobs/quantize-llama-1",
        ),
        (
            "aws-cn",
            "cn-north-1",
            "https://console.amazonaws.cn/sagemaker/home?region=cn-north-1#/optimization-jobs/quantize-llama-1",
        ),
    ],
)
def test_link_points_at_the_job_in_the_region_console(partition, region, expected):
    link = SageMakerOptimizationJobLink()

    url = link.format_link(
        region_name=region,
        aws_domain=SageMakerOptimizationJobLink.get_aws_domain(partition),
        job_name="quantize-llama-1",
    )

    assert url == expected


def test_link_is_named_for_the_ui_and_keyed_for_xcom():
    assert SageMakerOptimizationJobLink.name == "Amazon SageMaker Optimization Job"
    assert SageMakerOptimizationJobLink.key == "sagemaker_optimization_job"
