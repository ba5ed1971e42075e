"""The trigger event: the one payload a wait's trigger fires, and how a task reads it (failing closed).

``{"status", "job_name", "message", "result"}``: ``status`` is ``success``, ``failed``, ``stopped``,
``timeout`` or ``error``; ``result`` is the outcome dict of a terminal job (or the last look, else ``None``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, WaitEnding, terminal_wait_ending
from airflow_provider_optjob.model.status import JobPhase, job_phase

#: Trigger event statuses that carry a terminal job's outcome.
TERMINAL_EVENT_STATUSES = frozenset({"success", "failed", "stopped"})


def event_payload(status: str, job_name: str, message: str, result: Mapping[str, Any] | None) -> dict[str, Any]:
    """
    Build a trigger event payload as the design fixes it.

    :param status: ``success``, ``failed``, ``stopped``, ``timeout`` or ``error``.
    :param job_name: the job's name.
    :param message: what happened, for people.
    :param result: the outcome dict of a terminal job, else ``None``.
    """
    return {"status": status, "job_name": job_name, "message": message, "result": result}


def read_trigger_event(event: object, job_name: str) -> tuple[OptimizationJobOutcome | None, WaitEnding]:
    """
    Read a trigger event: a terminal job's outcome, or why the wait ended without one (failing closed).

    :param event: the trigger event payload passed to ``execute_complete`` (see
        :class:`~airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger`).
    :param job_name: the job the task waited for (named in messages).
    :return: the outcome of a ``COMPLETED``, ``FAILED`` or ``STOPPED`` job and its ending; or ``None`` and a
        ``timeout`` or ``error`` ending, for a timeout event, an error event, no event, an unknown event, or an
        event whose result is missing or disagrees with its status.
    """
    if not isinstance(event, Mapping):
        return None, WaitEnding(
            reason="error",
            message=f"The wait for optimization job {job_name!r} resumed without a trigger event ({event!r}); "
            "its outcome is unknown, so the task fails.",
        )
    status = event.get("status")
    message = event.get("message") or "no message"
    result = event.get("result")
    if status == "timeout":
        return None, WaitEnding(reason="timeout", message=f"Optimization job {job_name!r}: {message}")
    if status == "error":
        return None, WaitEnding(reason="error", message=f"Waiting for optimization job {job_name!r} failed: {message}")
    if status not in TERMINAL_EVENT_STATUSES:
        return None, WaitEnding(
            reason="error",
            message=f"Unknown trigger event status {status!r} for optimization job {job_name!r} ({message}); "
            "failing closed.",
        )
    if not isinstance(result, Mapping) or job_phase(result.get("status")) is JobPhase.RUNNING:
        return None, WaitEnding(
            reason="error",
            message=f"Trigger event {status!r} for optimization job {job_name!r} carries no terminal job outcome "
            f"({result!r}); failing closed.",
        )
    outcome = cast("OptimizationJobOutcome", dict(result))
    expected_phase = JobPhase.SUCCEEDED if status == "success" else JobPhase.FAILED
    if job_phase(outcome["status"]) is not expected_phase:
        return None, WaitEnding(
            reason="error",
            message=f"Trigger event {status!r} for optimization job {job_name!r} disagrees with the job status "
            f"{outcome['status']!r}; failing closed.",
        )
    return outcome, terminal_wait_ending(outcome)
