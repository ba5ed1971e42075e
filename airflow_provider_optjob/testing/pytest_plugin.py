"""pytest fixtures for the SageMaker emulator.

Enable in a ``conftest.py`` with ``pytest_plugins = ["airflow_provider_optjob.testing.pytest_plugin"]``.

* ``sagemaker_emulator`` (session): a running :class:`~airflow_provider_optjob.testing.emulator.SageMakerEmulator`.
  Override the ``sagemaker_emulator_options`` fixture (session scope) to pass constructor arguments, e.g.
  ``{"starting_seconds": 0.1, "inprogress_seconds": 0.3}``.
* ``optjob_aws_conn`` (function): resets the emulator (jobs, scripts, faults, call counts and moto's state),
  points the Airflow ``aws_default`` connection and the AWS environment at it, and yields ``"aws_default"``.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

OPTJOB_CONN_ID = "aws_default"
_CLEARED_AWS_VARIABLES = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_ROLE_SESSION_NAME",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SAGEMAKER",
)


@pytest.fixture(scope="session")
def sagemaker_emulator_options() -> dict[str, Any]:
    """Keyword arguments for the session's ``SageMakerEmulator`` (override to change durations)."""
    return {}


@pytest.fixture(scope="session")
def sagemaker_emulator(sagemaker_emulator_options: dict[str, Any]) -> Iterator[SageMakerEmulator]:
    """Serve a SageMaker emulator on a free loopback port for the whole test session."""
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

    emulator = SageMakerEmulator(**sagemaker_emulator_options)
    emulator.start()
    try:
        yield emulator
    finally:
        emulator.stop()


@pytest.fixture
def optjob_aws_conn(sagemaker_emulator: SageMakerEmulator, monkeypatch: pytest.MonkeyPatch) -> str:
    """Reset the emulator; point the ``aws_default`` Airflow connection and the AWS SDK environment at it.

    Sets ``AIRFLOW_CONN_AWS_DEFAULT`` (login/password ``testing``, ``endpoint_url`` and ``region_name`` in the
    extras), ``AWS_DEFAULT_REGION=us-east-1``, dummy ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
    ``AWS_ENDPOINT_URL_STS`` (so role assumption also stays local), an empty AWS config/credentials file, and
    unsets profile, session-token and role variables.
    """
    sagemaker_emulator.control.reset()
    url = sagemaker_emulator.url
    connection = {
        "conn_type": "aws",
        "login": "testing",
        "password": "testing",
        "extra": {"endpoint_url": url, "region_name": "us-east-1"},
    }
    for name in _CLEARED_AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv(f"AIRFLOW_CONN_{OPTJOB_CONN_ID.upper()}", json.dumps(connection))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_ENDPOINT_URL_STS", url)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    return OPTJOB_CONN_ID
