"""Fixtures for the emulator's own tests.

The ``sagemaker_emulator`` and ``optjob_aws_conn`` fixtures come from the plugin the top-level conftest enables
(``pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"]``).
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import boto3.session
import pytest
from botocore.config import Config

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

ROLE_ARN = "arn:aws:iam::123456789012:role/SageMakerRole"


@pytest.fixture
def held_jobs(emulator: SageMakerEmulator) -> Iterator[None]:
    """Hold every job created during the test (it moves only on request); restore the settings afterwards."""
    before = emulator.control.configure()
    emulator.control.configure(hold_jobs=True)
    yield
    emulator.control.configure(**before)


@pytest.fixture
def emulator(sagemaker_emulator: SageMakerEmulator) -> SageMakerEmulator:
    sagemaker_emulator.control.reset()
    return sagemaker_emulator


def make_client(emulator: SageMakerEmulator, service: str = "sagemaker", **config: Any) -> Any:
    session: Any = boto3.session.Session()
    return session.client(
        service,
        endpoint_url=emulator.url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(**config) if config else None,
    )


@pytest.fixture
def sm(emulator: SageMakerEmulator) -> Any:
    return make_client(emulator)


@pytest.fixture
def sm_no_retry(emulator: SageMakerEmulator) -> Any:
    return make_client(emulator, retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=10)


def _job_request(name: str, **overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "OptimizationJobName": name,
        "RoleArn": ROLE_ARN,
        "ModelSource": {"S3": {"S3Uri": "s3://models/llama-3-8b/", "ModelAccessConfig": {"AcceptEula": True}}},
        "DeploymentInstanceType": "ml.g5.2xlarge",
        "OptimizationConfigs": [
            {"ModelQuantizationConfig": {"OverrideEnvironment": {"OPTION_QUANTIZE": "awq"}}},
            {"ModelCompilationConfig": {"Image": "example.com/compiler:1"}},
        ],
        "OutputConfig": {"S3OutputLocation": "s3://models/out/"},
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
    }
    request.update(overrides)
    return request


def wait_until(predicate: Callable[[], Any], timeout: float = 5.0, interval: float = 0.03) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def status_of(client: Any, name: str) -> str:
    return str(client.describe_optimization_job(OptimizationJobName=name)["OptimizationJobStatus"])


def _wait_for_status(client: Any, name: str, status: str, timeout: float = 5.0) -> dict[str, Any]:
    seen: list[str] = []

    def check() -> dict[str, Any] | None:
        described: dict[str, Any] = client.describe_optimization_job(OptimizationJobName=name)
        seen.append(described["OptimizationJobStatus"])
        return described if described["OptimizationJobStatus"] == status else None

    try:
        result: dict[str, Any] = wait_until(check, timeout)
    except AssertionError as exc:
        raise AssertionError(f"{name} never reached {status}; saw {seen}") from exc
    return result


@pytest.fixture
def job_request() -> Callable[..., dict[str, Any]]:
    """``job_request(name, **overrides)``: a valid CreateOptimizationJob request."""
    return _job_request


@pytest.fixture
def wait_for_status() -> Callable[..., dict[str, Any]]:
    """``wait_for_status(client, name, status, timeout=5)``: poll Describe until the status is reached."""
    return _wait_for_status


@pytest.fixture
def client_factory(emulator: SageMakerEmulator) -> Callable[..., Any]:
    """``client_factory(service="sagemaker", **botocore_config)``: a real boto3 client for the emulator."""

    def factory(service: str = "sagemaker", **config: Any) -> Any:
        return make_client(emulator, service, **config)

    return factory
