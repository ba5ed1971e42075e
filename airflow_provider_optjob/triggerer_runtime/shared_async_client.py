"""Async SageMaker clients shared by every caller on one event loop.

The triggerer runs every deferred task of a deployment in one event loop. Building an aiobotocore
session and client per trigger costs a connection lookup, a credentials fetch (an STS call when the
connection assumes a role) and a parse of the 2.6 MB SageMaker service model, and it blocks the loop
while it does so. Here, callers with the same connection settings on the same loop share one client:
the blocking part of its creation runs in a worker thread, the client is closed when its last user
leaves, and nothing is shared across event loops (or processes).
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread

#: Opens the client's async context manager; called in a worker thread, so it may block.
ClientContextFactory = Callable[[], Any]


@dataclass
class _SharedClient:
    ready: asyncio.Future[None]
    users: int = 0
    client: Any = None
    context: Any = field(default=None, repr=False)


_clients_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[Hashable, _SharedClient]] = (
    weakref.WeakKeyDictionary()
)
_request_slots_by_client: weakref.WeakKeyDictionary[Any, asyncio.Semaphore] = weakref.WeakKeyDictionary()


class _CreationCancelled(Exception):
    """The caller that was creating a shared client was cancelled; waiters should try again."""


@asynccontextmanager
async def shared_async_client(key: Hashable, open_context: ClientContextFactory) -> AsyncIterator[Any]:
    """
    Lend the event loop's shared client for ``key``, creating it on first use.

    :param key: everything that makes two clients interchangeable (connection id, region, verify,
        client config).
    :param open_context: returns the aiobotocore ``ClientCreatorContext``; run in a worker thread.
    """
    loop = asyncio.get_running_loop()
    clients = _clients_by_loop.setdefault(loop, {})
    shared = await _acquire(clients, key, open_context, loop)
    try:
        yield shared.client
    finally:
        shared.users -= 1
        if shared.users == 0 and clients.get(key) is shared:
            del clients[key]
            await shared.context.__aexit__(None, None, None)


async def _acquire(
    clients: dict[Hashable, _SharedClient],
    key: Hashable,
    open_context: ClientContextFactory,
    loop: asyncio.AbstractEventLoop,
) -> _SharedClient:
    while True:
        shared = clients.get(key)
        if shared is None:
            return await _create(clients, key, open_context, loop)
        shared.users += 1
        try:
            await asyncio.shield(shared.ready)
        except _CreationCancelled:
            shared.users -= 1
            continue
        except BaseException:
            shared.users -= 1
            raise
        return shared


async def _create(
    clients: dict[Hashable, _SharedClient],
    key: Hashable,
    open_context: ClientContextFactory,
    loop: asyncio.AbstractEventLoop,
) -> _SharedClient:
    shared = _SharedClient(ready=loop.create_future(), users=1)
    clients[key] = shared
    try:
        context = await run_in_worker_thread(open_context)
        shared.client = await context.__aenter__()
        shared.context = context
        _request_slots_by_client[shared.client] = asyncio.Semaphore(_connection_pool_size(shared.client))
    except BaseException as error:
        if clients.get(key) is shared:
            del clients[key]
        failure = _CreationCancelled() if isinstance(error, asyncio.CancelledError) else error
        shared.ready.set_exception(failure)
        shared.ready.exception()  # marks it retrieved when no other caller was waiting
        raise
    shared.ready.set_result(None)
    return shared


@asynccontextmanager
async def request_slot(client: Any) -> AsyncIterator[None]:
    """
    Hold one of the shared client's request slots (as many as its HTTP connection pool) for one call.

    Without it, every trigger that wakes in the same loop turn prepares and signs its request before
    any of them waits for a connection, which stalls the loop when thousands start together.

    :param client: a client lent by :func:`shared_async_client` (any other client passes through).
    """
    slots = _request_slots_by_client.get(client)
    if slots is None:
        yield
        return
    async with slots:
        yield


def _connection_pool_size(client: Any) -> int:
    size = getattr(getattr(getattr(client, "meta", None), "config", None), "max_pool_connections", None)
    return size if isinstance(size, int) and size > 0 else 10


def shared_client_count() -> int:
    """Return how many shared clients are open on the running event loop (for diagnostics and tests)."""
    return len(_clients_by_loop.get(asyncio.get_running_loop(), {}))
