"""Exceptions raised by the optimization-job provider: every one a DAG author may catch, importable from here.

The checks of names, requests and models raise ``ValueError`` subclasses of the domain core (re-exported here):
:class:`InvalidOptimizationJobNameError`, :class:`InvalidOptimizationJobConfigError`,
:class:`InvalidModelNameError` and :class:`ModelFromJobError`. What goes wrong with a job while a task runs
raises an ``AirflowException`` subclass defined here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.compat import AirflowException, AirflowSensorTimeout
from airflow_provider_optjob.model.config import InvalidOptimizationJobConfigError
from airflow_provider_optjob.model.model_name import InvalidModelNameError
from airflow_provider_optjob.model.model_source import ModelFromJobError
from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError

if TYPE_CHECKING:
    from collections.abc import Mapping


class OptimizationJobFailedError(AirflowException):
    """
    An optimization job ended ``FAILED`` or ``STOPPED``.

    :param job_name: the job's name.
    :param status: the job's terminal status.
    :param failure_reason: the API's ``FailureReason`` (``None`` if it gave none).
    """

    def __init__(self, job_name: str, status: str | None, failure_reason: str | None) -> None:
        self.job_name = job_name
        self.status = status
        self.failure_reason = failure_reason
        reason = failure_reason if failure_reason else "no FailureReason was given"
        super().__init__(f"Optimization job {job_name!r} ended with status {status}: {reason}")

    @classmethod
    def from_outcome(cls, outcome: Mapping[str, Any]) -> OptimizationJobFailedError:
        """
        Build the error for a failed job's outcome dict.

        :param outcome: the job outcome (see :func:`~airflow_provider_optjob.model.outcome.build_job_outcome`).
        """
        return cls(outcome["job_name"], outcome["status"], outcome["failure_reason"])

    def __reduce__(self) -> tuple[type[OptimizationJobFailedError], tuple[str, str | None, str | None]]:
        return type(self), (self.job_name, self.status, self.failure_reason)


class OptimizationJobNotFinishedError(AirflowException):
    """A job was expected to have finished, but it is still running."""


class OptimizationJobNotFoundError(AirflowException):
    """The API says no optimization job has this name (in this account and region)."""


class OptimizationJobConnectionError(AirflowException):
    """The Airflow connection named for AWS access cannot be used."""


class OptimizationJobWaitTimeoutError(AirflowSensorTimeout):
    """The wait for an optimization job reached its deadline before the job finished."""


class OptimizationJobOwnedElsewhereError(AirflowException):
    """A job with the task's job name exists and belongs to another task instance (or to no task)."""


__all__ = [
    "InvalidModelNameError",
    "InvalidOptimizationJobConfigError",
    "InvalidOptimizationJobNameError",
    "ModelFromJobError",
    "OptimizationJobConnectionError",
    "OptimizationJobFailedError",
    "OptimizationJobNotFinishedError",
    "OptimizationJobNotFoundError",
    "OptimizationJobOwnedElsewhereError",
    "OptimizationJobWaitTimeoutError",
]
