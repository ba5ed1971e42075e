"""One trigger's place in a job watcher: when it should describe its job next."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from airflow_provider_optjob.model.status import is_terminal

if TYPE_CHECKING:
    from collections.abc import Callable

    #: Called with each status the watcher's List finds for the job, and the summary's ``LastModifiedTime``
    #: (epoch seconds).
    StatusListener = Callable[[str | None, float | None], None]

#: A safety-net look comes after 80 to 100 % of its period, so triggers that joined together drift apart.
SAFETY_NET_JITTER = 0.8


def epoch_seconds(timestamp: Any) -> float | None:
    """
    Return an API timestamp as epoch seconds (``None`` if it is not a datetime).

    A parsed timestamp carries a time zone object of its own, about 1 KB; a wait keeps a number instead.

    :param timestamp: a timestamp member of an API response, as botocore parsed it.
    """
    return timestamp.timestamp() if isinstance(timestamp, datetime) else None


class ListingMode(Protocol):
    """What a watch asks its watcher: whether the watcher's List covers the job now."""

    @property
    def coalescing(self) -> bool:
        """Whether the watcher lists jobs (else every trigger describes its own job each interval)."""


class Watch:
    """
    When the trigger waiting on one job should describe it next.

    While the watcher lists jobs (:attr:`ListingMode.coalescing`), the next look is due when the watcher's
    List shows the job terminal or gone, or when the safety net is due, whichever comes first. Otherwise it is
    due one poll interval after the last look, as without a watcher.

    A new status the List shows is handed to ``on_status`` from the waiting trigger's own task, not from the
    watcher's: Airflow routes a log line to a task's log by the context of the asyncio task that writes it.

    A trigger that joins while the watcher lists jobs takes its first look from the watcher's next List
    (:attr:`first_look_listed`): it describes the job only if that List shows it terminal or does not show it.

    :param mode: the watcher, which says whether it lists jobs.
    :param job_name: the job's name.
    :param poll_interval: the trigger's poll interval, in seconds.
    :param safety_net_seconds: the longest time between two looks while the watcher lists jobs.
    :param on_status: called with each status the watcher's List finds for the job.
    """

    __slots__ = (
        "_last_look",
        "_listed",
        "_listed_status",
        "_look_due",
        "_loop",
        "_mode",
        "_on_status",
        "_safety_due",
        "_safety_net_seconds",
        "_waiter",
        "first_look_listed",
        "job_name",
        "poll_interval",
    )

    def __init__(
        self,
        mode: ListingMode,
        job_name: str,
        poll_interval: float,
        safety_net_seconds: float,
        on_status: StatusListener,
    ) -> None:
        self.job_name = job_name
        self.poll_interval = poll_interval
        self._mode = mode
        self._safety_net_seconds = safety_net_seconds
        self._on_status = on_status
        self._loop = asyncio.get_running_loop()
        self._waiter: asyncio.Future[bool] | None = None
        self._listed: tuple[str | None, float | None] | None = None
        self._listed_status: str | None = None
        self._look_due = False
        self._last_look = self._loop.time()
        self._safety_due = self._last_look + self._safety_pause()
        #: The watcher's next List gives the trigger its first look (set by the watcher when the trigger joins).
        self.first_look_listed = False

    def looking(self) -> None:
        """Note that the trigger describes its job now: this look answers every signal received so far."""
        self._look_due = False
        self._last_look = self._loop.time()
        self._safety_due = self._last_look + self._safety_pause()

    async def until_next_look(self, remaining: float) -> None:
        """
        Wait until the job should be described again, but ``remaining`` seconds at most.

        :param remaining: seconds to the trigger's deadline.
        """
        deadline = self._loop.time() + remaining
        while True:
            if self._listed is not None:
                listed, self._listed = self._listed, None
                self._on_status(*listed)
            if self._look_due:
                return
            due = min(self._safety_due if self._mode.coalescing else self._last_look + self.poll_interval, deadline)
            if due <= self._loop.time():
                return
            waiter: asyncio.Future[bool] = self._loop.create_future()
            self._waiter = waiter
            timer = self._loop.call_at(due, _settle, waiter, False)
            try:
                woken = await waiter
            finally:
                timer.cancel()
                self._waiter = None
            if not woken:
                return

    def listed(self, status: str | None, last_modified: float | None) -> None:
        """
        Take the job's summary from the watcher's List: a new status wakes the trigger, a terminal one makes a look due.

        :param status: the summary's ``OptimizationJobStatus``.
        :param last_modified: the summary's ``LastModifiedTime``, in epoch seconds.
        """
        if is_terminal(status):
            self._look_due = True
        elif status == self._listed_status:
            return
        self._listed_status = status
        self._listed = (status, last_modified)
        self.recheck()

    def look_now(self) -> None:
        """Make a look due at once."""
        self._look_due = True
        self.recheck()

    def recheck(self) -> None:
        """Wake a waiting trigger to work out when its next look is due (the watcher started or stopped listing)."""
        if self._waiter is not None:
            _settle(self._waiter, True)

    def _safety_pause(self) -> float:
        return self._safety_net_seconds * random.uniform(SAFETY_NET_JITTER, 1.0)


def _settle(waiter: asyncio.Future[bool], woken: bool) -> None:
    if not waiter.done():
        waiter.set_result(woken)
