"""A completed job's output as an asset event through an alias, and how a triggered DAG reads it back."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from airflow_provider_optjob.compat import Asset, AssetAlias
from airflow_provider_optjob.lineage.assets import (
    optimized_model_alias,
    record_optimized_model,
    triggering_optimized_models,
    with_alias_outlet,
)
from airflow_provider_optjob.model.outcome import unknown_job_outcome
from airflow_provider_optjob.operators.optimization_job import (
    SageMakerCreateOptimizationJobOperator,
    SageMakerOptimizationJobResultOperator,
)
from tests.airflow_runs import load_dag, run_dag, task_states, xcom_value
from tests.job_requests import job_config

ALIAS = "optimized-models"
OUTPUT = "s3://models/optimized/llama/"
IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/djl-inference:0.31.0-lmi13.0.0-cu124"


class RecordingOutletEvents:
    """``context["outlet_events"]``: records each ``[alias].add(asset, extra=...)``."""

    def __init__(self) -> None:
        self.added: list[tuple[Any, str, dict[str, Any] | None]] = []

    def __getitem__(self, key: Any) -> Any:
        return SimpleNamespace(add=lambda asset, extra=None: self.added.append((key, asset.uri, extra)))


def outcome(status: str | None, output_s3_uri: str | None = OUTPUT) -> Any:
    return {
        **unknown_job_outcome("quantize-llama", status),
        "output_s3_uri": output_s3_uri,
        "recommended_inference_image": IMAGE,
    }


class TestDeclaringTheAlias:
    @pytest.mark.parametrize(
        ("outlets", "declared"),
        [(None, []), (Asset("s3://models/report.json"), ["s3://models/report.json"]), ([], [])],
        ids=["none", "one", "list"],
    )
    def test_the_alias_joins_the_outlets_given(self, outlets, declared):
        kwargs = {"task_id": "t"} if outlets is None else {"task_id": "t", "outlets": outlets}

        with_alias = with_alias_outlet(kwargs, ALIAS)

        assert [getattr(outlet, "uri", None) for outlet in with_alias["outlets"][:-1]] == declared
        assert with_alias["outlets"][-1] == AssetAlias(name=ALIAS)
        assert with_alias["task_id"] == "t"

    def test_without_an_alias_the_arguments_are_kept(self):
        assert with_alias_outlet({"task_id": "t"}, None) == {"task_id": "t"}

    def test_both_operators_declare_the_alias_as_an_outlet(self):
        create = SageMakerCreateOptimizationJobOperator(task_id="create", config=job_config("x"), asset_alias=ALIAS)
        result = SageMakerOptimizationJobResultOperator(task_id="result", job_name="x", asset_alias=ALIAS)

        assert create.outlets == [optimized_model_alias(ALIAS)]
        assert result.outlets == [optimized_model_alias(ALIAS)]

    def test_a_create_task_that_does_not_wait_cannot_emit(self):
        with pytest.raises(ValueError, match="asset_alias needs wait_for_completion=True"):
            SageMakerCreateOptimizationJobOperator(
                task_id="create", config=job_config("x"), wait_for_completion=False, asset_alias=ALIAS
            )


class TestRecording:
    def test_a_completed_job_adds_its_output_with_the_job_in_the_extra(self):
        events = RecordingOutletEvents()

        asset = record_optimized_model({"outlet_events": events}, ALIAS, outcome("COMPLETED"))

        assert asset == Asset(OUTPUT)
        assert events.added == [
            (
                AssetAlias(name=ALIAS),
                Asset(OUTPUT).uri,
                {"job_name": "quantize-llama", "status": "COMPLETED", "recommended_inference_image": IMAGE},
            )
        ]

    @pytest.mark.parametrize(
        ("alias", "job"),
        [
            (ALIAS, outcome("FAILED")),
            (ALIAS, outcome("STOPPED")),
            (ALIAS, outcome("INPROGRESS")),
            (ALIAS, outcome("COMPLETED", output_s3_uri=None)),
            (None, outcome("COMPLETED")),
        ],
        ids=["failed", "stopped", "running", "no-output", "no-alias"],
    )
    def test_nothing_else_adds_an_event(self, alias, job):
        events = RecordingOutletEvents()

        assert record_optimized_model({"outlet_events": events}, alias, job) is None
        assert events.added == []


def event(**extra: Any) -> Any:
    return SimpleNamespace(extra=extra)


def accessor(*pairs: tuple[Any, list[Any]]) -> Any:
    """Airflow 3's ``triggering_asset_events`` as read: its ``items()`` (an ``Asset`` is unhashable on 3.0)."""
    return SimpleNamespace(items=lambda: iter(pairs))


MODEL_EXTRA = {"job_name": "quantize-llama", "status": "COMPLETED", "recommended_inference_image": IMAGE}


class TestReading:
    def test_airflow_3_events_are_read_once_though_listed_under_their_alias_too(self):
        model_event = event(**MODEL_EXTRA)
        context = {
            "triggering_asset_events": accessor(
                (Asset(OUTPUT), [model_event]),
                (AssetAlias(name=ALIAS), [model_event]),
                (Asset("s3://models/report.json"), [event(rows=3)]),
            )
        }

        assert triggering_optimized_models(context) == [{"uri": Asset(OUTPUT).uri, **MODEL_EXTRA}]

    def test_airflow_2_events_are_keyed_by_uri(self):
        context = {"triggering_dataset_events": {"s3://models/optimized/llama": [event(**MODEL_EXTRA)]}}

        assert triggering_optimized_models(context) == [{"uri": "s3://models/optimized/llama", **MODEL_EXTRA}]

    def test_a_run_not_triggered_by_assets_has_none(self):
        assert triggering_optimized_models({"ti": None}) == []


def asset_events_of(dag_run: Any) -> list[tuple[str, dict[str, Any], list[str]]]:
    """The asset (dataset) events the run's tasks emitted: URI, extra, and the aliases they came through."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetEvent as event_model
    except ImportError:  # Airflow 2
        from airflow.models.dataset import DatasetEvent as event_model  # type: ignore[no-redef,unused-ignore]

    with create_session() as session:
        rows = (
            session.query(event_model)
            .filter(event_model.source_dag_id == dag_run.dag_id, event_model.source_run_id == dag_run.run_id)
            .all()
        )
        return [(row.uri, dict(row.extra), [alias.name for alias in row.source_aliases]) for row in rows]


def stored(dag: Any) -> Any:
    """
    Store the DAG as the DAG processor does, where ``dag.test()`` does not (Airflow 2).

    Airflow 2 records an alias event only for an alias the database knows, and learns of it when it stores the
    DAG whose task declares it.
    """
    write = getattr(type(dag), "bulk_write_to_db", None)
    if write is not None:
        write([dag])
    return dag


@pytest.mark.usefixtures("airflow_db")
class TestExampleDag:
    def test_a_deferred_create_task_emits_the_completed_jobs_output(self, optjob_aws_conn, sagemaker_emulator):
        dag = stored(load_dag("example_optimization_job_assets.py"))

        dag_run = run_dag(dag, run_conf={"model": "phi-3-mini"})

        assert task_states(dag_run) == {"create_optimization_job": "success"}
        result = xcom_value(dag_run, "create_optimization_job")
        assert asset_events_of(dag_run) == [
            (
                Asset("s3://example-models/optimized/phi-3-mini/").uri,
                {
                    "job_name": result["job_name"],
                    "status": "COMPLETED",
                    "recommended_inference_image": result["recommended_inference_image"],
                },
                [ALIAS],
            )
        ]
