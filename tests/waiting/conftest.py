"""Shared fixtures of the waiting tests: a hook on the emulator, its control, and a task logger to read."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

if TYPE_CHECKING:
    from collections.abc import Iterator

    from airflow_provider_optjob.testing.control import EmulatorControl
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

#: The logger the tests hand to waiting functions as the task's log.
TASK_LOG = logging.getLogger("tests.waiting")


class Lines(logging.Handler):
    """What the task logger received, as formatted lines (Airflow's logging setup keeps ``caplog`` empty)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logged() -> Iterator[Lines]:
    handler = Lines()
    TASK_LOG.addHandler(handler)
    TASK_LOG.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        TASK_LOG.removeHandler(handler)


@pytest.fixture
def hook(optjob_aws_conn: str) -> SageMakerOptimizationJobHook:
    """A hook on the emulator whose client is built already, as a task's is once it created or found its job."""
    hook = SageMakerOptimizationJobHook(aws_conn_id=optjob_aws_conn)
    assert hook.client is not None
    return hook


@pytest.fixture
def control(optjob_aws_conn: str, sagemaker_emulator: SageMakerEmulator) -> EmulatorControl:
    """The emulator's control API."""
    return sagemaker_emulator.control
