"""Operator that creates an optimization job (idempotent on retry) and, by default, waits for it."""

from __future__ import annotations

import time
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException, Context
from airflow_provider_optjob.hooks.api_errors import ApiErrorKind, backoff_delay, classify_api_error, error_code
from airflow_provider_optjob.job.check import describe_when_visible
from airflow_provider_optjob.job.completion import finish_with_outcome, outcome_from_trigger_event
from airflow_provider_optjob.job.config import mask_environment_secrets, validate_create_config
from airflow_provider_optjob.job.name import is_templated
from airflow_provider_optjob.job.wait import trigger_for_task, wait_on_worker
from airflow_provider_optjob.job.wait_settings import Duration, wait_settings
from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.operators.base import OptimizationJobBaseOperator

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_optjob.job.outcome import OptimizationJobOutcome


IF_EXISTS_CHOICES = ("attach", "fail")
DEFAULT_MAX_WAIT_SECONDS = 60 * 60 * 24


class SageMakerCreateOptimizationJobOperator(OptimizationJobBaseOperator):
    """
    Create an optimization job and, by default, wait for it without holding a worker slot.

    Retries are safe: if a job with the configured name already exists (a retried task, or a worker
    that died after creating it), ``if_exists="attach"`` waits on that job instead of creating another;
    ``if_exists="fail"`` fails with a clear error. Give each DAG run its own job name (for example
    ``"quantize-{{ ds_nodash }}"``) so that a new run does not attach to an older run's job.

    When waiting, the task ends exactly like
    :class:`~airflow_provider_optjob.sensors.optimization_job.SageMakerOptimizationJobSensor`: the same
    outcome dict as ``return_value``, the same XCom keys pushed first, and
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobFailedError` for ``FAILED``/``STOPPED``
    jobs. Values of ``OptimizationEnvironment`` and of every ``OverrideEnvironment`` are registered with
    Airflow's secrets masker. Killing the task stops the job.

    .. seealso::
        :doc:`/operators`

    :param config: the ``CreateOptimizationJob`` request (templated; shown as JSON in the UI).
    :param wait_for_completion: wait until the job is terminal.
    :param deferrable: wait in the triggerer instead of on the worker.
    :param poke_interval: seconds between two checks while waiting.
    :param max_wait: seconds to wait in all before the task fails.
    :param not_found_grace_period: seconds during which "job not found" right after create is tolerated.
    :param if_exists: ``"attach"`` (wait on an existing job of that name) or ``"fail"``.
    :param fail_on_job_failure: fail the task when the job ended ``FAILED`` or ``STOPPED``.
    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    :param region_name: AWS region; overrides the connection's (templated).
    :param verify: whether to verify SSL certificates, or a CA bundle path (templated).
    :param botocore_config: botocore client configuration, as a dict.
    """

    template_fields: Sequence[str] = aws_template_fields("config")
    template_fields_renderers = {"config": "json"}
    operator_extra_links = (SageMakerOptimizationJobLink(),)
    ui_color = "#66c3ff"

    def __init__(
        self,
        *,
        config: dict[str, Any],
        wait_for_completion: bool = True,
        deferrable: bool = True,
        poke_interval: Duration = 60,
        max_wait: Duration = DEFAULT_MAX_WAIT_SECONDS,
        not_found_grace_period: Duration = 60,
        if_exists: Literal["attach", "fail"] = "attach",
        fail_on_job_failure: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if if_exists not in IF_EXISTS_CHOICES:
            raise ValueError(f"if_exists must be one of {', '.join(map(repr, IF_EXISTS_CHOICES))}, got {if_exists!r}.")
        settings = wait_settings(poke_interval=poke_interval, timeout=max_wait, grace=not_found_grace_period)
        if not is_templated(config):
            validate_create_config(config)
            mask_environment_secrets(config)
        self.config = config
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poke_interval = settings.poke_interval
        self.max_wait = settings.timeout
        self.not_found_grace_period = settings.not_found_grace_period
        self.if_exists = if_exists
        self.fail_on_job_failure = fail_on_job_failure
        self._job_name: str | None = None

    def execute(self, context: Context) -> OptimizationJobOutcome:
        """Create (or attach to) the job, then wait for it as configured."""
        config = validate_create_config(self.config)
        self.hook.check_connection_exists()
        job_name: str = config["OptimizationJobName"]
        self._job_name = job_name
        self._create_or_attach(config)
        self._persist_link(context, job_name)
        if not self.wait_for_completion:
            return describe_when_visible(
                self.hook, job_name, not_found_grace_period=self.not_found_grace_period, log=self.log
            )
        if not self.deferrable:
            outcome = wait_on_worker(
                self.hook,
                job_name,
                poll_interval=self.poke_interval,
                timeout=self.max_wait,
                not_found_grace_period=self.not_found_grace_period,
                log=self.log,
            )
            return finish_with_outcome(context, outcome, fail_on_job_failure=self.fail_on_job_failure)
        self.defer(
            trigger=trigger_for_task(
                self,
                job_name,
                poll_interval=self.poke_interval,
                timeout=self.max_wait,
                not_found_grace_period=self.not_found_grace_period,
                stop_job_on_kill=True,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.max_wait),
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> OptimizationJobOutcome:
        """
        Resume after the trigger fired: return the outcome of a completed job, fail closed otherwise.

        :param context: the task's context.
        :param event: the trigger event payload.
        """
        job_name = self._job_name or str(self.config.get("OptimizationJobName", "?"))
        outcome = outcome_from_trigger_event(event, job_name)
        return finish_with_outcome(context, outcome, fail_on_job_failure=self.fail_on_job_failure)

    def on_kill(self) -> None:
        """Stop the job this task created or attached to, if it is still running."""
        if self._job_name is None:
            return
        try:
            self.hook.stop_optimization_job(self._job_name)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not stop optimization job %s: %s", self._job_name, error)
        else:
            self.log.info("Asked SageMaker to stop optimization job %s.", self._job_name)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the templated fields, then mask the environment values they produced."""
        super().render_template_fields(context, jinja_env)
        if isinstance(self.config, Mapping):
            mask_environment_secrets(self.config)

    def _create_or_attach(self, config: dict[str, Any]) -> None:
        job_name = config["OptimizationJobName"]
        try:
            response = self._create_within_deadline(config)
        except ClientError as error:
            if error_code(error) != "ResourceInUse":
                raise
            if self.if_exists == "fail":
                raise AirflowException(
                    f"An optimization job named {job_name!r} already exists and if_exists='fail'. Use a new "
                    "name (for example one templated with the run's date), or if_exists='attach' to wait on "
                    "the existing job."
                ) from error
            self.log.info("Optimization job %s already exists; attaching to it instead of creating one.", job_name)
            return
        self.log.info("Created optimization job %s (%s).", job_name, response.get("OptimizationJobArn"))

    def _create_within_deadline(self, config: dict[str, Any]) -> dict[str, Any]:
        """Call CreateOptimizationJob, retrying throttling, 5xx and connection errors until ``max_wait`` has passed."""
        deadline = time.monotonic() + self.max_wait
        failures_in_a_row = 0
        while True:
            try:
                return self.hook.create_optimization_job(config)
            except (ClientError, BotoCoreError) as error:
                remaining = deadline - time.monotonic()
                if classify_api_error(error) is not ApiErrorKind.TRANSIENT or remaining <= 0:
                    raise
                failures_in_a_row += 1
                delay = min(backoff_delay(self.poke_interval, failures_in_a_row), remaining)
                self.log.warning(
                    "Creating optimization job %s failed (%s); retrying in %.1f s.",
                    config["OptimizationJobName"],
                    error,
                    delay,
                )
                time.sleep(delay)
