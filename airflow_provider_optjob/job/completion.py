"""How a task ends once it knows a job's outcome: XCom first, then success or a clear failure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from airflow_provider_optjob.compat import (
    AirflowException,
    AirflowSensorTimeout,
    AirflowSkipException,
    Context,
    push_xcom,
)
from airflow_provider_optjob.exceptions import OptimizationJobFailedError
from airflow_provider_optjob.job.outcome import (
    XCOM_FAILURE_REASON_KEY,
    XCOM_JOB_RESULT_KEY,
    XCOM_RECOMMENDED_IMAGE_KEY,
    XCOM_STATUS_KEY,
    OptimizationJobOutcome,
)
from airflow_provider_optjob.job.status import JobPhase, job_phase

#: Trigger event statuses that carry a terminal job's outcome.
TERMINAL_EVENT_STATUSES = frozenset({"success", "failed", "stopped"})


class OptimizationJobWaitTimeoutError(AirflowSensorTimeout):
    """The wait for an optimization job reached its deadline before the job finished."""


def push_outcome(context: Context, outcome: OptimizationJobOutcome) -> None:
    """
    Push the outcome's XCom keys.

    The keys are ``status``, ``recommended_inference_image``, ``failure_reason`` and ``job_result``.

    :param context: the task's context.
    :param outcome: the job outcome.
    """
    task_instance = context["ti"]
    push_xcom(task_instance, XCOM_STATUS_KEY, outcome["status"])
    push_xcom(task_instance, XCOM_RECOMMENDED_IMAGE_KEY, outcome["recommended_inference_image"])
    push_xcom(task_instance, XCOM_FAILURE_REASON_KEY, outcome["failure_reason"])
    push_xcom(task_instance, XCOM_JOB_RESULT_KEY, dict(outcome))


def finish_with_outcome(
    context: Context,
    outcome: OptimizationJobOutcome,
    *,
    fail_on_job_failure: bool = True,
    soft_fail: bool = False,
) -> OptimizationJobOutcome:
    """
    Push a terminal job's outcome to XCom, then return it (the task's ``return_value``) or fail.

    :param context: the task's context.
    :param outcome: the outcome of a job in a terminal status.
    :param fail_on_job_failure: raise for ``FAILED`` / ``STOPPED``; if false, return the outcome instead.
    :param soft_fail: skip the task instead of failing it when the job failed.
    :raises OptimizationJobFailedError: the job ended ``FAILED`` or ``STOPPED``.
    :raises AirflowSkipException: the job failed and ``soft_fail`` is set.
    """
    push_outcome(context, outcome)
    if job_phase(outcome["status"]) is JobPhase.FAILED and fail_on_job_failure:
        error = OptimizationJobFailedError.from_outcome(outcome)
        if soft_fail:
            raise AirflowSkipException(f"{error} (soft_fail is set, so the task is skipped)")
        raise error
    return outcome


def outcome_from_trigger_event(event: object, job_name: str) -> OptimizationJobOutcome:
    """
    Read a terminal job's outcome from a trigger event, failing closed on anything else.

    :param event: the trigger event payload passed to ``execute_complete`` (see
        :class:`~airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger`).
    :param job_name: the job the task waited for (named in errors).
    :return: the outcome (``COMPLETED``, ``FAILED`` or ``STOPPED``).
    :raises OptimizationJobWaitTimeoutError: the deadline passed first.
    :raises AirflowException: no event, an error event, or an event this provider does not know.
    """
    if not isinstance(event, Mapping):
        raise AirflowException(
            f"The wait for optimization job {job_name!r} resumed without a trigger event ({event!r}); "
            "its outcome is unknown, so the task fails."
        )
    status = event.get("status")
    message = event.get("message") or "no message"
    result = event.get("result")
    if status == "timeout":
        raise OptimizationJobWaitTimeoutError(f"Optimization job {job_name!r}: {message}")
    if status == "error":
        raise AirflowException(f"Waiting for optimization job {job_name!r} failed: {message}")
    if status not in TERMINAL_EVENT_STATUSES:
        raise AirflowException(
            f"Unknown trigger event status {status!r} for optimization job {job_name!r} ({message}); failing closed."
        )
    if not isinstance(result, Mapping) or job_phase(result.get("status")) is JobPhase.RUNNING:
        raise AirflowException(
            f"Trigger event {status!r} for optimization job {job_name!r} carries no terminal job outcome "
            f"({result!r}); failing closed."
        )
    outcome = cast("OptimizationJobOutcome", dict(result))
    expected_phase = JobPhase.SUCCEEDED if status == "success" else JobPhase.FAILED
    if job_phase(outcome["status"]) is not expected_phase:
        raise AirflowException(
            f"Trigger event {status!r} for optimization job {job_name!r} disagrees with the job status "
            f"{outcome['status']!r}; failing closed."
        )
    return outcome


def event_payload(status: str, job_name: str, message: str, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """
    Build a trigger event payload as the design fixes it.

    :param status: ``success``, ``failed``, ``stopped``, ``timeout`` or ``error``.
    :param job_name: the job's name.
    :param message: what happened, for people.
    :param result: the outcome dict of a terminal job, else ``None``.
    """
    return {"status": status, "job_name": job_name, "message": message, "result": result}
