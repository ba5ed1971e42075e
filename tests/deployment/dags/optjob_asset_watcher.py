"""The asset-watcher test's DAG: scheduled on an asset that the optimization job event trigger watches.

The watcher fires for each job named ``assetwatch-...`` that completes; the DAG's one task returns the outcome
of each job in the triggering asset events (its ``return_value`` XCom). It polls every second. On Airflow 2,
which has no asset watchers, the file defines no DAG.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from airflow_provider_optjob.compat import triggering_asset_events
from optjob_harness.config import METADB

try:
    from airflow.sdk import DAG, Asset, AssetWatcher, task

    from airflow_provider_optjob.triggers.job_events import SageMakerOptimizationJobEventTrigger
except ImportError:  # Airflow 2
    SageMakerOptimizationJobEventTrigger = None  # type: ignore[assignment,misc,unused-ignore]

DAG_ID = "optjob_asset_watcher"
ASSET_NAME = "optjob-deployment/finished-jobs"
#: Every job of the test has a name with this in it; other deployment tests' jobs do not.
JOB_NAME_PART = "assetwatch"
POLL_INTERVAL_SECONDS = 1.0

if SageMakerOptimizationJobEventTrigger is not None:
    finished_jobs = Asset(
        ASSET_NAME,
        watchers=[
            AssetWatcher(
                name="finished_optimization_jobs",
                trigger=SageMakerOptimizationJobEventTrigger(
                    name_contains=JOB_NAME_PART,
                    statuses=["COMPLETED"],
                    poll_interval=POLL_INTERVAL_SECONDS,
                    aws_conn_id=METADB.conn_id,
                ),
            )
        ],
    )

    with DAG(
        dag_id=DAG_ID,
        schedule=[finished_jobs],
        start_date=datetime(2026, 1, 1),
        catchup=False,
        tags=["optjob-deployment-test"],
    ):

        @task
        def outcomes(**context: Any) -> list[dict[str, Any]]:
            """Return the outcome in each triggering asset event."""
            return [
                (event.extra or {}).get("payload", {}).get("result")
                for events in triggering_asset_events(context).values()
                for event in events
            ]

        outcomes()
