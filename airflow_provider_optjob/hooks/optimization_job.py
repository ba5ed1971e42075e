"""Hook for Amazon SageMaker optimization jobs."""

from __future__ import annotations

from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import ClientError, DataNotFoundError

from airflow_provider_optjob.compat import AirflowNotFoundException
from airflow_provider_optjob.exceptions import OptimizationJobFailedError, OptimizationJobNotFinishedError
from airflow_provider_optjob.masking import mask_environment_secrets
from airflow_provider_optjob.model.api_errors import ApiErrorKind, classify_api_error, error_code
from airflow_provider_optjob.model.model_name import default_model_name, validate_model_name
from airflow_provider_optjob.model.model_source import (
    ModelFromJobError,
    job_model_name,
    model_request,
    reuse_problems,
)
from airflow_provider_optjob.model.name import validate_job_name
from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, build_job_outcome
from airflow_provider_optjob.model.status import JobPhase, job_phase
from airflow_provider_optjob.triggerer_runtime.async_credentials import refresh_credentials_off_the_loop
from airflow_provider_optjob.triggerer_runtime.connection_lookup import (
    ConnectionSettings,
    aget_connection_settings,
    missing_connection_error,
)
from airflow_provider_optjob.triggerer_runtime.gc_freeze import long_lived_setup
from airflow_provider_optjob.triggerer_runtime.service_model import SERVICE, use_trimmed_service_data
from airflow_provider_optjob.triggerer_runtime.shared_async_client import request_slot, shared_async_client

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Collection, Hashable, Iterator, Mapping

    from types_boto3_sagemaker.client import SageMakerClient

    from airflow_provider_optjob.model.model_source import DraftModel

#: Applied under any client config the connection or the caller gives: botocore's ``standard`` retry
#: mode (exponential backoff with jitter, throttling-aware). Waiting callers add their own
#: deadline-bounded retries on top, so a throttling storm cannot end a wait early.
DEFAULT_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})

_SERVICE_MODEL_FILES = ("service-2", "endpoint-rule-set-1")
_SHARED_DATA_FILES = ("endpoints", "partitions", "_retry", "sdk-default-configuration")


