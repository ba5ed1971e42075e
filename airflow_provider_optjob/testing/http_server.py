"""A threaded WSGI server that keeps HTTP/1.1 connections open between requests, as AWS endpoints do.

werkzeug's development server closes every connection after one request (``http.server`` cannot tell where an
unread request body ends), so a client's connection pool would open a connection per call: a cost that real
SageMaker does not impose. This server bounds each request body by its ``Content-Length``, reads what the
application left of it, and then waits on the same connection for the next request. A connection closes when
the client asks for it, when a request has no length the server can trust (a chunked body), when a response
has no ``Content-Length``, after :data:`IDLE_CONNECTION_SECONDS` without a request, and when the server stops.
"""

from __future__ import annotations

import contextlib
import socket
import socketserver
import sys
import threading
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_to_bytes
from wsgiref.handlers import SimpleHandler
from wsgiref.util import is_hop_by_hop

from werkzeug.wsgi import LimitedStream  # noqa: TID253

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

#: Seconds an idle connection stays open; a client that finds it closed opens another.
IDLE_CONNECTION_SECONDS = 30.0
#: The longest request line read, as ``http.server`` allows.
MAX_REQUEST_LINE = 65536
#: The environ key of the connection's socket (the emulator's ``connection_reset`` fault drops it).
SOCKET_KEY = "werkzeug.socket"


class KeepAliveWSGIServer(socketserver.ThreadingMixIn, socketserver.TCPServer):
    """Serve a WSGI application, one thread per connection, connections kept open.

    :param address: ``(host, port)`` to bind; port ``0`` picks a free one.
    :param app: the WSGI application.
    :param log_request: called after each request with the handler, the status code and the environ, if given.
    """

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        app: WSGIApplication,
        log_request: Callable[[BaseHTTPRequestHandler, str, WSGIEnvironment], None] | None = None,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _KeepAliveHandler)
        self.app = app
        self.log_request = log_request
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        #: Connections accepted so far.
        self.connections_accepted = 0

    def opened(self, sock: socket.socket) -> None:
        """Note a connection a handler serves."""
        with self._lock:
            self._open.add(sock)
            self.connections_accepted += 1

    def closed(self, sock: socket.socket) -> None:
        """Forget a connection its handler has finished with."""
        with self._lock:
            self._open.discard(sock)

    def connection_counts(self) -> dict[str, int]:
        """Return how many connections the server has accepted so far (``accepted``) and holds now (``open``)."""
        with self._lock:
            return {"accepted": self.connections_accepted, "open": len(self._open)}

    def close_connections(self) -> None:
        """Shut every open connection down: a handler waiting for its next request then ends."""
        with self._lock:
            sockets = list(self._open)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _ResponseWriter(SimpleHandler):
    """wsgiref's handler for one request: writes the status line, the headers and the body."""

    http_version = "1.1"
    origin_server = True
    os_environ: dict[str, str] = {}

    def __init__(self, request: _KeepAliveHandler, body: Any, environ: WSGIEnvironment) -> None:
        wfile: Any = request.wfile
        super().__init__(body, wfile, sys.stderr, environ, multithread=True, multiprocess=False)
        self.request = request
        #: The response's status line, once sent (``None``: the application failed before it answered).
        self.sent_status: str | None = None
        #: The environ the application was given (a copy of the request's, with what the application added).
        self.app_environ: WSGIEnvironment = environ

    def cleanup_headers(self) -> None:
        """Complete the headers; say ``Connection: close`` when the connection ends after this response."""
        super().cleanup_headers()
        headers: Any = getattr(self, "headers")  # noqa: B009  (set by wsgiref's start_response)
        if "Content-Length" not in headers:
            self.request.close_connection = True  # the client reads the body until the connection closes
        if self.request.close_connection:
            headers["Connection"] = "close"

    def close(self) -> None:
        """Finish the response, keeping its status and environ (wsgiref clears them) for the request's log."""
        state: Any = self  # set by wsgiref as the response goes out
        self.sent_status = state.status
        self.app_environ = state.environ or self.app_environ
        super().close()


class _KeepAliveHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = IDLE_CONNECTION_SECONDS
    server: KeepAliveWSGIServer

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def handle(self) -> None:
        with contextlib.suppress(ConnectionError, TimeoutError):
            super().handle()

    def handle_one_request(self) -> None:
        self.raw_requestline = self.rfile.readline(MAX_REQUEST_LINE + 1)
        if not self.raw_requestline:
            self.close_connection = True
            return
        if len(self.raw_requestline) > MAX_REQUEST_LINE:
            self.send_error(414)
            return
        if not self.parse_request():
            return
        body = self._request_body()
        environ = self._environ(body)
        writer = _ResponseWriter(self, body, environ)
        writer.run(_without_hop_by_hop_headers(self.server.app))
        if writer.sent_status is None:
            self.close_connection = True  # the application failed before it answered
        if self.server.log_request is not None:
            self.server.log_request(self, (writer.sent_status or "500").split(" ", 1)[0], writer.app_environ)
        if not self.close_connection:
            body.exhaust()
        self.wfile.flush()

    def _request_body(self) -> LimitedStream:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True  # where such a body ends is not known here
        length = self.headers.get("Content-Length", "0")
        rfile: Any = self.rfile
        return LimitedStream(rfile, int(length) if length.isdigit() else 0)

    def _environ(self, body: LimitedStream) -> WSGIEnvironment:
        path, _, query = self.path.partition("?")
        host, port = self.server.server_address[:2]
        environ: dict[str, Any] = {
            "REQUEST_METHOD": self.command,
            "SCRIPT_NAME": "",
            "PATH_INFO": _wsgi_path(path),
            "QUERY_STRING": query,
            "SERVER_NAME": str(host),
            "SERVER_PORT": str(port),
            "SERVER_PROTOCOL": self.request_version,
            "REMOTE_ADDR": self.client_address[0],
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
            SOCKET_KEY: self.connection,
        }
        if "Content-Type" in self.headers:
            environ["CONTENT_TYPE"] = self.headers["Content-Type"]
        if "Content-Length" in self.headers:
            environ["CONTENT_LENGTH"] = self.headers["Content-Length"]
        for name, value in self.headers.items():
            key = "HTTP_" + name.upper().replace("-", "_")
            if key not in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
                environ[key] = f"{environ[key]},{value}" if key in environ else value
        return environ

    def log_message(self, format: str, *args: Any) -> None:
        """Say nothing of each request: the server's ``log_request`` callback does, when given."""


def _wsgi_path(path: str) -> str:
    """Return the request path as WSGI wants it: percent-decoded, then as latin-1 text."""
    return unquote_to_bytes(path).decode("latin-1")


def _without_hop_by_hop_headers(app: WSGIApplication) -> WSGIApplication:
    """Wrap ``app`` so that the connection headers it sets (a proxy's habit) are left to the server."""

    def wrapped(environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            kept = [(name, value) for name, value in headers if not is_hop_by_hop(name)]
            return start_response(status, kept, exc_info)

        return app(environ, start)

    return wrapped
