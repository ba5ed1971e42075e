"""The fault matrix's table: each row with its result, printed at the end of the session.

A pytest plugin of the root conftest, so that the controller of a pytest-xdist run, which collects no test,
still gathers the rows from the reports its workers send.
"""

from __future__ import annotations

import textwrap
from typing import TYPE_CHECKING, Any, cast

import pytest

from tests.faults.matrix import Row

if TYPE_CHECKING:
    from collections.abc import Generator

_ROW_PROPERTY = "fault_row"
_COLUMNS = (("#", 3), ("component", 33), ("fault", 52), ("required outcome", 52), ("result", 14))


#: Each row's result by test id, gathered where the reports arrive (the controller, under pytest-xdist).
_ROW_RESULTS: dict[str, tuple[tuple[str, str, str], str, float]] = {}


def _row_of(item: pytest.Item) -> Row | None:
    callspec = getattr(item, "callspec", None)
    row = callspec.params.get("row") if callspec is not None else None
    return row if isinstance(row, Row) else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """Label the reports of a fault-matrix row (they travel to the controller when pytest-xdist runs the tests)."""
    outcome = yield
    row = _row_of(item)
    if row is not None:
        report: pytest.TestReport = outcome.get_result()
        report.user_properties.append((_ROW_PROPERTY, (row.component, row.fault, row.required)))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    labels = dict(report.user_properties).get(_ROW_PROPERTY)
    if labels is None or not (report.when == "call" or report.failed or report.skipped):
        return
    component, fault, required = (str(label) for label in cast("tuple[object, ...]", labels))
    row = (component, fault, required)
    results = _ROW_RESULTS
    if report.when != "call" and report.nodeid in results:
        if report.failed:  # a teardown error spoils a passed row
            results[report.nodeid] = (row, "ERROR", results[report.nodeid][2])
        return
    result = "PASS" if report.passed else "SKIP" if report.skipped else "FAIL"
    results[report.nodeid] = (row, result, report.duration)


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    results = _ROW_RESULTS
    if not results:
        return
    terminalreporter.section("fault matrix")
    terminalreporter.write_line(" | ".join(title.ljust(width) for title, width in _COLUMNS))
    terminalreporter.write_line("-+-".join("-" * width for _, width in _COLUMNS))
    for number, ((component, fault, required), result, duration) in enumerate(results.values(), start=1):
        cells = [str(number), component, fault, required, f"{result} {duration:5.1f}s"]
        wrapped = [textwrap.wrap(cell, width) or [""] for cell, (_, width) in zip(cells, _COLUMNS, strict=True)]
        for line in range(max(map(len, wrapped))):
            terminalreporter.write_line(
                " | ".join(
                    (lines[line] if line < len(lines) else "").ljust(width)
                    for lines, (_, width) in zip(wrapped, _COLUMNS, strict=True)
                ).rstrip()
            )
    passed = sum(result == "PASS" for _, result, _ in results.values())
    terminalreporter.write_line(f"{passed} of {len(results)} fault-matrix rows passed.")
