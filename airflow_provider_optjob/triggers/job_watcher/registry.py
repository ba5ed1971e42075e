"""Which job watcher a trigger joins: one per shared client, that is per connection settings and event loop.

Triggers with the same connection settings on one event loop share one aiobotocore client
(:mod:`airflow_provider_optjob.triggerer_runtime.shared_async_client`), so the client itself is the watcher's key: a
trigger that starts after the connection changed gets a new client, and with it a new watcher. A watcher is
made when its first trigger joins and dropped when its last one leaves; nothing is shared across event loops.

``[sagemaker_optimization_job] coalesced_polling`` is read once per event loop (a triggerer reads it when its
first trigger of ours starts), in a worker thread.
"""

from __future__ import annotations

import asyncio
import weakref
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread
from airflow_provider_optjob.triggers.job_watcher.watcher import JobWatcher, WatcherSettings

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

    from airflow_provider_optjob.hooks.optimization_job import SageMakerOptimizationJobHook
    from airflow_provider_optjob.triggers.job_watcher.watch import StatusListener, Watch

CONFIG_SECTION = "sagemaker_optimization_job"
CONFIG_OPTION = "coalesced_polling"


@dataclass
class _Entry:
    watcher: JobWatcher
    installed: bool = False


_entries_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Any, _Entry]] = weakref.WeakKeyDictionary()
_option_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, bool | asyncio.Future[bool]] = (
    weakref.WeakKeyDictionary()
)


def coalesced_polling_enabled() -> bool:
    """Read ``[sagemaker_optimization_job] coalesced_polling`` (default ``True``); may block, so call it in a thread."""
    from airflow_provider_optjob.compat import conf

    return bool(conf.getboolean(CONFIG_SECTION, CONFIG_OPTION, fallback=True))


@asynccontextmanager
async def watching(
    hook: SageMakerOptimizationJobHook, client: Any, job_name: str, poll_interval: float, on_status: StatusListener
) -> AsyncIterator[Watch]:
    """
    Join the watcher of ``client`` for one trigger's wait, making the watcher if it is the first.

    :param hook: the trigger's hook (lists jobs through ``client``).
    :param client: the shared client the trigger describes its job with.
    :param job_name: the job's name.
    :param poll_interval: the trigger's poll interval, in seconds.
    :param on_status: called with each status the watcher's List finds for the job.
    :return: (as the context value) the trigger's watch, which says when to describe the job next.
    """
    loop = asyncio.get_running_loop()
    entries = _entries_by_loop.setdefault(loop, {})
    entry = entries.get(client)
    if entry is None:
        settings = WatcherSettings(enabled=await _coalesced_polling(loop))
        entry = entries.get(client)  # another trigger may have made it meanwhile
        if entry is None:
            entry = entries[client] = _Entry(_new_watcher(hook, client, settings))
    watcher = entry.watcher
    watch = watcher.join(job_name, poll_interval, on_status)
    try:
        yield watch
    finally:
        if watcher.members == 1 and not entry.installed and entries.get(client) is entry:
            del entries[client]
        await watcher.leave(watch)


@asynccontextmanager
async def watcher_installed(
    client: Any, hook: SageMakerOptimizationJobHook, settings: WatcherSettings
) -> AsyncIterator[JobWatcher]:
    """
    Install a watcher with chosen settings (a clock, an overlap, a safety net) for ``client`` on this loop.

    Triggers that describe their job through ``client`` join it instead of a default one. It stays until the
    context ends, with or without triggers.

    :param client: a shared client, held open by the caller (:meth:`SageMakerOptimizationJobHook.async_client`).
    :param hook: a hook with the client's settings (lists jobs through ``client``).
    :param settings: how the watcher lists jobs.
    :raises RuntimeError: a watcher already serves ``client``.
    """
    entries = _entries_by_loop.setdefault(asyncio.get_running_loop(), {})
    if client in entries:
        raise RuntimeError("a job watcher already serves this client")
    entry = entries[client] = _Entry(_new_watcher(hook, client, settings), installed=True)
    try:
        yield entry.watcher
    finally:
        if entries.get(client) is entry:
            del entries[client]
        await entry.watcher.close()


def _new_watcher(hook: SageMakerOptimizationJobHook, client: Any, settings: WatcherSettings) -> JobWatcher:
    return JobWatcher(partial(hook.async_list_optimization_job_pages, client), settings)


async def _coalesced_polling(loop: asyncio.AbstractEventLoop) -> bool:
    """Return the option, read in a worker thread the first time on ``loop``; concurrent callers share the read."""
    known = _option_by_loop.get(loop)
    if isinstance(known, bool):
        return known
    if known is None:
        known = asyncio.ensure_future(run_in_worker_thread(coalesced_polling_enabled))
        _option_by_loop[loop] = known
        known.add_done_callback(partial(_remember_option, loop))
    return await asyncio.shield(known)


def _remember_option(loop: asyncio.AbstractEventLoop, read: asyncio.Future[bool]) -> None:
    if read.cancelled() or read.exception() is not None:
        _option_by_loop.pop(loop, None)  # the next trigger reads it again
    else:
        _option_by_loop[loop] = read.result()


def watcher_count() -> int:
    """Return how many job watchers exist on the running event loop (for diagnostics and tests)."""
    return len(_entries_by_loop.get(asyncio.get_running_loop(), {}))


def watchers() -> list[JobWatcher]:
    """Return the job watchers of the running event loop (for diagnostics and tests)."""
    return [entry.watcher for entry in _entries_by_loop.get(asyncio.get_running_loop(), {}).values()]
