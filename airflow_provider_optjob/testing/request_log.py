"""The emulator's request log: one entry per AWS request, with the access key that signed it."""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable

DEFAULT_MAX_ENTRIES = 10_000


class RequestLog:
    """A bounded, thread-safe log of AWS requests (the oldest entries are dropped first).

    Each entry is a JSON-safe dict: ``seq`` (1, 2, ...), ``time`` (epoch seconds, emulator clock), ``operation``
    (e.g. ``DescribeOptimizationJob``, ``AssumeRole``; ``None`` for REST requests such as S3's), ``service``
    (the SigV4 signing name, e.g. ``sagemaker``, ``sts``; ``None`` when unsigned), ``access_key_id`` (the key
    that signed it, or ``None``), ``status`` (the HTTP status answered; ``None`` if the connection was
    dropped) and ``error_code`` (the error the emulator itself answered with: an injected fault or an
    expired key; ``None`` otherwise, moto's errors included).

    :param clock: the time source (epoch seconds).
    :param max_entries: how many entries to keep.
    """

    def __init__(self, clock: Callable[[], float] = time.time, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        self._lock = threading.Lock()
        self._clock = clock
        self._entries: deque[dict[str, Any]] = deque(maxlen=max_entries)
        self._seq = itertools.count(1)

    def record(self, operation: str | None, service: str | None, access_key_id: str | None) -> dict[str, Any]:
        """Add an entry for a request just received; the caller fills ``status`` / ``error_code`` in later.

        :param operation: the operation name, if known.
        :param service: the SigV4 signing name, if signed.
        :param access_key_id: the signing key, if signed.
        :return: the entry (update it through :meth:`update`).
        """
        with self._lock:
            entry: dict[str, Any] = {
                "seq": next(self._seq),
                "time": self._clock(),
                "operation": operation,
                "service": service,
                "access_key_id": access_key_id,
                "status": None,
                "error_code": None,
            }
            self._entries.append(entry)
            return entry

    def update(self, entry: dict[str, Any], **values: Any) -> None:
        """Set fields of an entry (under the log's lock).

        :param entry: an entry returned by :meth:`record`.
        :param values: the fields to set.
        """
        with self._lock:
            entry.update(values)

    def entries(self, operation: str | None = None) -> list[dict[str, Any]]:
        """Return copies of the entries, oldest first.

        :param operation: only this operation's entries.
        """
        with self._lock:
            return [dict(e) for e in self._entries if operation is None or e["operation"] == operation]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._entries.clear()
