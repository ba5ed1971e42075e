"""Read an Airflow connection from async code (the triggerer) the way each Airflow version supports it.

What a client needs from the connection is read once into :class:`ConnectionSettings`, which stands in for
the connection wherever blocking work runs later (in a worker thread). Reading ``extra_dejson`` masks
secrets, and masking talks to the triggerer's supervisor; so the reading happens where that talk is safe:

- Where the Task SDK offers ``BaseHook.aget_connection`` (Airflow 3.1 and later), the lookup is awaited
  on the running loop, and the extras are read on the loop's thread too, as Airflow's own lookup masks the
  connection's secrets there. No thread of ours then talks to the supervisor: on Airflow 3.2 a worker
  thread that does holds the channel's thread lock while it waits for the loop, and a mask sent from the
  loop's thread meanwhile waits for that lock, which stops the triggerer for good.
- Elsewhere (Airflow 3.0 and 2.x) the synchronous lookup and the reading run in one worker thread through
  :func:`~airflow_provider_optjob.triggerer_runtime.worker_thread.run_in_worker_thread`, the one way a thread of ours
  may reach the supervisor's channel on Airflow 3.0 (its module says why). On Airflow 2 the lookup is a
  metadata DB query or a secrets backend call that blocks, so it too belongs in a worker thread.

A lookup runs to its end even if its trigger is cancelled meanwhile
(:mod:`~airflow_provider_optjob.triggerer_runtime.run_to_completion` says why). The lookups of one event loop run one
at a time, so that one trigger's masking on the loop's thread never
meets another's lookup in a secrets backend's worker thread (Airflow runs backends that have no async
method in a thread, and their masking from there takes the same lock).

Triggers that start together (a DAG run's many deferrals, a triggerer taking over another's triggers) wait in
that line for the same connection. A lookup that started after a trigger asked reads the connection as it
was then or later, so it answers that trigger too: a thousand triggers that ask at once cost two lookups,
and a trigger that starts after the connection changed still reads the change.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

from airflow_provider_optjob.compat import AirflowNotFoundException
from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.triggerer_runtime.run_to_completion import run_to_completion
from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread


@dataclass
class _LookupLine:
    """The lookups of one event loop: one at a time, each numbered when it starts, the latest kept per connection."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    started: int = 0
    latest: dict[tuple[type[Any], str], tuple[int, ConnectionSettings]] = field(default_factory=dict)


_lookup_lines: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LookupLine] = weakref.WeakKeyDictionary()


@dataclass(frozen=True)
class ConnectionSettings:
    """
    The fields of an Airflow connection, with its extras already parsed.

    Takes the connection's place in the Amazon provider's ``AwsConnectionWrapper``, which reads exactly
    these attributes.

    :param conn_id: the connection id.
    :param conn_type: the connection type (``aws``).
    :param host: the host field.
    :param login: the login (AWS access key id).
    :param password: the password (AWS secret access key).
    :param schema: the schema field.
    :param port: the port field.
    :param extra: the extras as stored (a JSON string).
    :param extra_dejson: the extras, parsed.
    """

    conn_id: str | None
    conn_type: str | None
    host: str | None = None
    login: str | None = None
    password: str | None = field(default=None, repr=False)
    schema: str | None = None
    port: int | None = None
    extra: str | None = field(default=None, repr=False)
    extra_dejson: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def read(cls, connection: Any) -> ConnectionSettings:
        """
        Read a connection's fields; reading its extras masks their secrets, so mind the thread (see the module).

        :param connection: an Airflow connection (Task SDK or ``airflow.models``).
        """
        return cls(
            conn_id=connection.conn_id,
            conn_type=connection.conn_type,
            host=connection.host,
            login=connection.login,
            password=connection.password,
            schema=connection.schema,
            port=connection.port,
            extra=connection.extra,
            extra_dejson=dict(connection.extra_dejson),
        )

    def fingerprint(self) -> str:
        """
        Return a digest of everything here that shapes a client built from it.

        Two reads that give the same fingerprint can share a client; a rotated key, a new ``role_arn`` or a
        new endpoint gives a new one. The digest keeps secrets out of the keys it is used in.
        """
        encoded = json.dumps(asdict(self), sort_keys=True, default=str).encode()
        return hashlib.sha256(encoded).hexdigest()


async def aget_connection_settings(hook_class: type[Any], conn_id: str) -> ConnectionSettings:
    """
    Look up the Airflow connection ``conn_id`` and read its settings, without blocking the running event loop.

    :param hook_class: the hook class whose connection lookup to use (its ``aget_connection`` where it
        has one, else its ``get_connection``).
    :param conn_id: the connection id.
    :raises OptimizationJobConnectionError: no connection has that id.
    """
    return await run_to_completion(_look_up_in_turn(hook_class, conn_id))


async def _look_up_in_turn(hook_class: type[Any], conn_id: str) -> ConnectionSettings:
    line = _lookup_lines.setdefault(asyncio.get_running_loop(), _LookupLine())
    key = (hook_class, conn_id)
    asked_after = line.started
    async with line.lock:
        latest = line.latest.get(key)
        if latest is not None and latest[0] > asked_after:
            return latest[1]
        line.started += 1
        number = line.started
        try:
            async_getter = getattr(hook_class, "aget_connection", None)
            if async_getter is not None:
                settings = ConnectionSettings.read(await async_getter(conn_id))
            else:
                settings = await run_in_worker_thread(_look_up_and_read, hook_class, conn_id)
        except AirflowNotFoundException as error:
            raise missing_connection_error(conn_id) from error
        line.latest[key] = (number, settings)
        return settings


def _look_up_and_read(hook_class: type[Any], conn_id: str) -> ConnectionSettings:
    return ConnectionSettings.read(hook_class.get_connection(conn_id))


def missing_connection_error(conn_id: str) -> OptimizationJobConnectionError:
    """
    Build the error for an ``aws_conn_id`` that names no connection.

    The Amazon provider silently falls back to boto3's default credentials for an unknown connection
    id; a typo in ``aws_conn_id`` should say so instead.

    :param conn_id: the connection id that was not found.
    """
    return OptimizationJobConnectionError(
        f"The Airflow connection {conn_id!r} does not exist. Create it (connection type 'aws'), or pass "
        "aws_conn_id=None to use boto3's default credential chain."
    )
