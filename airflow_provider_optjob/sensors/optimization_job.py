"""Sensor that waits for an optimization job to reach a terminal status."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.sensors.base_aws import AwsBaseSensor
from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_optjob.compat import (
    Context,
    PokeReturnValue,
    airflow2_first_reschedule_start,
    first_reschedule_date,
)
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.model.config import is_resolved_later
from airflow_provider_optjob.model.name import validate_job_name, validate_rendered_job_name
from airflow_provider_optjob.model.status import is_terminal
from airflow_provider_optjob.model.wait_settings import Duration, WaitSettings, wait_settings
from airflow_provider_optjob.waiting.check import check_job
from airflow_provider_optjob.waiting.completion import (
    WaitWatch,
    finish_from_trigger_event,
    finish_with_outcome,
    informing_wait,
)
from airflow_provider_optjob.waiting.wait import default_deferrable, deferral_timeout, last_look, trigger_for_task

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, OptimizationJobResult


class SageMakerOptimizationJobSensor(AwsBaseSensor[SageMakerOptimizationJobHook]):
    """
    Wait until an optimization job is ``COMPLETED``, ``FAILED`` or ``STOPPED``.

    ``COMPLETED`` returns the job outcome dict with its ``wait_ending`` (the task's ``return_value``);
    ``FAILED`` and ``STOPPED`` fail the task with
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobFailedError` (or skip it with ``soft_fail``).
    However the wait ends (a terminal job, the timeout in any mode, denied access, a job not found, a bad
    trigger event), the XCom keys ``status``, ``recommended_inference_image``, ``failure_reason``,
    ``job_result`` and ``wait_ending`` are pushed first, so downstream tasks with ``trigger_rule="all_done"``
    can read the last known job status and why the wait ended (see :doc:`/xcom`).

    By default the sensor defers: it checks the job once, and if it is still running hands the wait to
    :class:`~airflow_provider_optjob.triggers.optimization_job.SageMakerOptimizationJobTrigger` in the
    triggerer, freeing the worker slot. ``deferrable=False`` polls from the worker instead, in
    ``mode="poke"`` or ``mode="reschedule"``.

    .. seealso::
        :doc:`/sensors`

    :param job_name: the optimization job's name (templated).
    :param deferrable: wait in the triggerer instead of on a worker. Default: ``[operators]
        default_deferrable`` when the user set it, else ``True`` (see
        :func:`~airflow_provider_optjob.waiting.wait.default_deferrable`).
    :param poke_interval: seconds between two checks of the job.
    :param timeout: seconds to wait in all before the task fails (or skips with ``soft_fail``).
    :param not_found_grace_period: seconds during which "job not found" is taken for eventual
        consistency right after create, and the wait goes on.
    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    :param region_name: AWS region; overrides the connection's (templated).
    :param verify: whether to verify SSL certificates, or a CA bundle path (templated).
    :param botocore_config: botocore client configuration, as a dict.
    """

    aws_hook_class = SageMakerOptimizationJobHook
    template_fields: Sequence[str] = aws_template_fields("job_name")
    ui_color = "#66c3ff"

    def __init__(
        self,
        *,
        job_name: str,
        deferrable: bool | None = None,
        poke_interval: Duration = 60,
        timeout: Duration = 60 * 60 * 24,
        not_found_grace_period: Duration = 60,
        **kwargs: Any,
    ) -> None:
        settings = wait_settings(poke_interval=poke_interval, timeout=timeout, grace=not_found_grace_period)
        super().__init__(poke_interval=settings.poke_interval, timeout=settings.timeout, **kwargs)
        if not is_resolved_later(job_name):
            validate_job_name(job_name)
        self.job_name = job_name
        self._job_name_template = job_name
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.not_found_grace_period = settings.not_found_grace_period
        self._started_monotonic: float | None = None
        self._watch: WaitWatch | None = None

    def execute(self, context: Context) -> Any:
        """Check the job once; finish if it is terminal, else defer (or poll, when not deferrable)."""
        self._started_monotonic = time.monotonic()
        with informing_wait(context, self._wait_watch(), deadline_passed=lambda: self._deadline_passed(context)):
            validate_rendered_job_name(self.job_name, self._job_name_template)
            self.hook.check_connection_exists()
            if not self.deferrable:
                return super().execute(context)
            outcome = self._check_job(context)
            if outcome is not None and is_terminal(outcome["status"]):
                return finish_with_outcome(context, outcome, soft_fail=self.soft_fail)
            self.defer(
                trigger=trigger_for_task(
                    self, self.job_name, WaitSettings(self.poke_interval, self.timeout, self.not_found_grace_period)
                ),
                method_name="execute_complete",
                timeout=deferral_timeout(self.timeout),
            )

    def poke(self, context: Context) -> PokeReturnValue:
        """Check the job; when it is terminal, push its outcome and finish (``poke``/``reschedule`` modes)."""
        outcome = self._check_job(context)
        if outcome is None or not is_terminal(outcome["status"]):
            return PokeReturnValue(is_done=False)
        return PokeReturnValue(is_done=True, xcom_value=finish_with_outcome(context, outcome, soft_fail=self.soft_fail))

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """
        Resume after the deferral; push the ending even when Airflow fails the task without ``execute_complete``.

        That happens when the deferral's backstop timeout fires or the trigger crashed.

        :param next_method: the method to resume with (``"__fail__"`` when Airflow fails the task).
        :param next_kwargs: its keyword arguments (the trigger event).
        :param context: the task's context.
        """
        with informing_wait(context, self._wait_watch()):
            return super().resume_execution(next_method, next_kwargs, context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> OptimizationJobResult:
        """
        Resume after the trigger fired: return the outcome of a completed job, fail closed otherwise.

        :param context: the task's context.
        :param event: the trigger event payload.
        """
        return finish_from_trigger_event(context, event, self._wait_watch(), soft_fail=self.soft_fail)

    def _wait_watch(self) -> WaitWatch:
        if self._watch is None:
            self._watch = WaitWatch(self.job_name, last_look=lambda: last_look(self.hook, self.job_name, self.log))
        return self._watch

    def _check_job(self, context: Context) -> OptimizationJobOutcome | None:
        outcome = check_job(
            self.hook,
            self.job_name,
            waited_seconds=self._waited_seconds(context),
            not_found_grace_period=self.not_found_grace_period,
            log=self.log,
        )
        if outcome is not None:
            self._wait_watch().saw(outcome)
        return outcome

    def _deadline_passed(self, context: Context) -> bool:
        return self._waited_seconds(context) >= self.timeout

    def _waited_seconds(self, context: Context) -> float:
        if self.reschedule:
            return (datetime.now(timezone.utc) - _first_try_start(self, context)).total_seconds()
        if self._started_monotonic is None:
            self._started_monotonic = time.monotonic()
        return time.monotonic() - self._started_monotonic


def _first_try_start(task: SageMakerOptimizationJobSensor, context: Context) -> datetime:
    """When this sensor's first reschedule started (Airflow 3 asks the API server; Airflow 2 its database)."""
    task_instance: Any = context["ti"]
    started = first_reschedule_date(context)
    if started is None and not hasattr(task_instance, "get_first_reschedule_date"):
        started = _airflow2_first_try_start(task, task_instance)
    started = started or getattr(task_instance, "start_date", None) or datetime.now(timezone.utc)
    return started if started.tzinfo else started.replace(tzinfo=timezone.utc)


def _airflow2_first_try_start(task: SageMakerOptimizationJobSensor, task_instance: Any) -> datetime | None:
    """
    Read when the first reschedule of this try started, as Airflow 2's own sensor does.

    Airflow 2 starts each reschedule with a new ``start_date`` on the task instance; the first one is kept in
    its ``task_reschedule`` table. ``None`` before the first reschedule (then ``start_date`` is the first).
    """
    first_try_number = (task_instance.max_tries or 0) - (task.retries or 0) + 1
    return airflow2_first_reschedule_start(
        dag_id=task_instance.dag_id,
        task_id=task_instance.task_id,
        run_id=task_instance.run_id,
        map_index=task_instance.map_index,
        try_number=first_try_number,
    )
