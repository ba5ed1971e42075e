"""Job names after rendering: a template that rendered nothing is named at once."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.model.name import (
    InvalidOptimizationJobNameError,
    job_name_per_run,
    validate_job_name,
    validate_rendered_job_name,
)

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


@pytest.mark.parametrize(
    "run_id",
    [
        "manual__2026-12-03T10:31:24.677715+00:00",
        "scheduled__2026-01-01T00:00:00+00:00",
        "asset_triggered__2026-12-03T10:31:24.677715+00:00",
        "dataset_triggered__2026-12-03T10:31:24.677715+00:00",
        "backfill__2026-01-01T00:00:00+00:00",
        "my run/2026 12 03",
    ],
)
def test_a_name_per_run_renders_a_valid_name_from_any_run_id(run_id):
    import jinja2

    template = job_name_per_run("quantize-llama-3-8b")

    name = jinja2.Environment().from_string(template).render(run_id=run_id)

    assert validate_job_name(name) == name
    assert name.startswith("quantize-llama-3-8b-")


def test_two_runs_get_two_names():
    import jinja2

    template = jinja2.Environment().from_string(job_name_per_run("q"))
    names = {template.render(run_id=f"manual__2026-12-03T10:31:24.{micro:06d}+00:00") for micro in (677715, 677716)}

    assert len(names) == 2


@pytest.mark.parametrize(
    ("prefix", "message"), [("bad_prefix", "Invalid optimization job name"), ("p" * 47, "at most 46")]
)
def test_a_prefix_that_leaves_no_valid_name_is_refused(prefix, message):
    with pytest.raises(InvalidOptimizationJobNameError, match=message):
        job_name_per_run(prefix)
