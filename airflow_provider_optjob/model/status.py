"""The status model of an optimization job: the one place that says what each API status means.

``DescribeOptimizationJob`` reports ``INPROGRESS | COMPLETED | FAILED | STARTING | STOPPING | STOPPED``
(upper case, unlike training jobs). ``COMPLETED`` is success; ``FAILED`` and ``STOPPED`` are failures;
every other value, including one the API adds later, means the job is still going.
"""

from __future__ import annotations

from enum import Enum

SUCCESS_STATUSES: frozenset[str] = frozenset({"COMPLETED"})
FAILURE_STATUSES: frozenset[str] = frozenset({"FAILED", "STOPPED"})
TERMINAL_STATUSES: frozenset[str] = SUCCESS_STATUSES | FAILURE_STATUSES
KNOWN_RUNNING_STATUSES: frozenset[str] = frozenset({"STARTING", "INPROGRESS", "STOPPING"})


class JobPhase(str, Enum):
    """What a status means for whoever waits on the job."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


def job_phase(status: str | None) -> JobPhase:
    """
    Classify an API status.

    :param status: ``OptimizationJobStatus`` as returned by the API (``None`` if absent).
    :return: ``SUCCEEDED`` for ``COMPLETED``, ``FAILED`` for ``FAILED``/``STOPPED``, else ``RUNNING``.
    """
    if status in SUCCESS_STATUSES:
        return JobPhase.SUCCEEDED
    if status in FAILURE_STATUSES:
        return JobPhase.FAILED
    return JobPhase.RUNNING


def is_terminal(status: str | None) -> bool:
    """
    Tell whether a job with this status will change no more.

    :param status: ``OptimizationJobStatus`` as returned by the API.
    """
    return status in TERMINAL_STATUSES


def trigger_event_status(status: str) -> str:
    """
    Map a terminal API status to the trigger event's ``status`` field.

    :param status: a terminal ``OptimizationJobStatus``.
    :return: ``"success"``, ``"failed"`` or ``"stopped"``.
    :raises ValueError: if the status is not terminal.
    """
    if status == "COMPLETED":
        return "success"
    if status == "FAILED":
        return "failed"
    if status == "STOPPED":
        return "stopped"
    raise ValueError(f"{status!r} is not a terminal optimization job status")
