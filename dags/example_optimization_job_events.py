"""
React to optimization jobs finished anywhere: an asset watcher on ListOptimizationJobs (Airflow 3.0+).

No task of this DAG creates a job. The asset ``sagemaker-optimization-jobs/llama`` is watched by
``SageMakerOptimizationJobEventTrigger`` in the triggerer: whenever a job whose name contains ``llama`` completes
(created by another DAG, a notebook or the console), the trigger fires once for it and Airflow records an asset
event whose extra carries the job's outcome under ``payload``. ``example_optimization_job_events`` is scheduled on
that asset and logs the recommended inference image of each job that triggered the run.

On Airflow 2, which has no asset watchers, this file defines no DAG.
"""

from __future__ import annotations

import logging
import os
from datetime import datetime
from typing import Any

from airflow_provider_optjob.compat import triggering_asset_events

try:
    from airflow.sdk import DAG, Asset, AssetWatcher, task

    from airflow_provider_optjob.triggers.job_events import SageMakerOptimizationJobEventTrigger
except ImportError:  # Airflow 2
    SageMakerOptimizationJobEventTrigger = None  # type: ignore[assignment,misc,unused-ignore]

AWS_CONN_ID = os.environ.get("OPTJOB_EXAMPLE_AWS_CONN_ID", "aws_default")
POLL_INTERVAL_SECONDS = float(os.environ.get("OPTJOB_EXAMPLE_POKE_INTERVAL", "60"))

log = logging.getLogger(__name__)


def recommended_images(events: Any) -> dict[str, str | None]:
    """
    Return the recommended inference image of each job whose completion triggered the run.

    :param events: the run's triggering asset events, by asset.
    """
    images: dict[str, str | None] = {}
    for asset_events in events.values():
        for event in asset_events:
            outcome = (event.extra or {}).get("payload", {}).get("result") or {}
            images[outcome.get("job_name", "?")] = outcome.get("recommended_inference_image")
    return images


if SageMakerOptimizationJobEventTrigger is not None:
    # [START howto_asset_watcher_optimization_job]
    finished_llama_jobs = Asset(
        "sagemaker-optimization-jobs/llama",
        watchers=[
            AssetWatcher(
                name="completed_llama_optimization_jobs",
                trigger=SageMakerOptimizationJobEventTrigger(
                    name_contains="llama",
                    statuses=["COMPLETED"],
                    poll_interval=POLL_INTERVAL_SECONDS,
                    aws_conn_id=AWS_CONN_ID,
                ),
            )
        ],
    )

    with DAG(
        dag_id="example_optimization_job_events",
        description="Log the recommended image of each llama optimization job that completes.",
        start_date=datetime(2026, 1, 1),
        schedule=[finished_llama_jobs],
        catchup=False,
        tags=["example", "sagemaker", "optimization-job", "asset-watcher"],
    ) as dag:

        @task
        def log_recommended_image(**context: Any) -> dict[str, str | None]:
            """Log (and return) the recommended image of each job in the triggering asset events."""
            images = recommended_images(triggering_asset_events(context))
            for job_name, image in images.items():
                log.info("Optimization job %s completed; recommended inference image: %s", job_name, image)
            return images

        log_recommended_image()
    # [END howto_asset_watcher_optimization_job]
