"""Waiting for a job: in the triggerer (deferring) or, when not deferrable, on the worker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.compat import AirflowException
from airflow_provider_optjob.hooks.api_errors import ApiErrorKind, backoff_delay, describe_failure_message
from airflow_provider_optjob.job.check import MissedLook, log_missed_look, look_at_job
from airflow_provider_optjob.job.completion import OptimizationJobWaitTimeoutError
from airflow_provider_optjob.job.status import is_terminal
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.job.outcome import OptimizationJobOutcome


def trigger_for_task(
    task: Any,
    job_name: str,
    *,
    poll_interval: float,
    timeout: float,
    not_found_grace_period: float,
    stop_job_on_kill: bool = False,
) -> SageMakerOptimizationJobTrigger:
    """
    Build the trigger that waits for ``job_name`` with an AWS task's connection settings.

    :param task: an operator or sensor with ``aws_conn_id``, ``region_name``, ``verify`` and ``botocore_config``.
    :param job_name: the job's name.
    :param poll_interval: seconds between two checks.
    :param timeout: seconds from now until the deadline.
    :param not_found_grace_period: seconds to tolerate a job that is not found yet.
    :param stop_job_on_kill: stop the job if a user kills the deferred task.
    """
    return SageMakerOptimizationJobTrigger(
        job_name=job_name,
        end_time=time.time() + timeout,
        poll_interval=poll_interval,
        not_found_grace_period=not_found_grace_period,
        aws_conn_id=task.aws_conn_id,
        region_name=task.region_name,
        verify=task.verify,
        botocore_config=task.botocore_config,
        stop_job_on_kill=stop_job_on_kill,
    )


def wait_on_worker(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    *,
    poll_interval: float,
    timeout: float,
    not_found_grace_period: float,
    log: Any,
) -> OptimizationJobOutcome:
    """
    Poll from the worker until the job is terminal, or fail clearly at the deadline.

    The job is described every ``poll_interval`` seconds. After throttling, a 5xx answer or a dropped
    connection the next look waits :func:`~airflow_provider_optjob.hooks.api_errors.backoff_delay` instead
    (capped, jittered, growing with the failures in a row); "not found" is tolerated for
    ``not_found_grace_period`` seconds. No pause runs past the deadline, so the last look falls on it; a
    single Describe call that hangs can overrun it by that call's duration (bounded by the client's timeouts
    and botocore's attempts).

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param poll_interval: seconds between two checks; the base of the backoff on transient errors.
    :param timeout: seconds to wait in all.
    :param not_found_grace_period: seconds to tolerate a job that is not found yet.
    :param log: the task's logger.
    :raises OptimizationJobWaitTimeoutError: the job did not finish within ``timeout``; the message gives
        its last status and, if the last look failed, the last error.
    :raises AirflowException: access denied, bad credentials, a job still missing after the grace period,
        or another API error that retrying will not fix.
    """
    started = time.monotonic()
    deadline = started + timeout
    last_status: str | None = None
    last_error: BaseException | None = None
    failures_in_a_row = 0
    while True:
        look = look_at_job(hook, job_name)
        if not isinstance(look, MissedLook):
            last_error = None
            failures_in_a_row = 0
            if look["status"] != last_status:
                log.info("Optimization job %s is %s.", job_name, look["status"])
            last_status = look["status"]
            if is_terminal(last_status):
                return look
            delay = poll_interval
        elif look.kind is ApiErrorKind.TRANSIENT:
            last_error = look.error
            failures_in_a_row += 1
            delay = backoff_delay(poll_interval, failures_in_a_row)
        else:
            last_error = look.error
            waited = time.monotonic() - started
            if waited >= not_found_grace_period:
                raise AirflowException(
                    f"{describe_failure_message(job_name, look.kind, look.error)} It was still not found "
                    f"{waited:.1f} s after the wait began (not_found_grace_period={not_found_grace_period:g} s)."
                ) from look.error
            delay = poll_interval
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise OptimizationJobWaitTimeoutError(
                f"Optimization job {job_name!r} did not finish within {timeout:g} s "
                f"(last status: {last_status or 'unknown'})."
                + (f" The last look failed: {last_error}" if last_error is not None else "")
            )
        delay = min(delay, remaining)
        if isinstance(look, MissedLook):
            log_missed_look(log, job_name, look, delay)
        time.sleep(delay)