class SageMakerOptimizationJobHook(AwsBaseHook):
    """
    Interact with Amazon SageMaker optimization jobs through the ``sagemaker`` client.

    Job names are checked against the API's rule before any call. Sync methods use boto3; the async
    describe uses an aiobotocore client shared by every caller with the same settings on the same event
    loop (see :mod:`airflow_provider_optjob.triggerer_runtime.shared_async_client`).

    .. seealso::
        :doc:`/connections` for what the ``aws`` connection needs.

    :param aws_conn_id: the Airflow connection with AWS credentials (``None``: boto3's default chain).
    :param region_name: AWS region; overrides the connection's.
    :param verify: whether to verify SSL certificates, or a CA bundle path.
    :param config: botocore client configuration (a ``Config`` or its keyword dict).
    """

    hook_name = "Amazon SageMaker Optimization Jobs"

    def __init__(
        self,
        aws_conn_id: str | None = AwsBaseHook.default_conn_name,
        region_name: str | None = None,
        verify: bool | str | None = None,
        config: Config | dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            aws_conn_id=aws_conn_id,
            region_name=region_name,
            verify=verify,
            config=config,
            client_type=SERVICE,
        )

    @property
    def config(self) -> Config:
        """The botocore client configuration: :data:`DEFAULT_CLIENT_CONFIG` under the given one."""
        return DEFAULT_CLIENT_CONFIG.merge(super().config)

    def check_connection_exists(self) -> None:
        """
        Fail clearly when ``aws_conn_id`` names a connection that does not exist.

        For sync callers (tasks on a worker); async code resolves its connection through
        :func:`~airflow_provider_optjob.triggerer_runtime.connection_lookup.aget_connection_settings` instead.

        :raises OptimizationJobConnectionError: naming the missing connection.
        """
        if self.aws_conn_id is None:
            return
        try:
            self.get_connection(self.aws_conn_id)
        except AirflowNotFoundException as error:
            raise missing_connection_error(self.aws_conn_id) from error

    # Sync API -------------------------------------------------------------------------------------

    @property
    def client(self) -> SageMakerClient:
        """The boto3 ``sagemaker`` client (created on first use, then cached)."""
        return cast("SageMakerClient", self.conn)

    def describe_optimization_job(self, job_name: str) -> dict[str, Any]:
        """
        Describe an optimization job.

        :param job_name: the job's name.
        :return: the ``DescribeOptimizationJob`` response.
        """
        response = self.client.describe_optimization_job(OptimizationJobName=validate_job_name(job_name))
        return cast("dict[str, Any]", response)

    def get_job_outcome(self, job_name: str) -> OptimizationJobOutcome:
        """
        Describe a job and build its outcome dict.

        :param job_name: the job's name.
        """
        return build_job_outcome(self.describe_optimization_job(job_name), job_name)

    def create_optimization_job(self, config: Mapping[str, Any]) -> dict[str, Any]:
        """
        Create an optimization job.

        :param config: the ``CreateOptimizationJob`` request.
        :return: the response, with ``OptimizationJobArn``.
        """
        validate_job_name(config.get("OptimizationJobName"))
        response = self.client.create_optimization_job(**config)
        return cast("dict[str, Any]", response)

    def validate_create_request(self, config: Mapping[str, Any]) -> None:
        """
        Check a ``CreateOptimizationJob`` request against the service model, as botocore would, without a call.

        :param config: the request.
        :raises botocore.exceptions.ParamValidationError: naming every member of the wrong type or missing.
        """
        from botocore.validate import validate_parameters

        validate_job_name(config.get("OptimizationJobName"))
        input_shape = self.client.meta.service_model.operation_model("CreateOptimizationJob").input_shape
        if input_shape is not None:
            validate_parameters(dict(config), input_shape)

    def stop_optimization_job(self, job_name: str) -> None:
        """
        Ask SageMaker to stop a job (it goes ``STOPPING``, then ``STOPPED``).

        :param job_name: the job's name.
        """
        self.client.stop_optimization_job(OptimizationJobName=validate_job_name(job_name))

    def delete_optimization_job(self, job_name: str) -> None:
        """
        Delete a job's record.

        :param job_name: the job's name.
        """
        self.client.delete_optimization_job(OptimizationJobName=validate_job_name(job_name))

    def list_tags(self, resource_arn: str) -> list[dict[str, str]]:
        """
        Read every tag of a SageMaker resource (for a job: its ``OptimizationJobArn``), across all pages.

        :param resource_arn: the resource's ARN.
        :return: the tags, as ``[{"Key": ..., "Value": ...}]``.
        """
        paginator = self.client.get_paginator("list_tags")
        return [
            {"Key": tag["Key"], "Value": tag["Value"]}
            for page in paginator.paginate(ResourceArn=resource_arn)
            for tag in page.get("Tags", [])
        ]

    def list_optimization_jobs(self, **filters: Any) -> Iterator[dict[str, Any]]:
        """
        Yield the summary of every job that matches, across all pages.

        :param filters: ``ListOptimizationJobs`` request members (``NameContains``, ``StatusEquals``,
            ``CreationTimeAfter``, ``SortBy``...); ``PaginationConfig`` is passed to the paginator.
        """
        paginator = self.client.get_paginator("list_optimization_jobs")
        for page in paginator.paginate(**filters):
            for summary in page.get("OptimizationJobSummaries", []):
                yield cast("dict[str, Any]", summary)

    def create_model_from_optimization_job(
        self,
        job_name: str,
        model_name: str | None = None,
        *,
        execution_role_arn: str | None = None,
        tags: Mapping[str, str] | None = None,
        vpc_config: Mapping[str, Any] | None = None,
        draft_model: DraftModel | None = None,
        sensitive_environment_keys: Collection[str] = (),
    ) -> str:
        """
        Describe a completed job and create the SageMaker model that serves its output; return the model's name.

        The request is built by :func:`~airflow_provider_optjob.model.model_source.model_request` from what the job
        reports now, so environment values go from one AWS API to the other and nowhere else; the secret ones are
        registered with Airflow's secrets masker first (see
        :func:`~airflow_provider_optjob.masking.mask_environment_secrets`). Safe to repeat: a model of that
        name that this job already produced (its ``OptimizationJobName`` tag and container match) is reused, and
        one that does not match is an error. When the job's ``OutputConfig.SageMakerModel`` names a model,
        SageMaker created it with the job: that model's name is returned and nothing is created.

        :param job_name: the optimization job's name.
        :param model_name: the model's name (default: the job's name, see
            :func:`~airflow_provider_optjob.model.model_name.default_model_name`).
        :param execution_role_arn: the role SageMaker assumes to serve the model (default: the job's ``RoleArn``).
        :param tags: more tags for the model.
        :param vpc_config: the model's ``VpcConfig``.
        :param draft_model: the speculative-decoding draft model to serve with it.
        :param sensitive_environment_keys: more environment variable names whose values are masked in logs.
        :raises OptimizationJobFailedError: the job ended ``FAILED`` or ``STOPPED``.
        :raises OptimizationJobNotFinishedError: the job is still running.
        :raises ~airflow_provider_optjob.exceptions.ModelFromJobError:
            the job cannot become a model as asked, or the name is taken by another model.
        """
        described = self.describe_optimization_job(job_name)
        mask_environment_secrets(described, sensitive_environment_keys)
        check_completed(described)
        own_model = job_model_name(described)
        if own_model is not None:
            if self._describe_model_if_any(own_model) is None:
                raise ModelFromJobError(
                    f"Optimization job {job_name!r} names model {own_model!r} in OutputConfig.SageMakerModel, but "
                    "SageMaker has no model of that name (deleted since?)."
                )
            self.log.info("Optimization job %s created model %s itself; handing that model on.", job_name, own_model)
            return own_model
        name = validate_model_name(model_name) if model_name is not None else default_model_name(job_name)
        request = model_request(
            described,
            name,
            execution_role_arn=execution_role_arn,
            tags=tags,
            vpc_config=vpc_config,
            draft_model=draft_model,
        )
        existing = self._describe_model_if_any(name)
        if existing is None:
            try:
                self.client.create_model(**request)
            except ClientError as error:
                if error_code(error) != "ValidationException" or "already exist" not in str(error).lower():
                    raise
                existing = self._describe_model_if_any(name)  # created since we looked (a concurrent try)
                if existing is None:
                    raise
            else:
                self.log.info(
                    "Created SageMaker model %s from optimization job %s (image %s, model data %s).",
                    name,
                    job_name,
                    request["PrimaryContainer"]["Image"],
                    request["PrimaryContainer"]["ModelDataSource"]["S3DataSource"]["S3Uri"],
                )
                return name
        problems = reuse_problems(existing, self.list_tags(existing["ModelArn"]), request)
        if problems:
            raise ModelFromJobError(
                f"A SageMaker model named {name!r} exists and is not the one optimization job {job_name!r} maps to: "
                f"{'; '.join(problems)}. Give another model_name, or delete that model."
            )
        self.log.info("SageMaker model %s was already built from optimization job %s; reusing it.", name, job_name)
        return name

    def _describe_model_if_any(self, model_name: str) -> dict[str, Any] | None:
        """Return the ``DescribeModel`` response, or ``None`` if no model has that name."""
        try:
            return cast("dict[str, Any]", self.client.describe_model(ModelName=model_name))
        except ClientError as error:
            if classify_api_error(error) is ApiErrorKind.NOT_FOUND:
                return None
            raise

    # Async API ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[Any]:
        """
        Lend the shared aiobotocore ``sagemaker`` client for this hook's settings on this event loop.

        The connection is looked up anew through the path Airflow supports for async code on the running
        version (see :mod:`~airflow_provider_optjob.triggerer_runtime.connection_lookup`), so a caller that starts
        after the connection changed (rotated keys, a new ``role_arn`` or endpoint) gets a client with the
        new settings. Credentials and the service model load run in a worker thread; the client is closed
        when its last user leaves. Hold it for as long as you poll.
        """
        settings = None
        if self.aws_conn_id is not None:
            settings = await aget_connection_settings(type(self), self.aws_conn_id)
        key = (settings.fingerprint() if settings else "", *self._client_settings_key())
        async with shared_async_client(key, partial(self._open_async_client_context, settings)) as client:
            yield client

    async def async_describe_optimization_job(self, job_name: str, client: Any = None) -> dict[str, Any]:
        """
        Describe an optimization job without blocking the event loop.

        :param job_name: the job's name.
        :param client: a client from :meth:`async_client` to reuse; one is borrowed if not given.
        """
        validate_job_name(job_name)
        if client is None:
            async with self.async_client() as borrowed:
                return await self.async_describe_optimization_job(job_name, borrowed)
        async with request_slot(client):
            response: dict[str, Any] = await client.describe_optimization_job(OptimizationJobName=job_name)
        return response

    async def async_list_optimization_job_pages(
        self, client: Any = None, **filters: Any
    ) -> AsyncGenerator[list[dict[str, Any]], None]:
        """
        Yield the summaries of the jobs that match, one page at a time, without blocking the event loop.

        :param client: a client from :meth:`async_client` to reuse; one is borrowed if not given.
        :param filters: ``ListOptimizationJobs`` request members (``LastModifiedTimeAfter``, ``MaxResults``,
            ``StatusEquals``...).
        :raises botocore.exceptions.ClientError: a page failed (after the pages before it were yielded).
        """
        if client is None:
            async with self.async_client() as borrowed:
                async for page in self.async_list_optimization_job_pages(borrowed, **filters):
                    yield page
            return
        request = dict(filters)
        # Pages are followed by hand: botocore's paginator would read its model file on the event loop.
        while True:
            async with request_slot(client):
                response = await client.list_optimization_jobs(**request)
            yield list(response.get("OptimizationJobSummaries", []))
            token = response.get("NextToken")
            if not token:
                return
            request["NextToken"] = token

    def _client_settings_key(self) -> tuple[Hashable, ...]:
        config = self._config
        config_options = sorted(getattr(config, "_user_provided_options", {}).items()) if config else []
        return (self.aws_conn_id, self._region_name, repr(self._verify), repr(config_options))

    def _open_async_client_context(self, settings: ConnectionSettings | None) -> Any:
        """Build the client's context from a connection already read; blocking, so run in a thread."""
        from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

        # The settings already read stand in for AwsBaseHook's own (synchronous) lookup.
        self.__dict__["conn_config"] = AwsConnectionWrapper(
            conn=cast("Any", settings),  # it has every attribute the wrapper reads from a Connection
            region_name=self._region_name,
            botocore_config=self._config,
            verify=self._verify,
        )
        with long_lived_setup():
            session: Any = self.get_session(region_name=self.region_name, deferrable=True)
            refresh_credentials_off_the_loop(session)
            loader = session.get_component("data_loader")
            use_trimmed_service_data(loader)
            _preload_service_data(loader)
        return session.create_client(
            SERVICE,
            region_name=self.region_name,
            endpoint_url=self.conn_config.get_service_endpoint_url(service_name=SERVICE),
            config=self.config,
            verify=self.verify,
        )


