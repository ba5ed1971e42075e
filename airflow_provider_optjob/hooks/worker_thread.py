"""Run blocking work from async code in a worker thread that may still talk to Airflow.

Blocking work of ours in the triggerer (building a client, refreshing assumed-role credentials) can reach
Airflow's channel to its supervisor without calling it directly: reading ``Connection.extra_dejson`` or
building a ``Connection`` masks secrets, and masking sends a message to the supervisor. How a worker thread
may use that channel depends on the version:

- Airflow 3.0: the synchronous ``send`` wraps the async exchange in asgiref's ``async_to_sync``. In a
  thread started by asgiref's ``sync_to_async`` it hands the exchange to the waiting event loop, where it
  runs under the channel's lock. In a plain worker thread (``asyncio.to_thread``) it reads the supervisor's
  socket from a second event loop and races the triggerer's own reads: "Response read out of order", then
  a dead trigger runner.
- Airflow 3.2: ``send`` holds a thread lock while the loop runs the exchange, so a send from the
  loop's own thread meanwhile stops the triggerer. The connection is therefore read on the loop there
  (:mod:`~airflow_provider_optjob.hooks.connection_lookup`), and no work of ours in a thread reaches the
  channel.
- Airflow 3.3: ``send`` schedules the exchange on the triggerer's loop from any thread.
- Airflow 2: no channel; the work runs in a worker thread like any blocking call.

So every blocking call of ours goes through :func:`run_in_worker_thread`, never ``asyncio.to_thread``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from collections.abc import Callable

_Result = TypeVar("_Result")


async def run_in_worker_thread(function: Callable[..., _Result], *args: Any) -> _Result:
    """
    Call ``function(*args)`` in a worker thread of the running loop's executor and return its result.

    Inside the call, Airflow's synchronous supervisor channel routes back to the waiting loop (see the
    module's docstring), so secret masking and connection lookups made there are safe.

    :param function: the blocking callable.
    :param args: its positional arguments.
    """
    from asgiref.sync import sync_to_async

    return await sync_to_async(function, thread_sensitive=False)(*args)
