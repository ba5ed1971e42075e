"""SageMaker model names: the API's rule, and the default taken from the job's name."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.model.model_name import InvalidModelNameError, default_model_name, validate_model_name
from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError


@pytest.mark.parametrize("name", ["m", "quantize-llama-20260101T000000", "a--b", "x" * 63])
def test_valid_names(name):
    assert validate_model_name(name) == name


@pytest.mark.parametrize("name", ["", "-model", "model-", "model_1", "mödel", "x" * 64, None, 7])
def test_invalid_names_are_refused_with_the_rule(name):
    with pytest.raises(InvalidModelNameError, match="SageMaker model name"):
        validate_model_name(name)


def test_the_default_is_the_job_name():
    assert default_model_name("quantize-llama-r2") == "quantize-llama-r2"
    assert default_model_name("j" * 63) == "j" * 63


def test_there_is_no_default_for_an_invalid_job_name():
    with pytest.raises(InvalidOptimizationJobNameError):
        default_model_name("bad_name")