def check_completed(describe_response: Mapping[str, Any]) -> None:
    """
    Refuse a job that is not ``COMPLETED``: only a completed job has an output to deploy.

    :param describe_response: the ``DescribeOptimizationJob`` response.
    :raises OptimizationJobFailedError: for a ``FAILED`` or ``STOPPED`` job (with its ``FailureReason``).
    :raises OptimizationJobNotFinishedError: for a job still running, naming its status.
    """
    name = describe_response.get("OptimizationJobName", "?")
    status = describe_response.get("OptimizationJobStatus")
    phase = job_phase(status if isinstance(status, str) else None)
    if phase is JobPhase.FAILED:
        reason = describe_response.get("FailureReason")
        raise OptimizationJobFailedError(name, str(status), reason if isinstance(reason, str) else None)
    if phase is JobPhase.RUNNING:
        raise OptimizationJobNotFinishedError(
            f"Optimization job {name!r} is {status}, not COMPLETED: a SageMaker model can be built only from a "
            "completed job. Wait for it first with SageMakerOptimizationJobSensor (or "
            "SageMakerCreateOptimizationJobOperator with wait_for_completion=True)."
        )


def _preload_service_data(loader: Any) -> None:
    """Load the files client creation reads into the loader's cache, so creation on the loop is quick."""
    for type_name in _SERVICE_MODEL_FILES:
        with suppress(DataNotFoundError):
            loader.load_service_model(SERVICE, type_name)
    for data_name in _SHARED_DATA_FILES:
        with suppress(DataNotFoundError):
            loader.load_data(data_name)
