"""Event trigger for an ``AssetWatcher``: one event each time an optimization job finishes (Airflow 3.0+)."""

from __future__ import annotations

import asyncio
import time
from contextlib import aclosing
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

try:
    from airflow.triggers.base import BaseEventTrigger, TriggerEvent
except ImportError as error:  # Airflow 2
    raise ImportError(
        "airflow_provider_optjob.triggers.job_events needs Airflow 3.0 or later: SageMakerOptimizationJobEventTrigger "
        "is a BaseEventTrigger for an AssetWatcher, which Airflow 2 does not have. On Airflow 2, wait for a known job "
        "with SageMakerOptimizationJobSensor instead."
    ) from error
from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.model.api_errors import ApiErrorKind, backoff_delay, classify_api_error
from airflow_provider_optjob.model.event import event_payload
from airflow_provider_optjob.model.outcome import build_job_outcome
from airflow_provider_optjob.model.status import trigger_event_status
from airflow_provider_optjob.triggerer_runtime.shared_async_client import request_slot
from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread
from airflow_provider_optjob.triggers.job_events_cursor import (
    CursorStore,
    JobEventCursor,
    checked_statuses,
    checked_tags,
    state_key,
    tags_match,
)
from airflow_provider_optjob.triggers.job_watcher import WatcherSettings, epoch_seconds
from airflow_provider_optjob.triggers.job_watcher.watcher import MAX_RESULTS

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Sequence

    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

#: Without fires, the stored cursor is brought up to date once it falls this many poll intervals behind.
CURSOR_KEPT_EVERY_POLLS = 10


