"""The fault matrix: each row names a component, the fault it meets and the outcome it must reach.

Tests take a row as their ``row`` parameter (``pytest.param(Row(...), id=...)``); ``conftest.py`` records how
each row's test ended and prints the table at the end of the session.
"""

from __future__ import annotations

from dataclasses import dataclass

SENSOR_DEFERRABLE = "sensor (deferrable)"
SENSOR_POKE = "sensor (poke)"
TRIGGER = "trigger"
CREATE_DEFERRABLE = "create operator (deferrable)"
CREATE_ON_WORKER = "create operator (waits on worker)"

#: Sensor DAG suffix (``tests/dag_files/faults_sensor.py``) of each sensor component.
SENSOR_MODES = {SENSOR_DEFERRABLE: "deferrable", SENSOR_POKE: "poke"}
#: Create-operator DAG suffix (``tests/dag_files/faults_create.py``) of each create component.
CREATE_MODES = {CREATE_DEFERRABLE: "deferrable", CREATE_ON_WORKER: "worker"}


@dataclass(frozen=True)
class Row:
    """One row of the fault matrix."""

    component: str
    fault: str
    required: str

    @property
    def mode(self) -> str:
        """The DAG suffix of the row's component (``deferrable``, ``poke`` or ``worker``)."""
        return {**SENSOR_MODES, **CREATE_MODES}[self.component]


def rows_for(components: dict[str, str], fault: str, required: str) -> list[Row]:
    """The same fault and required outcome, one row per component."""
    return [Row(component, fault, required) for component in components]
