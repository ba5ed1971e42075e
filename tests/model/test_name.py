"""Job names after rendering: a template that rendered nothing is named at once."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError, validate_rendered_job_name

TEMPLATE = "{{ ti.xcom_pull(task_ids='create', key='job_name') }}"


@pytest.mark.parametrize("rendered", ["None", "", "  ", None])
def test_a_template_that_rendered_nothing_is_refused_naming_field_and_template(rendered):
    with pytest.raises(InvalidOptimizationJobNameError) as raised:
        validate_rendered_job_name(rendered, TEMPLATE, field="job_name")

    assert f"job_name rendered to {rendered!r} from the template {TEMPLATE!r}" in str(raised.value)
    assert "task_ids or key" in str(raised.value)


def test_a_template_that_rendered_a_name_passes():
    assert validate_rendered_job_name("quantize-llama-r2", TEMPLATE) == "quantize-llama-r2"


def test_a_literal_name_none_is_a_name_like_any_other():
    assert validate_rendered_job_name("None", "None") == "None"


def test_a_rendered_name_still_follows_the_api_rule():
    with pytest.raises(InvalidOptimizationJobNameError, match="Invalid optimization job name 'opt_1'"):
        validate_rendered_job_name("opt_1", "opt_{{ params.n }}")
