"""A task context for calling ``execute`` / ``execute_complete`` directly, recording what is pushed to XCom."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

if TYPE_CHECKING:
    from airflow_provider_optjob.compat import Context


class RecordingTaskInstance:
    """Collects what a task pushes to XCom (the console link and the outcome keys)."""

    def __init__(self) -> None:
        self.pushed: dict[str, Any] = {}

    def xcom_push(self, key: str, value: Any, **kwargs: Any) -> None:
        self.pushed[key] = value


def task_context() -> tuple[Context, RecordingTaskInstance]:
    """Return a context holding a fresh :class:`RecordingTaskInstance`, and that instance."""
    ti = RecordingTaskInstance()
    return cast("Context", {"ti": ti}), ti
