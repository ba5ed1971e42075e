"""Operator extra link to an optimization job's page in the AWS console."""

from __future__ import annotations

from airflow.providers.amazon.aws.links.base_aws import BASE_AWS_CONSOLE_LINK, BaseAwsLink


class SageMakerOptimizationJobLink(BaseAwsLink):
    """
    Link to the optimization job in the Amazon SageMaker console.

    Operators persist it (``region_name``, ``aws_domain``, ``job_name``) before they wait on the job.
    """

    name = "Amazon SageMaker Optimization Job"
    key = "sagemaker_optimization_job"
    format_str = BASE_AWS_CONSOLE_LINK + "/sagemaker/home?region={region_name}#/optimization-jobs/{job_name}"
