"""Operator that builds a SageMaker model from a completed optimization job's output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.amazon.aws.utils.mixins import aws_template_fields

from airflow_provider_optjob.lineage.openlineage import operator_lineage
from airflow_provider_optjob.links.optimization_job import SageMakerOptimizationJobLink
from airflow_provider_optjob.model.config import is_resolved_later
from airflow_provider_optjob.model.model_name import default_model_name, validate_model_name
from airflow_provider_optjob.model.model_source import DraftModel
from airflow_provider_optjob.model.name import validate_job_name, validate_rendered_job_name
from airflow_provider_optjob.operators.base import OptimizationJobBaseOperator

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping, Sequence

    from airflow.providers.openlineage.extractors import OperatorLineage

    from airflow_provider_optjob.compat import Context


class SageMakerCreateModelFromOptimizationJobOperator(OptimizationJobBaseOperator):
    """
    Create the SageMaker model that serves a completed optimization job's output; return its name.

    Everything comes from ``DescribeOptimizationJob`` at run time, following the SageMaker Python SDK's mapping
    (see :mod:`~airflow_provider_optjob.model.model_source`): the image is ``RecommendedInferenceImage``, the model
    data is the job's ``S3OutputLocation``, the environment is ``OptimizationEnvironment`` merged with each
    ``OverrideEnvironment`` (an override wins), and the role is the job's ``RoleArn``. Environment values go
    from one AWS API to the other: they never pass through XCom, the task log or the rendered fields (the secret
    ones are registered with Airflow's secrets masker, as the create operator does).

    Retries are safe: a model of that name that this job already produced is reused, and a same-named model
    that does not match is an error. When the job itself created a model (``OutputConfig.SageMakerModel``), its
    name is returned and nothing is created. A ``FAILED``/``STOPPED`` job fails the task with
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobFailedError`, a running one with
    :class:`~airflow_provider_optjob.exceptions.OptimizationJobNotFinishedError`. A job that sharded its model
    (it deploys through inference components) and a speculative-decoding job without ``draft_model_source``
    are refused with a message that says what to do.

    .. seealso::
        :doc:`/model_from_job`

    :param job_name: the optimization job's name (templated; for example the create task's
        ``.output["job_name"]``).
    :param model_name: the model's name (templated; default: the job's name).
    :param execution_role_arn: the role SageMaker assumes to serve the model (templated; default: the job's
        ``RoleArn``).
    :param tags: more tags for the model, as a dict (templated); the model is always tagged
        ``OptimizationJobName=<job>``.
    :param vpc_config: the model's ``VpcConfig`` (templated).
    :param draft_model_source: the speculative-decoding draft model, as an S3 prefix (served on the
        ``draft_model`` channel) or a model hub id (templated).
    :param accept_draft_model_eula: accept the draft model's end-user license agreement.
    :param sensitive_environment_keys: more environment variable names whose values are masked in logs,
        besides those Airflow deems sensitive.
    :param aws_conn_id: the Airflow connection with AWS credentials (templated).
    :param region_name: AWS region; overrides the connection's (templated).
    :param verify: whether to verify SSL certificates, or a CA bundle path (templated).
    :param botocore_config: botocore client configuration, as a dict.
    """

    template_fields: Sequence[str] = aws_template_fields(
        "job_name", "model_name", "execution_role_arn", "tags", "vpc_config", "draft_model_source"
    )
    template_fields_renderers = {"tags": "json", "vpc_config": "json"}
    operator_extra_links = (SageMakerOptimizationJobLink(),)
    ui_color = "#66c3ff"

    def __init__(
        self,
        *,
        job_name: str,
        model_name: str | None = None,
        execution_role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        vpc_config: Mapping[str, Any] | None = None,
        draft_model_source: str | None = None,
        accept_draft_model_eula: bool = False,
        sensitive_environment_keys: Collection[str] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        if not is_resolved_later(job_name):
            validate_job_name(job_name)
        if model_name is not None and not is_resolved_later(model_name):
            validate_model_name(model_name)
        self.job_name = job_name
        self._job_name_template = job_name
        self.model_name = model_name
        self.execution_role_arn = execution_role_arn
        self.tags = tags
        self.vpc_config = vpc_config
        self.draft_model_source = draft_model_source
        self.accept_draft_model_eula = accept_draft_model_eula
        self.sensitive_environment_keys = tuple(sensitive_environment_keys)
        self._model_name: str | None = None

    def execute(self, context: Context) -> str:
        """Describe the job, create (or reuse) its model, and return the model's name."""
        job_name = validate_rendered_job_name(self.job_name, self._job_name_template)
        model_name = validate_model_name(self.model_name) if self.model_name else default_model_name(job_name)
        self._describe_named_job(context, job_name)
        self._model_name = self.hook.create_model_from_optimization_job(
            job_name,
            model_name,
            execution_role_arn=self.execution_role_arn or None,
            tags=self.tags,
            vpc_config=self.vpc_config,
            draft_model=(
                DraftModel(self.draft_model_source, accept_eula=self.accept_draft_model_eula)
                if self.draft_model_source
                else None
            ),
            sensitive_environment_keys=self.sensitive_environment_keys,
        )
        return self._model_name

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> OperatorLineage[Any, Any] | None:
        """
        Report the job's model source as input, and its output and the model as outputs, from what ``execute`` read.

        :param task_instance: the finished task instance (unused: nothing more is looked up).
        """
        return operator_lineage(self._job_description, model_name=self._model_name)
