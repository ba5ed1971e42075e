"""The optimized model as an Airflow asset (a dataset on Airflow 2), emitted when a job completes.

The output location of a job is known only at run time, so a task declares an asset *alias* as its outlet
(:func:`outlets_with_alias`), and when its job has ``COMPLETED`` adds an event for the asset
``Asset(<S3OutputLocation>)`` through it (:func:`record_optimized_model`), with the job's name, status and
recommended inference image as the event's ``extra``. A DAG scheduled on the alias runs once per such event;
its tasks read them with :func:`triggering_optimized_models`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypedDict

from airflow_provider_optjob.compat import Asset, AssetAlias, triggering_asset_events
from airflow_provider_optjob.model.status import JobPhase, job_phase

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_optjob.compat import Context
    from airflow_provider_optjob.model.outcome import OptimizationJobOutcome


class OptimizedModelExtra(TypedDict):
    """The ``extra`` of an optimized model's asset event (flat strings, as Airflow 2 requires)."""

    job_name: str
    status: str | None
    recommended_inference_image: str | None


class OptimizedModel(OptimizedModelExtra):
    """An optimized model's asset event as a downstream task reads it: the asset's URI and the event's extra."""

    uri: str


#: The keys of :class:`OptimizedModelExtra`, which tell an optimized model's event from other asset events.
EXTRA_KEYS: tuple[str, ...] = tuple(OptimizedModelExtra.__annotations__)


def optimized_model_alias(name: str) -> AssetAlias:
    """
    Return the asset alias (``DatasetAlias`` on Airflow 2) of that name; schedule a DAG on it.

    :param name: the alias name given to the operators as ``asset_alias``.
    """
    return AssetAlias(name=name)


def with_alias_outlet(operator_kwargs: Mapping[str, Any], alias_name: str | None) -> dict[str, Any]:
    """
    Add the alias to an operator's ``outlets`` (kept as given otherwise).

    :param operator_kwargs: the keyword arguments for ``BaseOperator`` (``outlets`` may be absent, one object
        or a list).
    :param alias_name: the alias name, or ``None`` for no alias.
    :return: the keyword arguments, with the alias last in ``outlets`` when a name is given.
    """
    if alias_name is None:
        return dict(operator_kwargs)
    outlets = operator_kwargs.get("outlets")
    declared = [] if outlets is None else list(outlets) if isinstance(outlets, (list, tuple)) else [outlets]
    return {**operator_kwargs, "outlets": [*declared, optimized_model_alias(alias_name)]}


def optimized_model_extra(outcome: OptimizationJobOutcome) -> OptimizedModelExtra:
    """
    Build the ``extra`` of a completed job's asset event.

    :param outcome: the job's outcome dict.
    """
    return OptimizedModelExtra(
        job_name=outcome["job_name"],
        status=outcome["status"],
        recommended_inference_image=outcome["recommended_inference_image"],
    )


def record_optimized_model(context: Context, alias_name: str | None, outcome: OptimizationJobOutcome) -> Any:
    """
    Add the asset event of a completed job's S3 output through the alias; nothing for any other job.

    Airflow records the event when the task succeeds.

    :param context: the running task's context.
    :param alias_name: the alias the task declared as an outlet (see :func:`with_alias_outlet`); ``None``: none.
    :param outcome: the job's outcome dict.
    :return: the ``Asset`` (``Dataset`` on Airflow 2) the event is for, or ``None`` when none was added.
    """
    uri = outcome["output_s3_uri"]
    if alias_name is None or uri is None or job_phase(outcome["status"]) is not JobPhase.SUCCEEDED:
        return None
    asset = Asset(uri)
    extra: dict[str, Any] = dict(optimized_model_extra(outcome))
    context["outlet_events"][optimized_model_alias(alias_name)].add(asset, extra=extra)
    return asset


def triggering_optimized_models(context: Mapping[str, Any]) -> list[OptimizedModel]:
    """
    Read the optimized models whose asset events triggered the running DAG run (JSON-safe, for XCom).

    :param context: the running task's context (or the keyword arguments a TaskFlow function receives).
    :return: one entry per event that carries an optimized model's extra, in the order Airflow gives them.
    """
    models: list[OptimizedModel] = []
    for asset, events in triggering_asset_events(context).items():
        if isinstance(asset, AssetAlias):  # Airflow 3 lists each event again under every alias it came through
            continue
        uri = str(getattr(asset, "uri", asset))
        for event in events:
            extra = getattr(event, "extra", None) or {}
            if all(key in extra for key in EXTRA_KEYS):
                models.append(
                    OptimizedModel(
                        uri=uri,
                        job_name=str(extra["job_name"]),
                        status=extra["status"],
                        recommended_inference_image=extra["recommended_inference_image"],
                    )
                )
    return models
