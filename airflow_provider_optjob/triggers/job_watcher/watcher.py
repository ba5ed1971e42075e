"""One ``ListOptimizationJobs`` query per poll interval for every trigger that waits through the same client.

SageMaker's Describe and List calls share one account-wide throttling budget. Waiting triggers that each
describe their job every interval spend it in proportion to the number of jobs; a watcher spends one List
query per interval (one call per 100 jobs changed recently), whatever the number of jobs:

- Each poll lists the jobs modified since the start of the last successful poll, minus
  :attr:`WatcherSettings.overlap_seconds` (``LastModifiedTimeAfter``), across all pages, each page acted on as
  it arrives.
- A trigger describes its job (for the full outcome) when the List shows it terminal, or when it vanished from
  a window that should still hold it (the job was deleted); and, as a safety net, every
  :meth:`WatcherSettings.safety_net` seconds anyway.
- A trigger that joins while the watcher lists jobs takes its first look from the first List that starts after
  it joined: a job that List does not show (it ended before the window, or is not found yet) is described at
  once, and handled as without a watcher. A trigger that joins a watcher that does not list (the first one on a
  connection) describes its job first.
- A throttled List, a 5xx answer or a dropped connection is retried with the same capped, jittered backoff as a
  Describe (:func:`~airflow_provider_optjob.model.api_errors.backoff_delay`), for as long as triggers wait; the
  safety net and each trigger's deadline bound what a long outage costs them.
- Any other List error (``AccessDenied`` when the identity lacks ``sagemaker:ListOptimizationJobs``) makes the
  watcher give up listing, with one log line: its triggers describe their own job each interval from then on.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import math
import time
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from botocore.exceptions import BotoCoreError, ClientError

from airflow_provider_optjob.model.api_errors import ApiErrorKind, backoff_delay, classify_api_error
from airflow_provider_optjob.triggers.job_watcher.watch import Watch, epoch_seconds

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Callable

    from airflow_provider_optjob.triggers.job_watcher.watch import StatusListener

    #: Yields the pages of job summaries for the given ``ListOptimizationJobs`` request members.
    ListPages = Callable[..., AsyncGenerator[list[dict[str, Any]], None]]

log = logging.getLogger(__name__)

#: ``ListOptimizationJobs``' greatest page size (``MaxResults`` is 1 to 100 in the service model).
MAX_RESULTS = 100


@dataclass(frozen=True)
class WatcherSettings:
    """
    How a job watcher lists jobs.

    :param overlap_seconds: how far before the start of the last successful poll each List reaches back. A
        job change is seen as long as the List's lag behind Describe plus the amount by which this machine's
        clock is ahead of AWS's stays below it.
    :param safety_net_polls: while the watcher lists jobs, each trigger still describes its job at least once
        every this many of its poll intervals...
    :param safety_net_seconds: ...or every this many seconds, whichever is sooner.
    :param min_triggers: list only while at least this many triggers wait through the watcher. A lone trigger
        describes its job each interval: one List call costs as much as one Describe and tells less.
    :param enabled: list at all (``[sagemaker_optimization_job] coalesced_polling``); if not, every trigger
        describes its own job each interval.
    :param clock: the time source of ``LastModifiedTimeAfter`` (epoch seconds).
    """

    overlap_seconds: float = 120.0
    safety_net_polls: int = 60
    safety_net_seconds: float = 300.0
    min_triggers: int = 2
    enabled: bool = True
    clock: Callable[[], float] = field(default=time.time, compare=False)

    def safety_net(self, poll_interval: float) -> float:
        """
        Return the longest time between two Describe calls of a job while the watcher lists jobs.

        :param poll_interval: the trigger's poll interval, in seconds.
        """
        return min(self.safety_net_polls * poll_interval, self.safety_net_seconds)


class JobWatcher:
    """
    Lists jobs once per interval for the triggers that wait through one client, and tells each when to look.

    The interval is the shortest poll interval of its triggers. The listing task runs only while the watcher
    lists jobs (:attr:`coalescing`), and stops when the number of triggers drops below
    :attr:`WatcherSettings.min_triggers`.

    :param list_pages: yields the pages of job summaries for ``ListOptimizationJobs`` request members
        (:meth:`SageMakerOptimizationJobHook.async_list_optimization_job_pages` bound to the shared client).
    :param settings: how to list.
    """

    def __init__(self, list_pages: ListPages, settings: WatcherSettings | None = None) -> None:
        self.settings = settings or WatcherSettings()
        self._list_pages = list_pages
        self._watches: dict[str, set[Watch]] = {}
        self._members = 0
        self._task: asyncio.Task[None] | None = None
        self._last_success_start: float | None = None
        self._listed_before: dict[str, float | None] = {}
        self._polls_started = 0
        #: The watches whose first look is the List numbered here (by :attr:`_polls_started`), or a later one.
        self._first_looks: dict[Watch, int] = {}
        #: Why the watcher gave up listing, if it did.
        self.gave_up: str | None = None
        #: Successful polls so far.
        self.polls = 0

    @property
    def members(self) -> int:
        """How many triggers wait through the watcher."""
        return self._members

    @property
    def coalescing(self) -> bool:
        """Whether the watcher lists jobs for its triggers (else each describes its own job every interval)."""
        return self.settings.enabled and self.gave_up is None and self._members >= self.settings.min_triggers

    @property
    def awaiting_first_look(self) -> int:
        """How many triggers wait for the List that gives them their first look."""
        return len(self._first_looks)

    @property
    def polling(self) -> bool:
        """Whether the listing task runs."""
        return self._task is not None and not self._task.done()

    def interval(self) -> float:
        """Return the watcher's poll interval: the shortest of its triggers'."""
        return min(watch.poll_interval for watches in self._watches.values() for watch in watches)

    def join(self, job_name: str, poll_interval: float, on_status: StatusListener) -> Watch:
        """
        Add a trigger that waits on ``job_name``.

        :param job_name: the job's name.
        :param poll_interval: the trigger's poll interval, in seconds.
        :param on_status: called with each status the List finds for the job.
        :return: the trigger's watch, which says when to describe the job next.
        """
        was_coalescing = self.coalescing
        watch = Watch(self, job_name, poll_interval, self.settings.safety_net(poll_interval), on_status)
        self._watches.setdefault(job_name, set()).add(watch)
        self._members += 1
        self._after_change(was_coalescing)
        if self.coalescing:
            watch.first_look_listed = True
            self._first_looks[watch] = self._polls_started + 1  # a poll in flight may have passed the job by
        return watch

    async def leave(self, watch: Watch) -> None:
        """
        Remove a trigger; stop the listing task when too few are left.

        :param watch: the watch :meth:`join` returned.
        """
        watches = self._watches.get(watch.job_name)
        if watches is None or watch not in watches:
            return
        was_coalescing = self.coalescing
        watches.discard(watch)
        self._first_looks.pop(watch, None)
        if not watches:
            del self._watches[watch.job_name]
            self._listed_before.pop(watch.job_name, None)
        self._members -= 1
        self._after_change(was_coalescing)
        if not self.coalescing:
            await self.close()

    async def close(self) -> None:
        """Stop the listing task, if it runs, and wait until it has stopped."""
        task, self._task = self._task, None
        if task is None:
            return
        task.cancel()
        await asyncio.wait({task})

    def _after_change(self, was_coalescing: bool) -> None:
        if self.coalescing and self._task is None:
            self._last_success_start = None
            self._listed_before = {}
            # A context of its own: the triggerer sends a log line to the log of the task whose context variables
            # it carries, and the watcher serves many tasks (its lines belong in the triggerer's log).
            self._task = contextvars.Context().run(
                asyncio.get_running_loop().create_task,
                self._poll_forever(),
                name="sagemaker-optimization-job-watcher",
            )
            self._task.add_done_callback(self._poll_ended)
        if self.coalescing != was_coalescing:
            if not self.coalescing:
                self._first_looks.clear()  # they describe their job one interval after they joined
            self._recheck_all()

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        failures_in_a_row = 0
        while True:
            started, poll_start = loop.time(), self.settings.clock()
            self._polls_started += 1
            number = self._polls_started
            since = self._window_start(poll_start)
            try:
                listed = await self._list(since)
            except (ClientError, BotoCoreError) as error:
                kind = classify_api_error(error)
                if kind is not ApiErrorKind.TRANSIENT:
                    self._give_up(f"{error}", kind)
                    return
                failures_in_a_row += 1
                pause = backoff_delay(self.interval(), failures_in_a_row)
                log.warning("Listing optimization jobs failed (%s); listing again in %.1f s.", error, pause)
            else:
                failures_in_a_row = 0
                self._last_success_start = poll_start
                self.polls += 1
                self._look_for_vanished(listed, since)
                self._answer_first_looks(listed, number)
                pause = max(0.0, self.interval() - (loop.time() - started))
            await asyncio.sleep(pause)

    def _window_start(self, poll_start: float) -> datetime:
        """``LastModifiedTimeAfter``, in whole seconds, so it reads the same at every timestamp precision."""
        anchor = poll_start if self._last_success_start is None else self._last_success_start
        return datetime.fromtimestamp(math.floor(anchor - self.settings.overlap_seconds), tz=timezone.utc)

    async def _list(self, since: datetime) -> dict[str, float | None]:
        """List the window's jobs, telling each page's watched jobs at once; return when each was last modified."""
        listed: dict[str, float | None] = {}
        async with aclosing(self._list_pages(LastModifiedTimeAfter=since, MaxResults=MAX_RESULTS)) as pages:
            async for page in pages:
                for summary in page:
                    name = summary.get("OptimizationJobName")
                    watches = self._watches.get(name) if isinstance(name, str) else None
                    if not watches:
                        continue
                    modified = epoch_seconds(summary.get("LastModifiedTime"))
                    listed[str(name)] = modified
                    for watch in list(watches):
                        watch.listed(summary.get("OptimizationJobStatus"), modified)
        return listed

    def _look_for_vanished(self, listed: dict[str, float | None], since: datetime) -> None:
        # A job changes its LastModifiedTime only forward: one listed last time after this window's start that is
        # missing now was deleted (or the List is inconsistent); its triggers look for themselves.
        window_start = since.timestamp()
        for name, modified in self._listed_before.items():
            if name not in listed and modified is not None and modified > window_start:
                for watch in list(self._watches.get(name, ())):
                    watch.look_now()
        self._listed_before = listed

    def _answer_first_looks(self, listed: dict[str, float | None], number: int) -> None:
        """After List ``number``: the triggers it answers are done with their first look, or describe their job."""
        answered = [watch for watch, first in self._first_looks.items() if first <= number]
        for watch in answered:
            del self._first_looks[watch]
            if watch.job_name not in listed:
                watch.look_now()

    def _give_up(self, reason: str, kind: ApiErrorKind) -> None:
        self.gave_up = reason
        self._first_looks.clear()
        advice = (
            " Allow sagemaker:ListOptimizationJobs to the connection's identity so that they share one List call "
            "per interval."
            if kind is ApiErrorKind.ACCESS
            else ""
        )
        log.warning(
            "ListOptimizationJobs failed (%s): the %d triggers waiting through this connection now describe their "
            "own job every poll interval, as without coalesced polling.%s",
            reason,
            self._members,
            advice,
        )
        self._recheck_all()

    def _poll_ended(self, task: asyncio.Task[None]) -> None:
        if task.cancelled() or task.exception() is None:
            return
        error = task.exception()
        log.error("The optimization job watcher stopped on an unexpected error.", exc_info=error)
        self._give_up(f"unexpected {type(error).__name__}: {error}", ApiErrorKind.PERMANENT)

    def _recheck_all(self) -> None:
        for watches in self._watches.values():
            for watch in watches:
                watch.recheck()
