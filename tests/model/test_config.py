"""The create request: checked when defined as far as it is known, in full after rendering; secrets masked by key."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.model.config import (
    InvalidOptimizationJobConfigError,
    check_config_when_defined,
    environment_items,
    is_resolved_later,
    validate_create_config,
)
from tests.job_requests import job_config

try:
    from airflow.sdk import DAG, task
except ImportError:  # Airflow 2
    from airflow import DAG  # type: ignore[attr-defined,no-redef,unused-ignore]
    from airflow.decorators import task  # type: ignore[attr-defined,no-redef,unused-ignore]


def an_xcomarg() -> object:
    @task
    def produce() -> str:
        return "value"

    with DAG(dag_id="config_checks", schedule=None):
        return produce()


def test_jinja_strings_and_xcomargs_are_resolved_later():
    assert is_resolved_later("{{ params.role }}")
    assert is_resolved_later(an_xcomarg())
    assert not is_resolved_later("arn:aws:iam::123456789012:role/R")
    assert not is_resolved_later(job_config("x"))


@pytest.mark.parametrize(
    "config",
    [
        an_xcomarg(),
        job_config("x", RoleArn=an_xcomarg()),
        job_config("x", OptimizationConfigs=an_xcomarg()),
        job_config("x", OptimizationConfigs="{{ params.configs }}"),
    ],
    ids=["whole", "member", "OptimizationConfigs-xcomarg", "OptimizationConfigs-jinja"],
)
def test_what_is_resolved_later_is_not_checked_when_defined(config):
    check_config_when_defined(config)


def test_a_jinja_string_is_never_iterated_as_optimization_configs():
    """Checking entry by entry would report ``OptimizationConfigs[0]`` for the character ``{``."""
    with pytest.raises(InvalidOptimizationJobConfigError, match=r"OptimizationConfigs must be a list.*, got str\."):
        validate_create_config(job_config("x", OptimizationConfigs="[{'ModelQuantizationConfig': {}}]"))


def test_after_rendering_a_string_for_a_list_gets_the_native_rendering_hint():
    with pytest.raises(InvalidOptimizationJobConfigError, match="render_template_as_native_obj=True"):
        validate_create_config(job_config("x", OptimizationConfigs="[]"))


def test_environment_items_cover_both_environments():
    config = job_config("x", OptimizationEnvironment={"HF_TOKEN": "hf_abc", "EMPTY": ""})

    assert list(environment_items(config)) == [("HF_TOKEN", "hf_abc"), ("OPTION_QUANTIZE", "awq")]