class SageMakerOptimizationJobEventTrigger(BaseEventTrigger):
    """
    Fire one event each time an optimization job that matches the filters reaches a terminal status.

    For an ``AssetWatcher``: each event becomes an asset event whose ``extra["payload"]`` is the wait trigger's
    payload, ``{"status", "job_name", "message", "result"}``, with ``result`` the job outcome dict (from
    ``DescribeOptimizationJob``). Each poll lists the jobs modified since the start of the last complete poll, minus
    ``overlap_seconds`` (``ListOptimizationJobs`` with ``LastModifiedTimeAfter``, ``NameContains``); reads the tags
    (``ListTags``) only of a job that passed the other filters; and describes each job it fires for.

    It fires on the transition only: once per job, never again while the job stays terminal. Jobs that were
    already terminal when the trigger first started never fire. With Airflow 3.3's asset state store (one
    watched asset), what was fired is saved before each event (and, without fires, every
    :data:`CURSOR_KEPT_EVERY_POLLS` poll intervals), so a trigger rebuilt after a triggerer restart neither fires a
    job twice nor misses jobs that finished while it was down; elsewhere it is kept in memory, and a restarted
    trigger starts afresh. See :doc:`/events` for the guarantees per Airflow version.

    .. seealso::
        :doc:`/events` for the example DAG and the IAM permissions.

    :param name_contains: fire only for jobs whose name contains this (``NameContains``, case-insensitive).
    :param statuses: fire only for these terminal statuses (default: ``COMPLETED``, ``FAILED``, ``STOPPED``).
    :param tags: fire only for jobs whose tags include every one of these keys with its value.
    :param poll_interval: seconds between two polls.
    :param overlap_seconds: how far each List reaches back before the last poll's start: it must exceed the List's
        lag behind Describe plus how far this machine's clock runs ahead of AWS's.
    :param aws_conn_id: the Airflow connection with AWS credentials.
    :param region_name: AWS region; overrides the connection's.
    :param verify: whether to verify SSL certificates, or a CA bundle path.
    :param botocore_config: botocore client configuration, as a dict.
    """

    def __init__(
        self,
        name_contains: str | None = None,
        statuses: Sequence[str] | None = None,
        tags: dict[str, str] | None = None,
        poll_interval: float = 60.0,
        overlap_seconds: float = WatcherSettings.overlap_seconds,
        aws_conn_id: str | None = "aws_default",
        region_name: str | None = None,
        verify: bool | str | None = None,
        botocore_config: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        if name_contains is not None and not isinstance(name_contains, str):
            raise ValueError(f"name_contains must be a string; got {name_contains!r}")
        self.name_contains = name_contains or None
        self.statuses = checked_statuses(statuses)
        self.tags = checked_tags(tags)
        self.poll_interval = float(poll_interval)
        self.overlap_seconds = float(overlap_seconds)
        if self.poll_interval <= 0 or self.overlap_seconds < 0:
            raise ValueError("poll_interval must be positive and overlap_seconds not negative")
        self.aws_conn_id = aws_conn_id
        self.region_name = region_name
        self.verify = verify
        self.botocore_config = botocore_config

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Return the class path and the plain keyword arguments that rebuild this trigger."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "name_contains": self.name_contains,
                "statuses": list(self.statuses),
                "tags": dict(self.tags) or None,
                "poll_interval": self.poll_interval,
                "overlap_seconds": self.overlap_seconds,
                "aws_conn_id": self.aws_conn_id,
                "region_name": self.region_name,
                "verify": self.verify,
                "botocore_config": self.botocore_config,
            },
        )

    def hook(self) -> SageMakerOptimizationJobHook:
        """Build the hook for this trigger's connection settings (its module is imported on first use)."""
        from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook

        return SageMakerOptimizationJobHook(
            aws_conn_id=self.aws_conn_id, region_name=self.region_name, verify=self.verify, config=self.botocore_config
        )

    def state_key(self) -> str:
        """Return the asset state store key of this watch (the same filters and connection share it)."""
        _, kwargs = self.serialize()
        return state_key(
            {key: kwargs[key] for key in ("name_contains", "statuses", "tags", "aws_conn_id", "region_name")}
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll forever; yield one event per job that finished, after recording it."""
        hook = await run_in_worker_thread(self.hook)
        store = CursorStore(getattr(self, "asset_state_store", None), self.state_key())
        cursor = await store.load(time.time())
        self.log.info(
            "Watching optimization jobs (name contains %r, statuses %s, tags %s) finished after %s; cursor %s.",
            self.name_contains,
            self.statuses,
            self.tags or "any",
            datetime.fromtimestamp(cursor.baseline, tz=timezone.utc).isoformat(),
            "in the asset state store" if store.persistent else "in memory",
        )
        failures_in_a_row = 0
        while True:
            try:
                async with hook.async_client() as client:
                    while True:
                        started = time.time()
                        async for payload in self._poll(hook, client, cursor, store):
                            yield TriggerEvent(payload)  # type: ignore[no-untyped-call]
                        cursor.completed_poll(started, self.overlap_seconds)
                        await store.save_if_behind(cursor, CURSOR_KEPT_EVERY_POLLS * self.poll_interval)
                        failures_in_a_row = 0
                        await asyncio.sleep(max(0.0, self.poll_interval - (time.time() - started)))
            except (OptimizationJobConnectionError, ClientError, BotoCoreError) as error:
                failures_in_a_row += 1
                pause = backoff_delay(self.poll_interval, failures_in_a_row)
                transient = not isinstance(error, OptimizationJobConnectionError) and (
                    classify_api_error(error) is ApiErrorKind.TRANSIENT
                )
                log = self.log.warning if transient else self.log.error
                log("Polling optimization jobs failed (%s); polling again in %.1f s.", error, pause)
                await asyncio.sleep(pause)

    async def _poll(
        self, hook: SageMakerOptimizationJobHook, client: Any, cursor: JobEventCursor, store: CursorStore
    ) -> AsyncIterator[dict[str, Any]]:
        """List the window's jobs; for each new one that matches, record it and hand back its event payload."""
        window_start = cursor.window_start(self.overlap_seconds)
        filters: dict[str, Any] = {
            "LastModifiedTimeAfter": datetime.fromtimestamp(window_start, tz=timezone.utc),
            "MaxResults": MAX_RESULTS,
        }
        if self.name_contains:
            filters["NameContains"] = self.name_contains
        if len(self.statuses) == 1:
            filters["StatusEquals"] = self.statuses[0]
        async with aclosing(hook.async_list_optimization_job_pages(client, **filters)) as pages:
            async for page in pages:
                for summary in page:
                    name = summary.get("OptimizationJobName")
                    finished_at = epoch_seconds(summary.get("OptimizationEndTime")) or epoch_seconds(
                        summary.get("LastModifiedTime")
                    )
                    if not isinstance(name, str) or finished_at is None:
                        continue
                    if summary.get("OptimizationJobStatus") not in self.statuses:
                        continue
                    if not cursor.is_new(name, finished_at, window_start):
                        continue
                    if self.tags and not tags_match(self.tags, await _list_tags(client, summary["OptimizationJobArn"])):
                        cursor.passed_over[name] = finished_at
                        continue
                    response = await hook.async_describe_optimization_job(name, client)
                    status = response.get("OptimizationJobStatus")
                    if status not in self.statuses:
                        continue
                    cursor.fired[name] = finished_at
                    await store.save(cursor)  # before the event: at most once per job
                    yield self._payload(response, name, str(status))

    def _payload(self, response: dict[str, Any], job_name: str, status: str) -> dict[str, Any]:
        outcome = build_job_outcome(response, job_name)
        message = f"Optimization job {job_name!r} ended with status {status}."
        if outcome["failure_reason"]:
            message = f"{message[:-1]}: {outcome['failure_reason']}"
        self.log.info("%s", message)
        return event_payload(trigger_event_status(status), job_name, message, dict(outcome))


async def _list_tags(client: Any, resource_arn: str) -> list[dict[str, Any]]:
    """Read every tag of a resource through the async client, page by page (no paginator: it reads a model file)."""
    tags: list[dict[str, Any]] = []
    request: dict[str, Any] = {"ResourceArn": resource_arn}
    while True:
        async with request_slot(client):
            response = await client.list_tags(**request)
        tags.extend(response.get("Tags", []))
        token = response.get("NextToken")
        if not token:
            return tags
        request["NextToken"] = token
