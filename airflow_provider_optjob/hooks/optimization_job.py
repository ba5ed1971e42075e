"""Hook for Amazon SageMaker optimization jobs."""

from __future__ import annotations

from contextlib import asynccontextmanager, suppress
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from airflow.providers.amazon.aws.hooks.base_aws import AwsBaseHook
from botocore.config import Config
from botocore.exceptions import DataNotFoundError

from airflow_provider_optjob.compat import AirflowNotFoundException
from airflow_provider_optjob.hooks.async_credentials import refresh_credentials_off_the_loop
from airflow_provider_optjob.hooks.connection_lookup import (
    aget_connection,
    connection_fingerprint,
    missing_connection_error,
)
from airflow_provider_optjob.hooks.gc_freeze import long_lived_setup
from airflow_provider_optjob.hooks.service_model import use_trimmed_service_data
from airflow_provider_optjob.hooks.shared_async_client import request_slot, shared_async_client
from airflow_provider_optjob.job.name import validate_job_name
from airflow_provider_optjob.job.outcome import OptimizationJobOutcome, build_job_outcome

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Hashable, Iterator, Mapping

    from types_boto3_sagemaker.client import SageMakerClient

#: Applied under any client config the connection or the caller gives: botocore's ``standard`` retry
#: mode (exponential backoff with jitter, throttling-aware). Waiting callers add their own
#: deadline-bounded retries on top, so a throttling storm cannot end a wait early.
DEFAULT_CLIENT_CONFIG = Config(retries={"mode": "standard", "max_attempts": 3})

_SERVICE = "sagemaker"
_SERVICE_MODEL_FILES = ("service-2", "endpoint-rule-set-1")
_SHARED_DATA_FILES = ("endpoints", "partitions", "_retry", "sdk-default-configuration")


class SageMakerOptimizationJobHook(AwsBaseHook):
    """
    Interact with Amazon SageMaker optimization jobs through the ``sagemaker`` client.

    Job names are checked against the API's rule before any call. Sync methods use boto3; the async
    describe uses an aiobotocore client shared by every caller with the same settings on the same event
    loop (see :mod:`airflow_provider_optjob.hooks.shared_async_client`).

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
            client_type=_SERVICE,
        )

    @property
    def config(self) -> Config:
        """The botocore client configuration: :data:`DEFAULT_CLIENT_CONFIG` under the given one."""
        return DEFAULT_CLIENT_CONFIG.merge(super().config)

    def check_connection_exists(self) -> None:
        """
        Fail clearly when ``aws_conn_id`` names a connection that does not exist.

        For sync callers (tasks on a worker); async code resolves its connection through
        :func:`~airflow_provider_optjob.hooks.connection_lookup.aget_connection` instead.

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

    # Async API ------------------------------------------------------------------------------------

    @asynccontextmanager
    async def async_client(self) -> AsyncIterator[Any]:
        """
        Lend the shared aiobotocore ``sagemaker`` client for this hook's settings on this event loop.

        The connection is looked up anew through the path Airflow supports for async code on the running
        version (see :mod:`~airflow_provider_optjob.hooks.connection_lookup`), so a caller that starts
        after the connection changed (rotated keys, a new ``role_arn`` or endpoint) gets a client with the
        new settings. Credentials and the service model load run in a worker thread; the client is closed
        when its last user leaves. Hold it for as long as you poll.
        """
        connection = None
        if self.aws_conn_id is not None:
            connection = await aget_connection(type(self), self.aws_conn_id)
        key = (connection_fingerprint(connection), *self._client_settings_key())
        async with shared_async_client(key, partial(self._open_async_client_context, connection)) as client:
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

    def _client_settings_key(self) -> tuple[Hashable, ...]:
        config = self._config
        config_options = sorted(getattr(config, "_user_provided_options", {}).items()) if config else []
        return (self.aws_conn_id, self._region_name, repr(self._verify), repr(config_options))

    def _open_async_client_context(self, connection: Any) -> Any:
        """Build the client's context from a connection already looked up; blocking, so run in a thread."""
        from airflow.providers.amazon.aws.utils.connection_wrapper import AwsConnectionWrapper

        # The resolved connection stands in for AwsBaseHook's own (synchronous) lookup.
        self.__dict__["conn_config"] = AwsConnectionWrapper(
            conn=connection, region_name=self._region_name, botocore_config=self._config, verify=self._verify
        )
        with long_lived_setup():
            session: Any = self.get_session(region_name=self.region_name, deferrable=True)
            refresh_credentials_off_the_loop(session)
            loader = session.get_component("data_loader")
            use_trimmed_service_data(loader)
            _preload_service_data(loader)
        return session.create_client(
            _SERVICE,
            region_name=self.region_name,
            endpoint_url=self.conn_config.get_service_endpoint_url(service_name=_SERVICE),
            config=self.config,
            verify=self.verify,
        )


def _preload_service_data(loader: Any) -> None:
    """Load the files client creation reads into the loader's cache, so creation on the loop is quick."""
    for type_name in _SERVICE_MODEL_FILES:
        with suppress(DataNotFoundError):
            loader.load_service_model(_SERVICE, type_name)
    for data_name in _SHARED_DATA_FILES:
        with suppress(DataNotFoundError):
            loader.load_data(data_name)
