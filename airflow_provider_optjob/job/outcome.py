"""The job outcome: the one JSON-safe dict every component hands to XCom and to trigger events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, TypedDict

#: XCom keys pushed (before the task succeeds or fails) by every task that learns a job's outcome.
XCOM_STATUS_KEY = "status"
XCOM_RECOMMENDED_IMAGE_KEY = "recommended_inference_image"
XCOM_FAILURE_REASON_KEY = "failure_reason"
XCOM_JOB_RESULT_KEY = "job_result"


class OptimizationJobOutcome(TypedDict):
    """What a finished (or observed) optimization job produced; every value is JSON-safe."""

    job_name: str
    job_arn: str | None
    status: str | None
    recommended_inference_image: str | None
    output_s3_uri: str | None
    output_model_name: str | None
    failure_reason: str | None
    deployment_instance_type: str | None
    creation_time: str | None
    start_time: str | None
    end_time: str | None


def build_job_outcome(describe_response: Mapping[str, Any], job_name: str | None = None) -> OptimizationJobOutcome:
    """
    Build the outcome dict from a ``DescribeOptimizationJob`` response.

    Works on any response the API's shape allows (missing optional members give ``None``), and on
    responses already round-tripped through JSON. Environment values (``OptimizationEnvironment``)
    are never copied.

    :param describe_response: the response of ``DescribeOptimizationJob`` (boto3 or aiobotocore).
    :param job_name: the name asked for, used when the response lacks ``OptimizationJobName``.
    """
    output_config = _mapping(describe_response.get("OutputConfig"))
    optimization_output = _mapping(describe_response.get("OptimizationOutput"))
    sagemaker_model = _mapping(output_config.get("SageMakerModel"))
    return OptimizationJobOutcome(
        job_name=_text(describe_response.get("OptimizationJobName")) or job_name or "",
        job_arn=_text(describe_response.get("OptimizationJobArn")),
        status=_text(describe_response.get("OptimizationJobStatus")),
        recommended_inference_image=_text(optimization_output.get("RecommendedInferenceImage")),
        output_s3_uri=_text(output_config.get("S3OutputLocation")),
        output_model_name=_text(sagemaker_model.get("ModelName")),
        failure_reason=_text(describe_response.get("FailureReason")),
        deployment_instance_type=_text(describe_response.get("DeploymentInstanceType")),
        creation_time=_iso_utc(describe_response.get("CreationTime")),
        start_time=_iso_utc(describe_response.get("OptimizationStartTime")),
        end_time=_iso_utc(describe_response.get("OptimizationEndTime")),
    )


def _mapping(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _iso_utc(value: object) -> str | None:
    """Render a timestamp (``datetime``, epoch seconds or ISO string) as ISO-8601 in UTC."""
    if isinstance(value, datetime):
        moment = value if value.tzinfo is not None else value.replace(tzinfo=timezone.utc)
        try:
            return moment.astimezone(timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):  # outside datetime's range once moved to UTC
            return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            return datetime.fromtimestamp(value, tz=timezone.utc).isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    if isinstance(value, str):
        try:
            return _iso_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None
