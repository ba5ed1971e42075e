"""SageMaker models in the emulator where moto differs from SageMaker: taken names, and models a job creates.

moto serves ``CreateModel`` / ``DescribeModel`` and keeps the container as sent (``ModelDataSource`` and
``AdditionalModelDataSources`` included), but it silently replaces a model whose name is taken, where SageMaker
answers ``ValidationException: Cannot create already existing model``; :func:`refuse_taken_model_names` makes it
answer as SageMaker does. An optimization job whose ``OutputConfig.SageMakerModel`` names a model creates that
model when it completes; :func:`create_job_output_model` puts it in moto's store, with the container the
SageMaker Python SDK's mapping gives (:func:`~airflow_provider_optjob.model.model_source.optimized_container`).
"""

from __future__ import annotations

import contextlib
import threading
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.model.model_source import (
    SOURCE_JOB_TAG,
    ModelFromJobError,
    job_model_name,
    optimized_container,
)
from airflow_provider_optjob.testing.protocol import ACCOUNT_ID

if TYPE_CHECKING:
    from collections.abc import Mapping

# Serializes the name check and the insert of every CreateModel (the server answers requests in threads).
_create_lock = threading.Lock()


def refuse_taken_model_names() -> None:
    """Make moto's ``CreateModel`` refuse a name that is taken, as SageMaker does (moto replaces the model)."""
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import SageMakerModelBackend

    create = SageMakerModelBackend.create_model
    if getattr(create, "refuses_taken_names", False):
        return

    def create_model(self: Any, *args: Any, **kwargs: Any) -> Any:
        name = kwargs["model_name"] if "model_name" in kwargs else args[0]
        with _create_lock:
            try:
                self.describe_model(name)
            except ValidationError:
                return create(self, *args, **kwargs)
            arn = f"arn:aws:sagemaker:{self.region_name}:{self.account_id}:model/{name}"
            raise ValidationError(message=f'Cannot create already existing model "{arn}".')

    create_model.refuses_taken_names = True  # type: ignore[attr-defined]
    SageMakerModelBackend.create_model = create_model  # type: ignore[method-assign]


def create_job_output_model(described_job: Mapping[str, Any], region: str) -> str | None:
    """
    Create the model a completed job's ``OutputConfig.SageMakerModel`` names, unless one of that name exists.

    :param described_job: the ``DescribeOptimizationJob`` response of a completed job.
    :param region: the job's region.
    :return: the model's name, or ``None`` when the job names none or reports no output to serve.
    """
    from moto.sagemaker.exceptions import ValidationError
    from moto.sagemaker.models import sagemaker_backends

    name = job_model_name(described_job)
    if name is None:
        return None
    refuse_taken_model_names()
    try:
        container = optimized_container(described_job)
    except ModelFromJobError:
        return None
    with contextlib.suppress(ValidationError):  # a taken name: SageMaker would not have created it either
        sagemaker_backends[ACCOUNT_ID][region].create_model(
            model_name=name,
            execution_role_arn=str(described_job.get("RoleArn", "")),
            primary_container=container,
            vpc_config=None,
            containers=None,
            tags=[{"Key": SOURCE_JOB_TAG, "Value": str(described_job["OptimizationJobName"])}],
        )
    return name
