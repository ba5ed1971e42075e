"""Fault-matrix fixtures (the table of rows and results is printed by :mod:`tests.faults.summary`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

if TYPE_CHECKING:
    from airflow_provider_optjob.testing.control import EmulatorControl


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    return SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)


@pytest.fixture
def control(optjob_aws_conn: str, sagemaker_emulator: Any) -> EmulatorControl:
    """The emulator's control client, after ``optjob_aws_conn`` reset the emulator for this test."""
    emulator_control: EmulatorControl = sagemaker_emulator.control
    return emulator_control
