"""One import home for what differs between Airflow 2.10+ and Airflow 3.

Newer ``apache-airflow-providers-common-compat`` releases ship ``common.compat.sdk``, which picks the
right location for each name on the running Airflow. The releases that Amazon MWAA pins for Airflow
2.10 predate it, so the Airflow 2 locations are the explicit fallback.
"""

from __future__ import annotations

try:
    from airflow.providers.common.compat.sdk import (
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
        Context,
        PokeReturnValue,
        mask_secret,
    )
except ImportError:  # common-compat < 1.8 (Airflow 2.10 / 2.11 under MWAA constraints)
    from airflow.exceptions import (  # type: ignore[no-redef,attr-defined]
        AirflowException,
        AirflowNotFoundException,
        AirflowSensorTimeout,
        AirflowSkipException,
    )
    from airflow.sensors.base import PokeReturnValue  # type: ignore[no-redef,unused-ignore]
    from airflow.utils.context import Context  # type: ignore[no-redef,attr-defined]
    from airflow.utils.log.secrets_masker import mask_secret  # type: ignore[no-redef,unused-ignore]

__all__ = [
    "AirflowException",
    "AirflowNotFoundException",
    "AirflowSensorTimeout",
    "AirflowSkipException",
    "Context",
    "PokeReturnValue",
    "mask_secret",
]
