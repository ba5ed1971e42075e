"""The baseline: an optimization-job trigger written the Amazon provider's way.

``AwsBaseWaiterTrigger`` with a custom waiter (``waiters/sagemaker_optimization_job.json``) on a small
``AwsBaseHook`` subclass, exactly as the provider's own SageMaker triggers are built. Every trigger
builds its own hook, session and aiobotocore client (``hook.get_async_conn()``), which is what the
benchmark compares :class:`~airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger`
against. Used only by ``benchmarks/triggerer_scale.py``.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Any

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from airflow.providers.amazon.aws.triggers.base import AwsBaseWaiterTrigger

WAITER_FILE = Path(__file__).resolve().parent / "waiters" / "sagemaker_optimization_job.json"
WAITER_NAME = "OptimizationJobComplete"


class BaselineOptimizationJobHook(AwsBaseHook):
    """``AwsBaseHook`` for the ``sagemaker`` client whose custom waiters come from :data:`WAITER_FILE`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["client_type"] = "sagemaker"
        super().__init__(*args, **kwargs)

    @cached_property
    def waiter_path(self) -> Path:
        return WAITER_FILE


class BaselineOptimizationJobTrigger(AwsBaseWaiterTrigger):
    """Wait for an optimization job with the provider's generic waiter trigger.

    :param job_name: the optimization job's name.
    :param waiter_delay: seconds between two Describe calls.
    :param waiter_max_attempts: Describe calls before giving up.
    :param aws_conn_id: the Airflow connection with AWS credentials.
    """

    aws_hook_class = BaselineOptimizationJobHook

    def __init__(
        self,
        job_name: str,
        waiter_delay: int = 30,
        waiter_max_attempts: int = 480,
        aws_conn_id: str | None = "aws_default",
        **kwargs: Any,
    ) -> None:
        super().__init__(
            serialized_fields={"job_name": job_name},
            waiter_name=WAITER_NAME,
            waiter_args={"OptimizationJobName": job_name},
            failure_message=f"Optimization job {job_name} failed",
            status_message=f"Optimization job {job_name} status",
            status_queries=["OptimizationJobStatus", "FailureReason"],
            return_key="job_name",
            return_value=job_name,
            waiter_delay=waiter_delay,
            waiter_max_attempts=waiter_max_attempts,
            aws_conn_id=aws_conn_id,
            **kwargs,
        )
