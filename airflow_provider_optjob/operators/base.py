"""What every optimization-job operator shares: the hook, and describing a named job with clear errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.operators.base_aws import AwsBaseOperator
from botocore.exceptions import ClientError

from airflow_provider_optjob.exceptions import OptimizationJobNotFoundError
from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
from airflow_provider_optjob.lineage.openlineage import lineage_view
from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.model.api_errors import ApiErrorKind, classify_api_error
from airflow_provider_optjob.model.name import validate_rendered_job_name
from airflow_provider_optjob.model.outcome import build_job_outcome

if TYPE_CHECKING:
    from airflow_provider_optjob.compat import Context
    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome


class OptimizationJobBaseOperator(AwsBaseOperator[SageMakerOptimizationJobHook]):
    """
    What every optimization-job operator shares: the hook, and describing a job with clear errors.

    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    """

    aws_hook_class = SageMakerOptimizationJobHook

    #: What the last Describe of this task told of its job, as lineage needs it
    #: (:func:`~airflow_provider_optjob.lineage.openlineage.lineage_view`); ``None`` before any.
    _job_description: dict[str, Any] | None = None
    #: The ``job_name`` argument as the DAG gave it, before rendering (to name a template that rendered nothing).
    _job_name_template: object = None

    def _describe_outcome(self, job_name: str) -> OptimizationJobOutcome:
        try:
            description = self.hook.describe_optimization_job(job_name)
        except ClientError as error:
            if classify_api_error(error) is ApiErrorKind.NOT_FOUND:
                raise OptimizationJobNotFoundError(
                    f"No optimization job named {job_name!r} in region {self.hook.conn_region_name} "
                    f"(connection {self.aws_conn_id!r}): check the name, the region and the account."
                ) from error
            raise
        self._job_description = lineage_view(description)
        return build_job_outcome(description, job_name)

    def _describe_named_job(self, context: Context, job_name: str) -> OptimizationJobOutcome:
        """Check the rendered name and the connection, describe the job, and persist its console link."""
        validate_rendered_job_name(job_name, self._job_name_template)
        self.hook.check_connection_exists()
        outcome = self._describe_outcome(job_name)
        self._persist_link(context, job_name)
        return outcome

    def _persist_link(self, context: Context, job_name: str) -> None:
        SageMakerOptimizationJobLink.persist(
            context=context,
            operator=self,
            region_name=self.hook.conn_region_name,
            aws_partition=self.hook.conn_partition,
            job_name=job_name,
        )
