"""Operator that reads a finished optimization job's outcome and hands it on through XCom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_optjob.exceptions import OptimizationJobNotFinishedError
from airflow_provider_optjob.lineage.assets import record_optimized_model, with_alias_outlet
from airflow_provider_optjob.lineage.openlineage import operator_lineage
from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.model.config import is_resolved_later
from airflow_provider_optjob.model.name import validate_job_name
from airflow_provider_optjob.model.status import is_terminal
from airflow_provider_optjob.operators.base import OptimizationJobBaseOperator
from airflow_provider_optjob.waiting.completion import WaitWatch, finish_with_outcome, informing_wait

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_optjob.compat import Context
    from airflow_provider_optjob.model.outcome import OptimizationJobResult


class SageMakerOptimizationJobResultOperator(OptimizationJobBaseOperator):
    """
    Describe a finished optimization job and push its outcome to XCom.

    The outcome dict (with its ``wait_ending``) is the task's ``return_value``; the keys ``status``,
    ``recommended_inference_image``, ``failure_reason``, ``job_result`` and ``wait_ending`` are pushed
    first, also when the task fails because the job cannot be described or has not finished (an ``error``
    ending, see :doc:`/xcom`). A
    ``FAILED`` or ``STOPPED`` job fails the task with
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobFailedError`, unless
    ``fail_on_job_failure=False`` (then the task returns the outcome, for branching). A job that is still
    running is an error: wait for it first with
    :class:`~airflow_provider_optjob.sensors.optimization_job.SageMakerOptimizationJobSensor`.

    With ``asset_alias``, a ``COMPLETED`` job's S3 output becomes an asset event through that alias (see
    :doc:`/lineage`). With the OpenLineage provider installed, the task reports the job's model source as input
    and its output location (and the model it created) as outputs, from the description it read.

    .. seealso::
        :doc:`/operators`

    :param job_name: the optimization job's name (templated).
    :param fail_on_job_failure: fail the task when the job ended ``FAILED`` or ``STOPPED``.
    :param asset_alias: the name of an asset alias (``DatasetAlias`` on Airflow 2) to declare as an outlet and
        emit the optimized model's asset event through; ``None`` for none.
    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    :param region_name: AWS region; overrides the connection's (templated).
    :param verify: whether to verify SSL certificates, or a CA bundle path (templated).
    :param botocore_config: botocore client configuration, as a dict.
    """

    template_fields: Sequence[str] = aws_template_fields("job_name")
    operator_extra_links = (SageMakerOptimizationJobLink(),)

    def __init__(
        self, *, job_name: str, fail_on_job_failure: bool = True, asset_alias: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**with_alias_outlet(kwargs, asset_alias))
        if not is_resolved_later(job_name):
            validate_job_name(job_name)
        self.job_name = job_name
        self._job_name_template = job_name
        self.fail_on_job_failure = fail_on_job_failure
        self.asset_alias = asset_alias

    def execute(self, context: Context) -> OptimizationJobResult:
        """Describe the job; push and return its outcome, or fail as the class docstring says."""
        with informing_wait(context, WaitWatch(self.job_name)) as watch:
            outcome = self._describe_named_job(context, self.job_name)
            watch.saw(outcome)
            if not is_terminal(outcome["status"]):
                raise OptimizationJobNotFinishedError(
                    f"Optimization job {self.job_name!r} is {outcome['status']}, not finished. Wait for it first "
                    "with SageMakerOptimizationJobSensor (or SageMakerCreateOptimizationJobOperator with "
                    "wait_for_completion=True)."
                )
            result = finish_with_outcome(context, outcome, fail_on_job_failure=self.fail_on_job_failure)
        record_optimized_model(context, self.asset_alias, result)
        return result

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """
        Report the job's model source as input and what it wrote as outputs, from the description ``execute`` read.

        :param task_instance: the finished task instance (unused: nothing more is looked up).
        """
        return operator_lineage(self._job_description)
