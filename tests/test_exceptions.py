"""Every exception a DAG author may catch is importable from ``airflow_provider_optjob.exceptions``."""

from __future__ import annotations

import pytest

from airflow_provider_optjob import exceptions
from airflow_provider_optjob.compat import AirflowException, AirflowSensorTimeout

VALIDATION_ERRORS = [
    "InvalidOptimizationJobNameError",
    "InvalidOptimizationJobConfigError",
    "InvalidModelNameError",
    "ModelFromJobError",
]
RUN_TIME_ERRORS = [
    "OptimizationJobConnectionError",
    "OptimizationJobFailedError",
    "OptimizationJobNotFinishedError",
    "OptimizationJobNotFoundError",
    "OptimizationJobOwnedElsewhereError",
    "OptimizationJobWaitTimeoutError",
]


@pytest.mark.parametrize("name", VALIDATION_ERRORS)
def test_the_checks_of_names_requests_and_models_raise_value_errors(name):
    assert issubclass(getattr(exceptions, name), ValueError)


@pytest.mark.parametrize("name", RUN_TIME_ERRORS)
def test_what_goes_wrong_while_a_task_runs_is_an_airflow_exception(name):
    assert issubclass(getattr(exceptions, name), AirflowException)


def test_the_module_exports_exactly_these():
    assert sorted(exceptions.__all__) == sorted(VALIDATION_ERRORS + RUN_TIME_ERRORS)


def test_a_wait_that_timed_out_is_a_sensor_timeout():
    assert issubclass(exceptions.OptimizationJobWaitTimeoutError, AirflowSensorTimeout)
