"""Refresh an async session's temporary credentials without blocking the event loop.

For a connection that assumes a role (``role_arn``, SAML or web identity), the Amazon provider's session
factory gives aiobotocore refreshable credentials whose refresh function is synchronous: it calls STS
through boto3. aiobotocore calls that function on the event loop whenever the credentials near their
expiry, which would stall every trigger of the triggerer for the length of an STS round trip. Here the
refresh function is wrapped so that it runs in a worker thread; aiobotocore's own lock still makes
concurrent callers wait for one refresh.
"""

from __future__ import annotations

import inspect
from typing import Any

from airflow_provider_optjob.triggerer_runtime.worker_thread import run_in_worker_thread


def refresh_credentials_off_the_loop(session: Any) -> bool:
    """
    Make the session's refreshable credentials refresh in a worker thread.

    The refresh function reads only the connection it was built from (no Airflow lookups), so running it in
    a thread is safe on every Airflow version.

    :param session: an aiobotocore session, as built by ``AwsBaseHook.get_session(deferrable=True)``.
    :return: whether a synchronous refresh function was found and wrapped.
    """
    credentials: Any = getattr(session, "_credentials", None)
    refresh = getattr(credentials, "_refresh_using", None)
    if refresh is None or inspect.iscoroutinefunction(refresh) or getattr(refresh, "_runs_in_thread", False):
        return False

    async def refresh_in_thread() -> Any:
        return await run_in_worker_thread(refresh)

    refresh_in_thread._runs_in_thread = True  # type: ignore[attr-defined]
    credentials._refresh_using = refresh_in_thread
    return True
