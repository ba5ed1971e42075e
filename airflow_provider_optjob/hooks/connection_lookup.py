"""Look up an Airflow connection from async code (the triggerer) the way each Airflow version supports it.

Where Airflow's Task SDK offers ``BaseHook.aget_connection`` (Airflow 3.1 and later), it is awaited on
the running loop: its exchange with the triggerer's supervisor is async, and the SDK runs secrets
backends that have no async method in a worker thread of its own.

Elsewhere (Airflow 3.0 and 2.x) the synchronous lookup runs in a worker thread through
:func:`~airflow_provider_optjob.hooks.worker_thread.run_in_worker_thread`, the one way a thread of ours may
reach the supervisor's channel on Airflow 3.0 (its module says why). On Airflow 2 the lookup is a metadata DB
query or a secrets backend call that blocks, so it too belongs in a worker thread.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from airflow_provider_optjob.compat import AirflowNotFoundException
from airflow_provider_optjob.exceptions import OptimizationJobConnectionError
from airflow_provider_optjob.hooks.worker_thread import run_in_worker_thread

_CONNECTION_FIELDS = ("conn_type", "host", "login", "password", "schema", "port", "extra")


async def aget_connection(hook_class: type[Any], conn_id: str) -> Any:
    """
    Return the Airflow connection ``conn_id`` without blocking the running event loop.

    :param hook_class: the hook class whose connection lookup to use (its ``aget_connection`` where it
        has one, else its ``get_connection``).
    :param conn_id: the connection id.
    :raises OptimizationJobConnectionError: no connection has that id.
    """
    try:
        async_getter = getattr(hook_class, "aget_connection", None)
        if async_getter is not None:
            return await async_getter(conn_id)
        return await run_in_worker_thread(hook_class.get_connection, conn_id)
    except AirflowNotFoundException as error:
        raise missing_connection_error(conn_id) from error


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


def connection_fingerprint(connection: Any) -> str:
    """
    Return a digest of everything in a connection that shapes a client built from it.

    Two lookups that give the same fingerprint can share a client; a rotated key, a new ``role_arn`` or a
    new endpoint gives a new one. The digest keeps secrets out of the keys it is used in.

    :param connection: an Airflow connection, or ``None`` (no connection: boto3's default chain).
    """
    if connection is None:
        return ""
    fields = {name: getattr(connection, name, None) for name in _CONNECTION_FIELDS}
    encoded = json.dumps(fields, sort_keys=True, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()
