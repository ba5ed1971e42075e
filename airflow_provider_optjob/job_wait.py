"""Waiting for a job: in the triggerer (deferring) or, when not deferrable, on the worker."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.job_check import check_job
from airflow_provider_optjob.job_completion import OptimizationJobWaitTimeoutError
from airflow_provider_optjob.job_status import is_terminal
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger

if TYPE_CHECKING:
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.outcome import OptimizationJobOutcome


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
    Poll from the worker until the job is terminal.

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param poll_interval: seconds between two checks.
    :param timeout: seconds to wait in all.
    :param not_found_grace_period: seconds to tolerate a job that is not found yet.
    :param log: the task's logger.
    :raises OptimizationJobWaitTimeoutError: the job did not finish within ``timeout``.
    """
    started = time.monotonic()
    last_status: str | None = None
    while True:
        waited = time.monotonic() - started
        outcome = check_job(
            hook, job_name, waited_seconds=waited, not_found_grace_period=not_found_grace_period, log=log
        )
        if outcome is not None:
            last_status = outcome["status"]
            if is_terminal(last_status):
                return outcome
        if waited + poll_interval > timeout:
            raise OptimizationJobWaitTimeoutError(
                f"Optimization job {job_name!r} did not finish within {timeout:g} s "
                f"(last status: {last_status or 'unknown'})."
            )
        time.sleep(poll_interval)
