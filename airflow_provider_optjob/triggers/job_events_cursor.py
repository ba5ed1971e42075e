"""Which finished jobs an event trigger has fired for, and where that record is kept.

The record (a :class:`JobEventCursor`) is small: the time the trigger first started (``baseline``), the start of
its last complete poll (``polled_at``), and the jobs fired since that poll's window began, each with the time it
finished. A job is fired when it finished after ``baseline``, inside the current List window, and is not in the
record yet. Jobs that finished before the window's start drop out of the record: the List never returns them
again, and a job that finished before the window cannot become new.

:class:`CursorStore` keeps the record in Airflow 3.3's asset state store when the triggerer hands the trigger one,
so a trigger rebuilt after a triggerer restart resumes from it; anywhere else the record lives in the trigger's
memory only. The store is reached through its async Task SDK calls (``aget`` / ``aset``); Airflow 3.3.0 and 3.3.1
offer only the synchronous ``get`` / ``set``, which are used there from the trigger's own task when the triggerer
runs it with a greenback portal: the triggerer's channel then runs the exchange on its loop without blocking it.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_optjob.model.status import TERMINAL_STATUSES

log = logging.getLogger(__name__)

#: The asset state store key prefix; the rest is a digest of what the trigger watches.
STATE_KEY_PREFIX = "sagemaker_optimization_job_events"
_FORMAT_VERSION = 1


@dataclass
class JobEventCursor:
    """
    What an event trigger has done so far.

    :param baseline: when the trigger first started (epoch seconds); jobs that finished earlier never fire.
    :param polled_at: the start of the last complete poll (epoch seconds); the next List reaches back from it.
    :param fired: each job fired whose finishing time is inside the current window, with that time.
    :param passed_over: jobs in the window whose tags did not match, with their finishing time (kept in memory
        only, so that their tags are read once, not at every poll).
    """

    baseline: float
    polled_at: float
    fired: dict[str, float] = field(default_factory=dict)
    passed_over: dict[str, float] = field(default_factory=dict)

    def window_start(self, overlap_seconds: float) -> float:
        """
        Return where the next List starts (``LastModifiedTimeAfter``), in whole epoch seconds.

        :param overlap_seconds: how far before :attr:`polled_at` to reach (List lag plus clock skew).
        """
        return float(int(self.polled_at - overlap_seconds))

    def is_new(self, job_name: str, finished_at: float, window_start: float) -> bool:
        """
        Tell whether a terminal job should fire now.

        :param job_name: the job's name.
        :param finished_at: when it finished (epoch seconds, AWS's clock).
        :param window_start: the start of the List window it was found in.
        """
        return (
            finished_at > self.baseline
            and finished_at >= window_start
            and job_name not in self.fired
            and job_name not in self.passed_over
        )

    def completed_poll(self, started_at: float, overlap_seconds: float) -> None:
        """
        Record a complete poll, and forget jobs that finished before the next window.

        :param started_at: when the poll started (epoch seconds).
        :param overlap_seconds: as for :meth:`window_start`.
        """
        self.polled_at = max(self.polled_at, started_at)
        start = self.window_start(overlap_seconds)
        self.fired = {name: finished for name, finished in self.fired.items() if finished >= start}
        self.passed_over = {name: finished for name, finished in self.passed_over.items() if finished >= start}

    def to_json(self) -> dict[str, Any]:
        """Return the cursor as a JSON-safe dict (what the asset state store keeps)."""
        return {"version": _FORMAT_VERSION, "baseline": self.baseline, "polled_at": self.polled_at, "fired": self.fired}

    @classmethod
    def from_json(cls, value: Any) -> JobEventCursor | None:
        """
        Rebuild a cursor from :meth:`to_json`'s dict; ``None`` for anything else.

        :param value: the stored value.
        """
        if not isinstance(value, dict) or value.get("version") != _FORMAT_VERSION:
            return None
        try:
            fired = {str(name): float(finished) for name, finished in dict(value["fired"]).items()}
            return cls(baseline=float(value["baseline"]), polled_at=float(value["polled_at"]), fired=fired)
        except (KeyError, TypeError, ValueError):
            return None


class CursorStore:
    """
    Load and save an event trigger's cursor: in the asset state store where there is one, else in memory.

    :param asset_state_store: the trigger's ``asset_state_store`` (Airflow 3.3 in the triggerer), or ``None``.
    :param key: the state key (see :func:`state_key`).
    """

    def __init__(self, asset_state_store: Any, key: str) -> None:
        self.key = key
        self._store = _async_store(asset_state_store)
        self._saved_polled_at: float | None = None
        if asset_state_store is not None and self._store is None:
            log.warning(
                "This Airflow's asset state store has no async API and the trigger runs without a greenback portal; "
                "the job event cursor stays in memory."
            )

    @property
    def persistent(self) -> bool:
        """Whether the cursor outlives the trigger (it is kept in the asset state store)."""
        return self._store is not None

    async def load(self, now: float) -> JobEventCursor:
        """
        Return the stored cursor, or a new one starting ``now`` (saved at once, so a restart keeps its baseline).

        :param now: the current time (epoch seconds).
        """
        stored = None
        if self._store is not None:
            try:
                stored = await self._store.aget(self.key, default=None)
            except ValueError as error:  # the trigger watches several assets: no single place to keep it
                self._give_up(error)
        cursor = JobEventCursor.from_json(stored)
        if cursor is None:
            cursor = JobEventCursor(baseline=now, polled_at=now)
            await self.save(cursor)
        elif self._store is not None:
            self._saved_polled_at = cursor.polled_at
        return cursor

    async def save(self, cursor: JobEventCursor) -> None:
        """
        Keep the cursor (a no-op in memory).

        :param cursor: the cursor to keep.
        """
        if self._store is None:
            return
        try:
            await self._store.aset(self.key, cursor.to_json())
        except ValueError as error:
            self._give_up(error)
            return
        self._saved_polled_at = cursor.polled_at

    async def save_if_behind(self, cursor: JobEventCursor, seconds: float) -> None:
        """
        Keep the cursor if the kept one's last poll is more than ``seconds`` older than the cursor's.

        A cursor is kept each time a job fires; without fires, this bounds how far back a restarted trigger's
        first List reaches, at one write per ``seconds``.

        :param cursor: the cursor to keep.
        :param seconds: how far behind the kept cursor may fall.
        """
        if self._saved_polled_at is not None and cursor.polled_at - self._saved_polled_at > seconds:
            await self.save(cursor)

    def _give_up(self, error: ValueError) -> None:
        log.warning("The job event cursor stays in memory: the asset state store refused it (%s).", error)
        self._store = None


class _PortalStore:
    """The synchronous asset state store API, called from a trigger's task that has a greenback portal."""

    def __init__(self, accessor: Any) -> None:
        self._accessor = accessor

    async def aget(self, key: str, default: Any = None) -> Any:
        return self._accessor.get(key, default=default)

    async def aset(self, key: str, value: Any) -> None:
        self._accessor.set(key, value)


def _async_store(asset_state_store: Any) -> Any:
    """Return the store with ``aget`` / ``aset``, or ``None`` where it cannot be reached without blocking the loop."""
    if asset_state_store is None:
        return None
    if callable(getattr(asset_state_store, "aget", None)):
        return asset_state_store
    if callable(getattr(asset_state_store, "get", None)) and _has_greenback_portal():
        return _PortalStore(asset_state_store)
    return None


def _has_greenback_portal() -> bool:
    try:
        import greenback
    except ImportError:
        return False
    return bool(greenback.has_portal())


def state_key(identity: dict[str, Any]) -> str:
    """
    Return the state key of one watch: the same filters and connection give the same key.

    :param identity: what identifies the watch (its filters and connection settings), JSON-safe.
    """
    digest = hashlib.sha256(json.dumps(identity, sort_keys=True, separators=(",", ":")).encode()).hexdigest()
    return f"{STATE_KEY_PREFIX}:{digest[:32]}"


def checked_statuses(statuses: Any) -> list[str]:
    """
    Validate the statuses to fire on: a non-empty subset of ``COMPLETED``, ``FAILED``, ``STOPPED``.

    :param statuses: the statuses given (``None`` for all three).
    :return: them, sorted and without repeats.
    :raises ValueError: a status is not terminal, or none is given.
    """
    if statuses is None:
        return sorted(TERMINAL_STATUSES)
    if isinstance(statuses, str):
        statuses = [statuses]
    chosen = sorted(set(statuses))
    unknown = [status for status in chosen if status not in TERMINAL_STATUSES]
    if unknown or not chosen:
        raise ValueError(
            f"statuses must be a non-empty subset of {sorted(TERMINAL_STATUSES)} (upper case, as the API spells "
            f"them); got {list(statuses)!r}"
        )
    return chosen


def checked_tags(tags: Any) -> dict[str, str]:
    """
    Validate the tags a job must carry: a mapping of tag keys to values, all strings.

    :param tags: the tags given (``None`` for no tag filter).
    :raises ValueError: it is not a mapping of strings.
    """
    if tags is None:
        return {}
    if not isinstance(tags, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in tags.items()):
        raise ValueError(f"tags must map tag keys to values, all strings; got {tags!r}")
    return dict(tags)


def tags_match(wanted: dict[str, str], tags: list[dict[str, Any]]) -> bool:
    """
    Tell whether a job's tags (``ListTags``' ``Tags``) include every wanted key with its value.

    :param wanted: the tag keys and values required.
    :param tags: the job's tags.
    """
    have = {tag.get("Key"): tag.get("Value") for tag in tags}
    return all(have.get(key) == value for key, value in wanted.items())
