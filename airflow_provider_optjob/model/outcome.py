"""The job outcome: the one JSON-safe dict every component hands to XCom and to trigger events."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any, Literal, TypedDict, cast

#: XCom keys pushed (before the task succeeds or fails) by every task that learns a job's outcome, and by
#: every wait however it ends.
XCOM_STATUS_KEY = "status"
XCOM_RECOMMENDED_IMAGE_KEY = "recommended_inference_image"
XCOM_FAILURE_REASON_KEY = "failure_reason"
XCOM_JOB_RESULT_KEY = "job_result"
XCOM_WAIT_ENDING_KEY = "wait_ending"

#: Why a wait ended: the job's terminal status (``completed``, ``failed``, ``stopped``), the deadline
#: (``timeout``), or anything else that ended it (``error``: access denied, job not found, a bad event...).
WaitEndingReason = Literal["completed", "failed", "stopped", "timeout", "error"]
WAIT_ENDING_REASONS: tuple[WaitEndingReason, ...] = ("completed", "failed", "stopped", "timeout", "error")
_REASON_OF_TERMINAL_STATUS: dict[str, WaitEndingReason] = {
    "COMPLETED": "completed",
    "FAILED": "failed",
    "STOPPED": "stopped",
}


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


#: The members of the outcome dict, in order.
OUTCOME_KEYS: tuple[str, ...] = tuple(OptimizationJobOutcome.__annotations__)


class WaitEnding(TypedDict):
    """Why a wait for a job ended, and a message for people (the task's error message when it failed)."""

    reason: WaitEndingReason
    message: str


class OptimizationJobResult(OptimizationJobOutcome):
    """The outcome dict plus ``wait_ending``: the ``job_result`` XCom, and the ``return_value`` of a success."""

    wait_ending: WaitEnding


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


def unknown_job_outcome(job_name: str, status: str | None = None) -> OptimizationJobOutcome:
    """
    Build the outcome dict of a job that was never described: every member ``None`` but the name (and status).

    :param job_name: the job's name.
    :param status: the status of the last look, if one is known.
    """
    return build_job_outcome({"OptimizationJobStatus": status}, job_name)


def terminal_wait_ending(outcome: OptimizationJobOutcome) -> WaitEnding:
    """
    Describe the ending of a wait that saw its job terminal (the message matches the task's error).

    :param outcome: the outcome of a job in status ``COMPLETED``, ``FAILED`` or ``STOPPED``.
    :raises ValueError: the status is not terminal.
    """
    status = outcome["status"]
    reason = _REASON_OF_TERMINAL_STATUS.get(status or "")
    if reason is None:
        raise ValueError(f"{status!r} is not a terminal optimization job status")
    ended = f"Optimization job {outcome['job_name']!r} ended with status {status}"
    if reason == "completed":
        return WaitEnding(reason=reason, message=f"{ended}.")
    return WaitEnding(reason=reason, message=f"{ended}: {outcome['failure_reason'] or 'no FailureReason was given'}")


def build_job_result(outcome: OptimizationJobOutcome, ending: WaitEnding) -> OptimizationJobResult:
    """
    Join a job's outcome (the last one known) and how the wait for it ended: the ``job_result`` XCom.

    :param outcome: the outcome dict (from :func:`build_job_outcome` or :func:`unknown_job_outcome`).
    :param ending: why the wait ended.
    """
    fields = {key: outcome.get(key) for key in OUTCOME_KEYS}
    return cast(
        "OptimizationJobResult",
        {**fields, "wait_ending": {"reason": ending["reason"], "message": ending["message"]}},
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
