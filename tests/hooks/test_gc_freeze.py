from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import gc
frozen_at_start = gc.get_freeze_count()  # not 0 on Python 3.12+
from airflow_provider_optjob.hooks.gc_freeze import freeze_long_lived_objects_once
print(freeze_long_lived_objects_once(), freeze_long_lived_objects_once(), gc.get_freeze_count() > frozen_at_start)
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, "True False True"), ("False", "False False False")],
    ids=["default", "turned-off"],
)
def test_heap_is_frozen_once_per_process_unless_turned_off(setting, expected):
    env = dict(os.environ)
    env.pop("AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__FREEZE_GC_AFTER_CLIENT_SETUP", None)
    if setting is not None:
        env["AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__FREEZE_GC_AFTER_CLIENT_SETUP"] = setting

    completed = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)

    assert completed.stdout.strip().splitlines()[-1] == expected
