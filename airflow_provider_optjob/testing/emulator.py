"""Serve the emulator in a background thread of the current process.

Its server keeps connections open between requests, as SageMaker's endpoints do
(:mod:`~airflow_provider_optjob.testing.http_server`).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING

from airflow_provider_optjob.testing.app import REQUEST_ENTRY_KEY, EmulatorApp
from airflow_provider_optjob.testing.control import EmulatorControl
from airflow_provider_optjob.testing.http_server import KeepAliveWSGIServer
from airflow_provider_optjob.testing.optimization_jobs import Durations

if TYPE_CHECKING:
    from collections.abc import Callable
    from http.server import BaseHTTPRequestHandler
    from types import TracebackType

    from _typeshed.wsgi import WSGIEnvironment
    from typing_extensions import Self


def _log_request(handler: BaseHTTPRequestHandler, code: str, environ: WSGIEnvironment) -> None:
    """Write an access-log line to stderr, naming the AWS operation and the job where the request has them."""
    entry = environ.get(REQUEST_ENTRY_KEY)
    if isinstance(entry, dict) and entry.get("operation"):
        job = f" {entry['job_name']}" if entry.get("job_name") else ""
        error = f" {entry['error_code']}" if entry.get("error_code") else ""
        what = f'"{entry["operation"]}{job}" {code}{error}'
    else:
        what = f'"{handler.requestline}" {code}'
    sys.stderr.write(f"{handler.address_string()} - - [{handler.log_date_time_string()}] {what}\n")


class SageMakerEmulator:
    """A local SageMaker endpoint (optimization jobs emulated, everything else served by moto).

    Use as a context manager, or call :meth:`start` / :meth:`stop`::

        with SageMakerEmulator(starting_seconds=0.2, inprogress_seconds=0.5) as emulator:
            client = boto3.client("sagemaker", endpoint_url=emulator.url, region_name="us-east-1")
            emulator.control.script_job("my-job", final_status="FAILED", failure_reason="OOM")

    :param host: the address to bind.
    :param port: the port to bind; ``0`` picks a free port.
    :param starting_seconds: default time a new job spends in ``STARTING``.
    :param inprogress_seconds: default time a new job spends in ``INPROGRESS``.
    :param stopping_seconds: default time a stopped job spends in ``STOPPING``.
    :param log_requests: write an access-log line to stderr for every request.
    :param clock: the time source (epoch seconds) of the job and fault model.
    :param credential_lifetime_seconds: lifetime of the credentials STS ``AssumeRole``,
        ``AssumeRoleWithWebIdentity`` and ``AssumeRoleWithSAML`` issue (their ``Expiration`` says so, and
        requests signed with them are rejected with ``ExpiredTokenException`` once expired); a shorter
        requested ``DurationSeconds`` wins. ``None`` keeps moto's lifetime (``DurationSeconds``, one hour by
        default).
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        starting_seconds: float = 1.0,
        inprogress_seconds: float = 4.0,
        stopping_seconds: float = 1.0,
        log_requests: bool = False,
        clock: Callable[[], float] = time.time,
        credential_lifetime_seconds: float | None = None,
    ) -> None:
        self.host = host
        self._requested_port = port
        self.log_requests = log_requests
        self.app = EmulatorApp(
            Durations(
                starting_seconds=starting_seconds,
                inprogress_seconds=inprogress_seconds,
                stopping_seconds=stopping_seconds,
            ),
            clock=clock,
            credential_lifetime_seconds=credential_lifetime_seconds,
        )
        self._server: KeepAliveWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._control: EmulatorControl | None = None

    @property
    def running(self) -> bool:
        """Tell whether the server is serving."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def connections_accepted(self) -> int:
        """Return how many TCP connections the server has accepted (clients keep them open between requests)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return self._server.connections_accepted

    @property
    def port(self) -> int:
        """Return the port the server listens on (known once started)."""
        if self._server is None:
            raise RuntimeError("the emulator is not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the endpoint URL for boto3 / the Airflow connection, e.g. ``http://127.0.0.1:5055``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def control(self) -> EmulatorControl:
        """Return an :class:`~airflow_provider_optjob.testing.control.EmulatorControl` for this emulator (over HTTP)."""
        if self._control is None:
            self._control = EmulatorControl(self.url)
        return self._control

    def start(self) -> Self:
        """Bind and serve in a daemon thread; return at once, ready to answer.

        :raises OSError: if the address cannot be bound.
        """
        if self._server is not None:
            return self
        server = KeepAliveWSGIServer(
            (self.host, self._requested_port), self.app, _log_request if self.log_requests else None
        )
        self.app.connection_counts = server.connection_counts
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.1}, name="sagemaker-emulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release the port (idempotent)."""
        server, thread = self._server, self._thread
        self._server, self._thread, self._control = None, None, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        server.close_connections()
        if thread is not None:
            thread.join(timeout=5)

    def wait(self) -> None:
        """Block until the server thread ends (it ends when :meth:`stop` is called from another thread)."""
        thread = self._thread
        if thread is not None:
            thread.join()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return f"SageMakerEmulator({where})"
