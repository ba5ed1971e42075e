"""Operator that creates an optimization job (idempotent on retry) and, by default, waits for it."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.compat import AirflowException, Context, push_xcom
from airflow_provider_optjob.lineage.assets import record_optimized_model, with_alias_outlet
from airflow_provider_optjob.lineage.openlineage import description_from_request, operator_lineage
from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.masking import mask_environment_secrets
from airflow_provider_optjob.model.api_errors import error_code
from airflow_provider_optjob.model.config import check_config_when_defined, validate_create_config
from airflow_provider_optjob.model.name import validate_rendered_job_name
from airflow_provider_optjob.model.ownership import JobOwner, current_try_number, with_owner_tags
from airflow_provider_optjob.model.wait_settings import Duration, WaitSettings, wait_settings
from airflow_provider_optjob.operators.base import OptimizationJobBaseOperator
from airflow_provider_optjob.waiting.check import describe_when_visible
from airflow_provider_optjob.waiting.choice import (
    IF_EXISTS_CHOICES,
    ExistingJob,
    IfExists,
    JobChoice,
    JobFinder,
    choice_for_existing,
    choose_job,
    find_job,
)
from airflow_provider_optjob.waiting.completion import WaitWatch, finish_from_trigger_event, informing_wait
from airflow_provider_optjob.waiting.retry import call_through_transient_errors
from airflow_provider_optjob.waiting.wait import (
    default_deferrable,
    deferral_timeout,
    last_look,
    trigger_for_task,
    wait_and_finish_on_worker,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome


#: XCom key under which the task pushes the name of the job it actually used, before it waits.
JOB_NAME_XCOM_KEY = "job_name"
DEFAULT_MAX_WAIT_SECONDS = 60 * 60 * 24

__all__ = [
    "DEFAULT_MAX_WAIT_SECONDS",
    "IF_EXISTS_CHOICES",
    "JOB_NAME_XCOM_KEY",
    "SageMakerCreateOptimizationJobOperator",
]


class SageMakerCreateOptimizationJobOperator(OptimizationJobBaseOperator):
    """
    Create an optimization job and, by default, wait for it without holding a worker slot.

    The job is tagged with the task instance that creates it (``airflow:dag_id``, ``airflow:task_id``,
    ``airflow:run_id``, ``airflow:map_index``, and ``airflow:try_number``), and the task attaches only to
    jobs it owns:

    - a job of this task instance that is still running or ``COMPLETED`` (a retry, a clear, a worker that
      died) is waited on instead of creating another;
    - a job of this task instance that ended ``FAILED`` or ``STOPPED`` in an earlier try is run again: the
      new try creates ``<name>-r<try_number>`` (cut to fit the 63-character rule; the same try always gets
      the same name);
    - a same-named job of anyone else is an error naming its owner, unless ``if_exists="adopt"``.

    The name of the job actually used is pushed to XCom under ``job_name`` before any wait: downstream
    tasks take it from there (``create.output["job_name"]``). Give each DAG run its own job name, for
    example ``job_name_per_run("quantize-llama")`` (:func:`~airflow_provider_optjob.model.name.job_name_per_run`).

    When waiting, the task ends exactly like
    :class:`~airflow_provider_optjob.sensors.optimization_job.SageMakerOptimizationJobSensor`: the same
    outcome dict as ``return_value``, the same XCom keys pushed first, and
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobFailedError` for ``FAILED``/``STOPPED``
    jobs. Environment values (``OptimizationEnvironment``, every ``OverrideEnvironment``) that are secrets
    by their key (``HF_TOKEN``, ``*_CREDENTIAL``, ``*_SECRET``, ``*_API_KEY``..., ``[core]
    sensitive_var_conn_names``, or a key ``sensitive_environment_keys`` names) or by their shape (an ``hf_``
    token, AWS keys, a JWT, a long random string) are registered with Airflow's secrets masker; short plain
    values (``awq``, ``1``) are not. The config, or any member of it, may be
    a Jinja template or an ``XComArg``: it is then checked after rendering, with the same messages.
    Killing the task while it waits on the worker stops the job only if this try created it (see the
    operators guide for every way a task can end).

    With ``asset_alias`` (and ``wait_for_completion``), a ``COMPLETED`` job's S3 output becomes an asset event
    through that alias (see :doc:`/lineage`). With the OpenLineage provider installed, the task reports the
    request's model source as input and the job's output location (and the model it creates) as outputs,
    without another call to SageMaker.

    .. seealso::
        :doc:`/operators`

    :param config: the ``CreateOptimizationJob`` request, as a dict (templated; shown as JSON in the UI). It,
        or any member of it, may be a Jinja string or an ``XComArg``.
    :param wait_for_completion: wait until the job is terminal.
    :param deferrable: wait in the triggerer instead of on the worker (default: ``[operators]
        default_deferrable`` when the user set it, else ``True``; see
        :func:`~airflow_provider_optjob.waiting.wait.default_deferrable`).
    :param poke_interval: seconds between two checks while waiting.
    :param max_wait: seconds to wait in all before the task fails.
    :param not_found_grace_period: seconds during which "job not found" right after create is tolerated.
    :param if_exists: what to do when a job of that name exists: ``"attach"`` (wait on it if this task
        instance owns it, fail otherwise), ``"adopt"`` (wait on it whoever owns it) or ``"fail"`` (never
        wait on a job from an earlier try). A job of this task that ended ``FAILED``/``STOPPED`` in an
        earlier try is run again under a derived name in every mode.
    :param fail_on_job_failure: fail the task when the job ended ``FAILED`` or ``STOPPED``.
    :param sensitive_environment_keys: more environment variable names whose values are masked in logs,
        besides those Airflow deems sensitive.
    :param asset_alias: the name of an asset alias (``DatasetAlias`` on Airflow 2) to declare as an outlet and
        emit the optimized model's asset event through; ``None`` for none. Needs ``wait_for_completion``.
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
        config: Any,
        wait_for_completion: bool = True,
        deferrable: bool | None = None,
        poke_interval: Duration = 60,
        max_wait: Duration = DEFAULT_MAX_WAIT_SECONDS,
        not_found_grace_period: Duration = 60,
        if_exists: IfExists = "attach",
        fail_on_job_failure: bool = True,
        sensitive_environment_keys: Collection[str] = (),
        asset_alias: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**with_alias_outlet(kwargs, asset_alias))
        if if_exists not in IF_EXISTS_CHOICES:
            raise ValueError(f"if_exists must be one of {', '.join(map(repr, IF_EXISTS_CHOICES))}, got {if_exists!r}.")
        if asset_alias is not None and not wait_for_completion:
            raise ValueError(
                "asset_alias needs wait_for_completion=True: the job has not completed when this task ends. Give "
                "asset_alias to the SageMakerOptimizationJobResultOperator that reads the job after its wait instead."
            )
        settings = wait_settings(poke_interval=poke_interval, timeout=max_wait, grace=not_found_grace_period)
        self.sensitive_environment_keys = tuple(sensitive_environment_keys)
        check_config_when_defined(config)
        if isinstance(config, Mapping):
            mask_environment_secrets(config, self.sensitive_environment_keys)
        self.config = config
        self._job_name_template = config.get("OptimizationJobName") if isinstance(config, Mapping) else config
        self.wait_for_completion = wait_for_completion
        self.deferrable = default_deferrable() if deferrable is None else deferrable
        self.poke_interval = settings.poke_interval
        self.max_wait = settings.timeout
        self.not_found_grace_period = settings.not_found_grace_period
        self.if_exists = if_exists
        self.fail_on_job_failure = fail_on_job_failure
        self.asset_alias = asset_alias
        self._job_name: str | None = None
        self._created_job_name: str | None = None

    def execute(self, context: Context) -> OptimizationJobOutcome:
        """Create (or attach to) the job, then wait for it as configured."""
        if isinstance(self.config, Mapping):
            validate_rendered_job_name(
                self.config.get("OptimizationJobName"), self._job_name_template, field="config['OptimizationJobName']"
            )
        config = validate_create_config(self.config)
        self.hook.check_connection_exists()
        self.hook.validate_create_request(config)
        job_name = self._create_or_attach(context, config)
        self._job_name = job_name
        push_xcom(context["ti"], JOB_NAME_XCOM_KEY, job_name)
        self._persist_link(context, job_name)
        if not self.wait_for_completion:
            outcome = describe_when_visible(
                self.hook, job_name, not_found_grace_period=self.not_found_grace_period, log=self.log
            )
            self._job_description = description_from_request(config, outcome)
            return outcome
        if not self.deferrable:
            result = wait_and_finish_on_worker(
                context,
                self.hook,
                job_name,
                self._wait_settings(),
                log=self.log,
                fail_on_job_failure=self.fail_on_job_failure,
            )
            return self._finish(context, config, result)
        self.defer(
            trigger=trigger_for_task(
                self, job_name, self._wait_settings(), stop_job_on_kill=self._created_job_name == job_name
            ),
            method_name="execute_complete",
            timeout=deferral_timeout(self.max_wait),
        )

    def _wait_settings(self) -> WaitSettings:
        return WaitSettings(self.poke_interval, self.max_wait, self.not_found_grace_period)

    def resume_execution(self, next_method: str, next_kwargs: dict[str, Any] | None, context: Context) -> Any:
        """Resume after the deferral; Airflow's own deferral timeout or a crashed trigger still push an ending."""
        with informing_wait(context, self._watch()):
            return super().resume_execution(next_method, next_kwargs, context)

    def _watch(self, job_name: str | None = None) -> WaitWatch:
        name = job_name or self._job_name or str(self.config.get("OptimizationJobName", "?"))
        return WaitWatch(name, last_look=lambda: last_look(self.hook, name, self.log))

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> OptimizationJobOutcome:
        """
        Resume after the trigger fired: return the outcome of a completed job, fail closed otherwise.

        Whatever the event, the wait's ending is pushed first (see :doc:`/xcom`); a ``timeout`` event
        describes the job once more for its last status.

        :param context: the task's context.
        :param event: the trigger event payload.
        """
        event_job_name = event.get("job_name") if isinstance(event, Mapping) else None
        watch = self._watch(self._job_name or event_job_name)
        result = finish_from_trigger_event(context, event, watch, fail_on_job_failure=self.fail_on_job_failure)
        return self._finish(context, self.config, result)

    def _finish(self, context: Context, config: Any, result: OptimizationJobOutcome) -> OptimizationJobOutcome:
        """Keep what lineage needs of the finished job, and emit its asset event if it completed."""
        if isinstance(config, Mapping):
            self._job_description = description_from_request(config, result)
        record_optimized_model(context, self.asset_alias, result)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """
        Report the request's model source as input and the job's outputs, from what ``execute`` learned.

        :param task_instance: the finished task instance (unused: nothing more is looked up).
        """
        return operator_lineage(self._job_description)

    def on_kill(self) -> None:
        """Stop the job if this try created it (a job it only attached to is left running)."""
        job_name = self._created_job_name
        if job_name is None:
            if self._job_name is not None:
                self.log.info("Leaving optimization job %s running: this try did not create it.", self._job_name)
            return
        try:
            self.hook.stop_optimization_job(job_name)
        except (ClientError, BotoCoreError) as error:
            self.log.warning("Could not stop optimization job %s: %s", job_name, error)
        else:
            self.log.info("Asked SageMaker to stop optimization job %s.", job_name)

    def render_template_fields(self, context: Context, jinja_env: Any = None) -> None:
        """Render the templated fields, then mask the environment values they produced."""
        super().render_template_fields(context, jinja_env)
        if isinstance(self.config, Mapping):
            mask_environment_secrets(self.config, self.sensitive_environment_keys)

    def _create_or_attach(self, context: Context, config: dict[str, Any]) -> str:
        """Choose the job this try uses (see :mod:`~airflow_provider_optjob.waiting.choice`), creating it if needed."""
        owner = JobOwner.of_task_instance(context["ti"])
        try_number = current_try_number(context)
        choice = choose_job(self._job_finder(), config["OptimizationJobName"], owner, try_number, self.if_exists)
        if not choice.create:
            self.log.info("Attaching to optimization job %s: %s.", choice.name, choice.reason)
            return choice.name
        request = with_owner_tags({**config, "OptimizationJobName": choice.name}, owner, try_number)
        try:
            response = self._create_within_deadline(request)
        except ClientError as error:
            if error_code(error) != "ResourceInUse":
                raise
            # Created since we looked (another worker running the same try): decide on what is there now.
            existing = self._job_finder()(choice.name)
            if existing is None:
                raise
            choice = self._choice_after_conflict(existing, owner, try_number, config["OptimizationJobName"])
            self.log.info("Attaching to optimization job %s: %s.", choice.name, choice.reason)
            return choice.name
        self._created_job_name = choice.name
        self.log.info(
            "Created optimization job %s (%s): %s.", choice.name, response.get("OptimizationJobArn"), choice.reason
        )
        return choice.name

    def _job_finder(self) -> JobFinder:
        """Look up a job and its owner tags, riding out transient errors for up to ``max_wait``."""

        def find(name: str) -> ExistingJob | None:
            return find_job(
                self.hook,
                name,
                retry=lambda call, what: call_through_transient_errors(
                    call, timeout=self.max_wait, base_interval=self.poke_interval, what=what, log=self.log
                ),
            )

        return find

    def _choice_after_conflict(
        self, existing: ExistingJob, owner: JobOwner, try_number: int, base_name: str
    ) -> JobChoice:
        choice = choice_for_existing(existing, owner, try_number, self.if_exists, base_name)
        if choice.create:
            raise AirflowException(
                f"Optimization job {existing.name!r} was created and ended {existing.status} while this try was "
                "starting it; retry the task."
            )
        return choice

    def _create_within_deadline(self, config: dict[str, Any]) -> dict[str, Any]:
        """Call CreateOptimizationJob, retrying throttling, 5xx and connection errors until ``max_wait`` has passed."""
        return call_through_transient_errors(
            lambda: self.hook.create_optimization_job(config),
            timeout=self.max_wait,
            base_interval=self.poke_interval,
            what=f"creating optimization job {config['OptimizationJobName']}",
            log=self.log,
        )
