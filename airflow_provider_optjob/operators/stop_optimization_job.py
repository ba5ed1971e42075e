"""Operator that stops an optimization job."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import ClientError

from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.model.api_errors import error_code
from airflow_provider_optjob.model.config import is_resolved_later
from airflow_provider_optjob.model.name import validate_job_name
from airflow_provider_optjob.model.status import is_terminal
from airflow_provider_optjob.model.wait_settings import Duration, WaitSettings, wait_settings
from airflow_provider_optjob.operators.base import OptimizationJobBaseOperator
from airflow_provider_optjob.waiting.completion import outcome_from_trigger_event, push_outcome
from airflow_provider_optjob.waiting.wait import default_deferrable, trigger_for_task, wait_on_worker

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_optjob.compat import Context
    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome


class SageMakerStopOptimizationJobOperator(OptimizationJobBaseOperator):
    """
    Stop an optimization job; optionally wait until it has stopped.

    Stopping a job that has already finished is not an error: the task logs the job's status and
    succeeds. The task returns the job's outcome dict (and, once the job is terminal, pushes the same
    XCom keys as the sensor); a job that ends ``STOPPED`` here is what was asked for, so it does not fail
    the task.

    .. seealso::
        :doc:`/operators`

    :param job_name: the optimization job's name (templated).
    :param wait_for_completion: wait until the job is terminal (normally ``STOPPED``).
    :param deferrable: wait in the triggerer instead of on the worker (default: ``[operators]
        default_deferrable`` when the user set it, else ``True``).
    :param poke_interval: seconds between two checks while waiting.
    :param max_wait: seconds to wait in all before the task fails.
    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    :param region_name: AWS region; overrides the connection's (templated).
    :param verify: whether to verify SSL certificates, or a CA bundle path (templated).
    :param botocore_config: botocore client configuration, as a dict.
    """

    template_fields: Sequence[str] = aws_template_fields("job_name")
    operator_extra_links = (SageMakerOptimizationJobLink(),)

    def __init__(
        self,
        *,
        job_name: str,
        wait_for_completion: bool = False,
        deferrable: bool | None = None,
        poke_interval: Duration = 30,
        max_wait: Duration = 60 * 60,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        settings = wait_settings(poke_interval=poke_interval, timeout=max_wait, grace=0)
        if not is_resolved_later(job_name):
            validate_job_name(job_name)
        self.job_name = job_name
        self._job_name_template = job_name
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poke_interval = settings.poke_interval
        self.max_wait = settings.timeout

    def execute(self, context: Context) -> OptimizationJobOutcome:
        """Stop the job unless it has finished; wait for it if asked."""
        outcome = self._describe_named_job(context, self.job_name)
        if is_terminal(outcome["status"]):
            self.log.info(
                "Optimization job %s has already ended (%s); nothing to stop.", self.job_name, outcome["status"]
            )
            push_outcome(context, outcome)
            return outcome
        self._stop()
        if not self.wait_for_completion:
            return self._describe_outcome(self.job_name)
        if not self.deferrable:
            outcome = wait_on_worker(self.hook, self.job_name, self._wait_settings(), log=self.log)
            push_outcome(context, outcome)
            return outcome
        self.defer(
            trigger=trigger_for_task(self, self.job_name, self._wait_settings()),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.max_wait),
        )

    def _wait_settings(self) -> WaitSettings:
        return WaitSettings(self.poke_interval, self.max_wait, not_found_grace_period=0.0)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> OptimizationJobOutcome:
        """
        Resume after the trigger fired: push and return the outcome of the (now terminal) job.

        :param context: the task's context.
        :param event: the trigger event payload.
        """
        outcome = outcome_from_trigger_event(event, self.job_name)
        push_outcome(context, outcome)
        return outcome

    def _stop(self) -> None:
        try:
            self.hook.stop_optimization_job(self.job_name)
        except ClientError as error:
            if error_code(error) != "ValidationException":
                raise
            self.log.info("SageMaker did not stop optimization job %s: %s", self.job_name, error)
        else:
            self.log.info("Asked SageMaker to stop optimization job %s.", self.job_name)
