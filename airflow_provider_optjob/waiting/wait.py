"""Waiting for a job: in the triggerer (deferring) or, when not deferrable, on the worker."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any, cast

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException, conf
from airflow_provider_optjob.exceptions import OptimizationJobWaitTimeoutError
from airflow_provider_optjob.model.look_policy import LookPolicy, Verdict
from airflow_provider_optjob.triggers.optimization_job import SageMakerOptimizationJobTrigger
from airflow_provider_optjob.waiting.check import MissedLook, log_missed_look, look_at_job
from airflow_provider_optjob.waiting.completion import (
    WaitWatch,
    finish_with_outcome,
    informing_wait,
)

if TYPE_CHECKING:
    from collections.abc import Callable

    from airflow_provider_optjob.compat import Context
    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, OptimizationJobResult
    from airflow_provider_optjob.model.wait_settings import WaitSettings

#: How much longer than the trigger's own deadline Airflow's deferral timeout waits. The trigger's ``timeout``
#: event (which names the last status) then ends the wait, and the deferral timeout stays a backstop.
DEFERRAL_BACKSTOP_MARGIN = timedelta(seconds=60)

#: Environment variables through which a user sets ``[operators] default_deferrable``.
_DEFAULT_DEFERRABLE_VARIABLES = tuple(
    f"AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE{suffix}" for suffix in ("", "_CMD", "_SECRET")
)


def default_deferrable() -> bool:
    """
    Tell whether waits defer by default: ``[operators] default_deferrable`` when the user set it, else ``True``.

    Airflow ships the option as ``False`` and writes that default into every ``airflow.cfg`` it generates, so a
    ``False`` read from the file cannot be told from the untouched default. It counts when it comes from the
    environment (``AIRFLOW__OPERATORS__DEFAULT_DEFERRABLE``, ``..._CMD`` or ``..._SECRET``; Amazon MWAA's
    configuration options arrive this way). ``True`` counts from anywhere.
    """
    configured = conf.getboolean("operators", "default_deferrable", fallback=True)
    if configured:
        return True
    return not any(name in os.environ for name in _DEFAULT_DEFERRABLE_VARIABLES)


def deferral_timeout(timeout: float) -> timedelta:
    """
    Build the ``timeout`` to pass to ``defer``: the wait's timeout plus :data:`DEFERRAL_BACKSTOP_MARGIN`.

    :param timeout: the wait's timeout in seconds (the trigger's deadline from now).
    """
    return timedelta(seconds=timeout) + DEFERRAL_BACKSTOP_MARGIN


def last_look(hook: SageMakerOptimizationJobHook, job_name: str, log: Any) -> OptimizationJobOutcome | None:
    """
    Describe a job once more, after its wait timed out, for its last known status.

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param log: the task's logger.
    :return: the outcome, or ``None`` when the job cannot be described now (the failure is logged).
    """
    try:
        look = look_at_job(hook, job_name)
    except (AirflowException, ClientError, BotoCoreError) as error:
        log.warning("Could not describe optimization job %s after the wait timed out: %s", job_name, error)
        return None
    if isinstance(look, MissedLook):
        log.warning("Could not describe optimization job %s after the wait timed out: %s", job_name, look.error)
        return None
    log.info("Optimization job %s was %s when the wait timed out.", job_name, look["status"])
    return look


def trigger_for_task(
    task: Any, job_name: str, settings: WaitSettings, *, stop_job_on_kill: bool = False
) -> SageMakerOptimizationJobTrigger:
    """
    Build the trigger that waits for ``job_name`` with an AWS task's connection settings.

    :param task: an operator or sensor with ``aws_conn_id``, ``region_name``, ``verify`` and ``botocore_config``.
    :param job_name: the job's name.
    :param settings: the wait's interval, timeout (from now until the deadline) and not-found grace period.
    :param stop_job_on_kill: stop the job if a user kills the deferred task.
    """
    return SageMakerOptimizationJobTrigger(
        job_name=job_name,
        end_time=time.time() + settings.timeout,
        poll_interval=settings.poke_interval,
        not_found_grace_period=settings.not_found_grace_period,
        aws_conn_id=task.aws_conn_id,
        region_name=task.region_name,
        verify=task.verify,
        botocore_config=task.botocore_config,
        stop_job_on_kill=stop_job_on_kill,
    )


def wait_on_worker(
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    settings: WaitSettings,
    *,
    log: Any,
    on_look: Callable[[OptimizationJobOutcome], None] | None = None,
) -> OptimizationJobOutcome:
    """
    Poll from the worker until the job is terminal, or fail clearly at the deadline.

    The job is described every ``settings.poke_interval`` seconds; what follows each look is the
    :class:`~airflow_provider_optjob.model.look_policy.LookPolicy`'s answer (backoff after transient errors,
    "not found" tolerated for the grace period, no pause past the deadline). A single Describe
    call that hangs can overrun the deadline by that call's duration (bounded by the client's timeouts and
    botocore's attempts).

    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param settings: seconds between two checks (the base of the backoff on transient errors), seconds to wait in
        all, and seconds to tolerate a job that is not found yet.
    :param log: the task's logger.
    :param on_look: called with every outcome a look found (e.g. :meth:`WaitWatch.saw`).
    :raises OptimizationJobWaitTimeoutError: the job did not finish within the timeout; the message gives
        its last status and, if the last look failed, the last error.
    :raises AirflowException: access denied, bad credentials, a job still missing after the grace period,
        or another API error that retrying will not fix.
    """
    policy = LookPolicy.for_timeout(
        job_name,
        poll_interval=settings.poke_interval,
        not_found_grace_period=settings.not_found_grace_period,
        timeout=settings.timeout,
        clock=time.monotonic,
    )
    while True:
        look = look_at_job(hook, job_name)
        if isinstance(look, MissedLook):
            step = policy.after_error(look.error)
        else:
            if on_look is not None:
                on_look(look)
            if look["status"] != policy.last_status:
                log.info("Optimization job %s is %s.", job_name, look["status"])
            step = policy.after_status(look["status"])
        if step.verdict is Verdict.FINISHED:
            return cast("OptimizationJobOutcome", look)
        if step.verdict is Verdict.TIMED_OUT:
            raise OptimizationJobWaitTimeoutError(step.message)
        if step.verdict is Verdict.FAILED:
            raise AirflowException(step.message) from policy.last_error
        if isinstance(look, MissedLook):
            log_missed_look(log, job_name, look, step.delay)
        time.sleep(step.delay)


def wait_and_finish_on_worker(
    context: Context,
    hook: SageMakerOptimizationJobHook,
    job_name: str,
    settings: WaitSettings,
    *,
    log: Any,
    fail_on_job_failure: bool = True,
) -> OptimizationJobResult:
    """
    Wait on the worker (:func:`wait_on_worker`) and end the task as every wait ends: XCom first, then the result.

    A terminal job ends through :func:`~airflow_provider_optjob.waiting.completion.finish_with_outcome`; a timeout
    or an error pushes its ending with the last outcome seen, then fails the task.

    :param context: the task's context.
    :param hook: the hook to describe with.
    :param job_name: the job's name.
    :param settings: the wait's interval, timeout and not-found grace period.
    :param log: the task's logger.
    :param fail_on_job_failure: raise for ``FAILED`` / ``STOPPED``; if false, return the result instead.
    :raises OptimizationJobFailedError: the job ended ``FAILED`` or ``STOPPED``.
    :raises OptimizationJobWaitTimeoutError: the job did not finish within the timeout.
    :raises AirflowException: the wait could not go on (see :func:`wait_on_worker`).
    """
    with informing_wait(context, WaitWatch(job_name)) as watch:
        outcome = wait_on_worker(hook, job_name, settings, log=log, on_look=watch.saw)
        return finish_with_outcome(context, outcome, fail_on_job_failure=fail_on_job_failure)
