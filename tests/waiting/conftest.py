"""Shared fixtures of the waiting tests: a task logger whose lines the tests can read."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The logger the tests hand to waiting functions as the task's log.
TASK_LOG = logging.getLogger("tests.waiting")


class Lines(logging.Handler):
    """What the task logger received, as formatted lines (Airflow's logging setup keeps ``caplog`` empty)."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


@pytest.fixture
def logged() -> Iterator[Lines]:
    handler = Lines()
    TASK_LOG.addHandler(handler)
    TASK_LOG.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        TASK_LOG.removeHandler(handler)
