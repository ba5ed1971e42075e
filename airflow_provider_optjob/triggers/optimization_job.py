"""Trigger that waits in the triggerer for an optimization job to finish."""

from __future__ import annotations

import asyncio
import random
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.model.api_errors import ApiErrorKind, classify_api_error, describe_failure_message
from airflow_provider_optjob.model.event import event_payload
from airflow_provider_optjob.model.look_policy import LookPolicy, NextStep, Verdict
from airflow_provider_optjob.model.outcome import build_job_outcome
from airflow_provider_optjob.model.status import trigger_event_status
from airflow_provider_optjob.triggerer_runtime.run_to_completion import run_to_completion
from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread
from airflow_provider_optjob.triggers.job_watcher import epoch_seconds, watching
from airflow_provider_optjob.triggers.task_ending import task_ended_by_a_person

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.triggers.job_watcher import Watch


class SageMakerOptimizationJobTrigger(BaseTrigger):
    """
    Wait until the job is terminal or the deadline passes; fire one event.

    While other triggers of ours wait through the same connection settings in the same triggerer, they share one
    ``ListOptimizationJobs`` query per poll interval (:mod:`~airflow_provider_optjob.triggers.job_watcher`): the
    trigger takes its first look from that List, and describes its job (``DescribeOptimizationJob``) only when
    the List shows it terminal, does not show it (it ended long ago, or is not found yet) or shows it gone, and
    every 5 minutes (or 60 poll intervals, if sooner) as a safety net. A trigger alone on its connection, one
    whose connection may not list jobs, and every trigger when ``[sagemaker_optimization_job] coalesced_polling``
    is off describe the job each poll interval.

    The event payload is ``{"status", "job_name", "message", "result"}`` with ``status`` one of
    ``success`` (``COMPLETED``), ``failed``, ``stopped``, ``timeout`` or ``error``; ``result`` is the
    job outcome dict for a terminal job, else ``None``.

    Throttling, 5xx answers and connection errors are retried with jittered backoff until the deadline.
    ``ResourceNotFound`` is tolerated for ``not_found_grace_period`` seconds (eventual consistency right
    after create). Denied access and bad credentials end the wait at once.

    .. seealso::
        :doc:`/sensors` for the deferrable sensor that uses it.

    :param job_name: the optimization job's name.
    :param end_time: the deadline, as a POSIX timestamp (absolute, so a trigger rebuilt after a
        triggerer restart keeps it).
    :param poll_interval: seconds between two looks at the job (a shared List, or a Describe).
    :param not_found_grace_period: seconds to keep polling a job the API does not find yet.
    :param aws_conn_id: the Airflow connection with AWS credentials.
    :param region_name: AWS region; overrides the connection's.
    :param verify: whether to verify SSL certificates, or a CA bundle path.
    :param botocore_config: botocore client configuration, as a dict.
    :param stop_job_on_kill: stop the job when a person ends the deferred task (on Airflow versions whose
        triggerer calls ``on_kill``); set by the operator that created the job, not by sensors. See
        :meth:`on_kill` for when a job is really stopped.
    """

    def __init__(
        self,
        job_name: str,
        end_time: float,
        poll_interval: float = 30.0,
        not_found_grace_period: float = 60.0,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
        stop_job_on_kill: bool = False,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.job_name = job_name
        self.end_time = float(end_time)
        self.poll_interval = float(poll_interval)
        self.not_found_grace_period = float(not_found_grace_period)
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config
        self.stop_job_on_kill = stop_job_on_kill

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the plain keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "job_name": self.job_name,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "not_found_grace_period": self.not_found_grace_period,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
                "stop_job_on_kill": self.stop_job_on_kill,
            },
        )

    def hook(self) -> SageMakerOptimizationJobHook:
        """
        Build the hook for this trigger's connection settings (nothing is looked up yet).

        The hook's module (the Amazon provider, boto3) is imported on first use, not with this module: the
        triggerer imports trigger classes on its event loop. Async code calls this through
        :meth:`_hook_off_the_loop`.
        """
        from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

        return SageMakerOptimizationJobHook(
            aws_conn_id=self.aws_conn_id,
            region_name=self.region_name,
            verify=self.verify,
            config=self.botocore_config,
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll until the job is terminal, the deadline passes, or an error ends the wait."""
        hook = await self._hook_off_the_loop()
        try:
            async with hook.async_client() as client:
                payload = await self._poll(hook, client)
        except OptimizationJobConnectionError as error:
            payload = self._event("error", str(error))
        except (ClientError, BotoCoreError) as error:
            payload = self._event("error", self._describe_setup_failure(error))
        yield TriggerEvent(payload)  # type: ignore[no-untyped-call]

    async def on_kill(self) -> None:
        """
        Stop the job when this trigger's task created it and a person marked the deferred task failed.

        Airflow 3.3's triggerer calls ``on_kill`` for any trigger it cancels, including one that only moves
        to another triggerer (apache/airflow#73454). So the task instance's state is read first, and the
        job is stopped only when the task is ``failed``. A task that is still deferred (a move), cleared
        (its next try attaches to the running job), marked success, or whose state cannot be read leaves
        the job running. Earlier triggerers never call ``on_kill``.
        """
        if not self.stop_job_on_kill:
            return
        # Airflow cancels an on_kill still running at its next state sync: the stop, once decided, goes on.
        await run_to_completion(self._stop_job_if_a_person_ended_the_task())

    async def _stop_job_if_a_person_ended_the_task(self) -> None:
        ended, why = await task_ended_by_a_person(self)
        if not ended:
            self.log.info("Not stopping optimization job %s: %s", self.job_name, why)
            return
        hook = await self._hook_off_the_loop()
        async with hook.async_client() as client:
            try:
                await client.stop_optimization_job(OptimizationJobName=self.job_name)
            except (ClientError, BotoCoreError) as error:
                self.log.warning("Could not stop optimization job %s: %s", self.job_name, error)
            else:
                self.log.info("Asked SageMaker to stop optimization job %s: %s.", self.job_name, why)

    async def _hook_off_the_loop(self) -> SageMakerOptimizationJobHook:
        """Build the hook in a worker thread, so importing its module the first time does not stall the loop."""
        return await run_in_worker_thread(self.hook)

    async def _poll(self, hook: SageMakerOptimizationJobHook, client: Any) -> dict[str, Any]:
        self._last_modified: float | None = None
        self._policy = LookPolicy(
            self.job_name,
            poll_interval=self.poll_interval,
            not_found_grace_period=self.not_found_grace_period,
            deadline=self.end_time,
            deadline_words="before the deadline",
            clock=time.time,
        )
        async with watching(hook, client, self.job_name, self.poll_interval, self._saw) as watch:
            return await self._poll_until_the_end(hook, client, watch)

    async def _poll_until_the_end(
        self, hook: SageMakerOptimizationJobHook, client: Any, watch: Watch
    ) -> dict[str, Any]:
        policy = self._policy
        if watch.first_look_listed:
            await watch.until_next_look(policy.remaining())
        else:
            await asyncio.sleep(_first_poll_offset(self.poll_interval, policy.remaining()))
        while True:
            watch.looking()
            try:
                response = await hook.async_describe_optimization_job(self.job_name, client)
            except (ClientError, BotoCoreError) as error:
                step = policy.after_error(error)
                if step.verdict is Verdict.LOOK_AGAIN:
                    self._log_missed_look(step, error)
            else:
                status = response.get("OptimizationJobStatus")
                status = status if isinstance(status, str) else None
                self._saw(status, epoch_seconds(response.get("LastModifiedTime")))
                step = policy.after_status(status)
                if step.verdict is Verdict.FINISHED:
                    return self._terminal_event(response)
                del response  # not kept while waiting: a parsed response holds about 4 KB
            if step.verdict is Verdict.FAILED:
                return self._event("error", step.message)
            if step.verdict is Verdict.TIMED_OUT:
                return self._event("timeout", step.message)
            if step.regular:
                await watch.until_next_look(policy.remaining())
            else:
                await asyncio.sleep(step.delay)

    def _terminal_event(self, response: dict[str, Any]) -> dict[str, Any]:
        outcome = build_job_outcome(response, self.job_name)
        status = outcome["status"] or ""
        message = f"Optimization job {self.job_name!r} ended with status {status}."
        if outcome["failure_reason"]:
            message = f"{message[:-1]}: {outcome['failure_reason']}"
        return self._event(trigger_event_status(status), message, dict(outcome))

    def _log_missed_look(self, step: NextStep, error: BaseException) -> None:
        if step.kind is ApiErrorKind.NOT_FOUND:
            self.log.info("Optimization job %s is not found yet; polling again.", self.job_name)
        else:
            self.log.warning(
                "Describing optimization job %s failed (%s); retrying in %.1f s.", self.job_name, error, step.delay
            )

    def _saw(self, status: str | None, last_modified: float | None) -> None:
        """Note the job's status and its last change (epoch seconds), from a Describe or the shared List; log news."""
        if last_modified is not None and self._last_modified is not None and last_modified < self._last_modified:
            return  # an older view than the last one (a List that lags behind Describe)
        if last_modified is not None:
            self._last_modified = last_modified
        if status != self._policy.last_status:
            self.log.info("Optimization job %s is %s.", self.job_name, status)
            self._policy.note_status(status)

    def _event(self, status: str, message: str, result: dict[str, Any] | None = None) -> dict[str, Any]:
        return event_payload(status, self.job_name, message, result)

    def _describe_setup_failure(self, error: BaseException) -> str:
        kind = classify_api_error(error)
        return describe_failure_message(self.job_name, kind, error)


def _first_poll_offset(poll_interval: float, remaining: float) -> float:
    """
    Spread first polls over one interval, so triggers deferred together do not poll in lockstep.

    The deferring task has just looked at the job, so the first poll may wait.
    """
    return random.uniform(0, max(0.0, min(poll_interval, remaining)))
