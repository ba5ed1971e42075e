"""Fixtures shared by the trigger tests: the emulator's control client, a hook on the test connection, long jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_optjob.testing.control import EmulatorControl


@pytest.fixture
def control(optjob_aws_conn: str, sagemaker_emulator: Any) -> EmulatorControl:
    emulator_control: EmulatorControl = sagemaker_emulator.control
    return emulator_control


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


@pytest.fixture
def long_jobs(control: EmulatorControl) -> Iterator[None]:
    """New jobs stay INPROGRESS until the test finishes them."""
    before = control.configure()
    control.configure(inprogress_seconds=600)
    yield
    control.configure(**before)
