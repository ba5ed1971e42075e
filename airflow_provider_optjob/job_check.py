"""One synchronous look at a job from a worker, tolerant of what a later look can fix."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.hooks.api_errors import ApiErrorKind, classify_api_error, describe_failure_message
from airflow_provider_optjob.outcome import OptimizationJobOutcome, build_job_outcome

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook


def check_job(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    *,
    waited_seconds: float,
    not_found_grace_period: float,
    log: Any,
) -> OptimizationJobOutcome | None:
    """
    Describe a job once and return its outcome dict, or ``None`` when the next look may do better.

    ``None`` means the API was briefly unavailable (throttling, 5xx, a dropped connection) or the job is
    not found yet while ``waited_seconds`` is within the grace period.

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param waited_seconds: how long the caller has waited so far.
    :param not_found_grace_period: how long "not found" is taken for eventual consistency.
    :param log: the task's logger (stdlib or Airflow 3's structured logger).
    :raises AirflowException: access denied, bad credentials, a job still missing after the grace
        period, or another API error; the message says what to check.
    """
    try:
        response = hook.describe_optimization_job(job_name)
    except (ClientError, BotoCoreError) as error:
        kind = classify_api_error(error)
        if kind is ApiErrorKind.TRANSIENT:
            log.warning("Could not describe optimization job %s (%s); will retry.", job_name, error)
            return None
        if kind is ApiErrorKind.NOT_FOUND and waited_seconds < not_found_grace_period:
            log.info("Optimization job %s is not found yet; will check again.", job_name)
            return None
        raise AirflowException(describe_failure_message(job_name, kind, error)) from error
    outcome = build_job_outcome(response, job_name)
    log.info("Optimization job %s is %s.", job_name, outcome["status"])
    return outcome


def describe_when_visible(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    *,
    not_found_grace_period: float,
    log: Any,
    retry_interval: float = 1.0,
) -> OptimizationJobOutcome:
    """
    Describe a job that was just created, riding out the API's eventual consistency.

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param not_found_grace_period: how long "not found" is taken for eventual consistency.
    :param log: the task's logger.
    :param retry_interval: seconds between two looks.
    :raises AirflowException: the job is still missing after the grace period, or another API error.
    """
    started = time.monotonic()
    while True:
        outcome = check_job(
            hook,
            job_name,
            waited_seconds=time.monotonic() - started,
            not_found_grace_period=not_found_grace_period,
            log=log,
        )
        if outcome is not None:
            return outcome
        time.sleep(retry_interval)
