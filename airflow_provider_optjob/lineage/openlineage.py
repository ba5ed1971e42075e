"""OpenLineage datasets of an optimization job: the model it reads, and the artifacts (and model) it writes.

The names follow OpenLineage's naming conventions, as the Amazon provider applies them. An S3 location is the
dataset with namespace ``s3://<bucket>`` and name ``<key>`` (``/`` for a whole bucket). A SageMaker model,
which the conventions do not list, is named after its ARN the way they name an AWS Glue table: namespace
``arn:<partition>:sagemaker:<region>:<account>``, name ``model/<model name>``. The partition, region and
account are those of the job's ARN.

The OpenLineage provider is imported only when lineage is asked for; without it, :func:`operator_lineage`
returns ``None``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from airflow_provider_optjob.model.status import JobPhase, job_phase

if TYPE_CHECKING:
    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome

#: The members of a ``DescribeOptimizationJob`` response that lineage reads; operators keep only these.
LINEAGE_MEMBERS: tuple[str, ...] = (
    "OptimizationJobName",
    "OptimizationJobArn",
    "OptimizationJobStatus",
    "ModelSource",
    "OutputConfig",
)

#: A dataset's OpenLineage ``(namespace, name)``.
DatasetName = tuple[str, str]


def lineage_view(description: Mapping[str, Any]) -> dict[str, Any]:
    """
    Keep what lineage needs of a job's description (never its environment values).

    :param description: a ``DescribeOptimizationJob`` response, or anything of its shape.
    :return: the members of :data:`LINEAGE_MEMBERS` that it has.
    """
    return {key: description[key] for key in LINEAGE_MEMBERS if key in description}


def description_from_request(request: Mapping[str, Any], outcome: OptimizationJobOutcome) -> dict[str, Any]:
    """
    Describe a job, in ``DescribeOptimizationJob``'s shape, from the request that defines it and its outcome.

    The model source and output configuration come from the ``CreateOptimizationJob`` request; the name, ARN
    and status from the outcome (the job actually used may carry a derived name).

    :param request: the rendered ``CreateOptimizationJob`` request.
    :param outcome: the job's outcome dict.
    """
    return {
        **lineage_view(request),
        "OptimizationJobName": outcome["job_name"],
        "OptimizationJobArn": outcome["job_arn"],
        "OptimizationJobStatus": outcome["status"],
    }


def s3_dataset_name(uri: object) -> DatasetName | None:
    """
    Name an S3 location as an OpenLineage dataset.

    :param uri: an ``s3://bucket/key`` URI.
    :return: ``("s3://bucket", "key")`` (``"/"`` for a whole bucket), or ``None`` for anything else.
    """
    if not isinstance(uri, str):
        return None
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        return None
    return f"s3://{parts.netloc}", parts.path.lstrip("/") or "/"


def sagemaker_model_dataset_name(job_arn: object, model_name: object) -> DatasetName | None:
    """
    Name a SageMaker model in the job's partition, region and account as an OpenLineage dataset.

    :param job_arn: the job's ARN, ``arn:<partition>:sagemaker:<region>:<account>:optimization-job/<name>``.
    :param model_name: the model's name.
    :return: ``("arn:<partition>:sagemaker:<region>:<account>", "model/<model name>")``, or ``None`` when the
        ARN or the name is missing or malformed.
    """
    if not isinstance(job_arn, str) or not isinstance(model_name, str) or not model_name:
        return None
    parts = job_arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or not all(parts[1:5]):
        return None
    return ":".join(parts[:5]), f"model/{model_name}"


def job_dataset_names(
    description: Mapping[str, Any], model_name: str | None = None
) -> tuple[list[DatasetName], list[DatasetName]]:
    """
    Name what a job reads and what it writes.

    Inputs: the model source (``ModelSource.S3.S3Uri`` or ``ModelSource.SageMakerModel.ModelName``). Outputs:
    ``OutputConfig.S3OutputLocation``, the model the job creates (``OutputConfig.SageMakerModel.ModelName``) and
    ``model_name``; none for a job that ended ``FAILED`` or ``STOPPED``, which wrote nothing to rely on.

    :param description: the job's description, as :func:`lineage_view` keeps it.
    :param model_name: a SageMaker model made from the job's output (by the task asking).
    :return: the input and the output dataset names, each without repeats.
    """
    arn = description.get("OptimizationJobArn")
    source = _mapping(description.get("ModelSource"))
    output = _mapping(description.get("OutputConfig"))
    inputs = [
        s3_dataset_name(_mapping(source.get("S3")).get("S3Uri")),
        sagemaker_model_dataset_name(arn, _mapping(source.get("SageMakerModel")).get("ModelName")),
    ]
    outputs: list[DatasetName | None] = []
    if job_phase(description.get("OptimizationJobStatus")) is not JobPhase.FAILED:
        outputs = [
            s3_dataset_name(output.get("S3OutputLocation")),
            sagemaker_model_dataset_name(arn, _mapping(output.get("SageMakerModel")).get("ModelName")),
            sagemaker_model_dataset_name(arn, model_name),
        ]
    return _present(inputs), _present(outputs)


def operator_lineage(
    description: Mapping[str, Any] | None, model_name: str | None = None
) -> OperatorLineage[Any, Any] | None:
    """
    Build what a task reports to OpenLineage about its job (its ``get_openlineage_facets_on_complete``).

    :param description: the job's description as the task learned it (see :func:`lineage_view` and
        :func:`description_from_request`); ``None`` when the task learned none (empty lineage).
    :param model_name: a SageMaker model the task made from the job's output, reported as an output too.
    :return: the inputs and outputs (see :func:`job_dataset_names`), or ``None`` without the OpenLineage provider.
    """
    try:
        from airflow.providers.common.compat.openlineage.facet import Dataset
        from airflow.providers.openlineage.extractors import OperatorLineage
    except ImportError:
        return None
    if description is None:
        return OperatorLineage()
    inputs, outputs = job_dataset_names(description, model_name)
    return OperatorLineage(
        inputs=[Dataset(namespace=namespace, name=name) for namespace, name in inputs],
        outputs=[Dataset(namespace=namespace, name=name) for namespace, name in outputs],
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _present(names: list[DatasetName | None]) -> list[DatasetName]:
    return list(dict.fromkeys(name for name in names if name is not None))
