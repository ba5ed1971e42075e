"""One watcher per connection: waiting triggers share one ``ListOptimizationJobs`` query per poll interval.

See :mod:`~airflow_provider_optjob.triggers.job_watcher.watcher` for how it lists and when a trigger still
describes its job, and :mod:`~airflow_provider_optjob.triggers.job_watcher.registry` for which watcher a trigger
joins.
"""

from __future__ import annotations

from airflow_provider_optjob.triggers.job_watcher.registry import (
    coalesced_polling_enabled,
    watcher_count,
    watcher_installed,
    watchers,
    watching,
)
from airflow_provider_optjob.triggers.job_watcher.watch import Watch, epoch_seconds
from airflow_provider_optjob.triggers.job_watcher.watcher import JobWatcher, WatcherSettings

__all__ = [
    "JobWatcher",
    "Watch",
    "WatcherSettings",
    "coalesced_polling_enabled",
    "epoch_seconds",
    "watcher_count",
    "watcher_installed",
    "watchers",
    "watching",
]
