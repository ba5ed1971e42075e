from __future__ import annotations

import os
import subprocess
import sys

import pytest

PROBE = """
import gc
from airflow_provider_optjob.triggerer_runtime.gc_freeze import long_lived_setup
frozen_at_start = gc.get_freeze_count()
with long_lived_setup() as first:
    frozen_before_setup = gc.get_freeze_count()
    loaded = [[index] for index in range(1000)]
frozen_after_setup = gc.get_freeze_count()
with long_lived_setup() as second:
    pass
print(first, second, frozen_before_setup > frozen_at_start, frozen_after_setup > frozen_before_setup)
"""


@pytest.mark.parametrize(
    ("setting", "expected"),
    [(None, "False False False False"), ("True", "True False True True"), ("False", "False False False False")],
    ids=["default-off", "turned-on", "turned-off"],
)
def test_first_setup_in_a_process_is_frozen_before_and_after_only_when_turned_on(setting, expected):
    env = dict(os.environ)
    env.pop("AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__FREEZE_GC_AFTER_CLIENT_SETUP", None)
    if setting is not None:
        env["AIRFLOW__SAGEMAKER_OPTIMIZATION_JOB__FREEZE_GC_AFTER_CLIENT_SETUP"] = setting

    completed = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, check=True)

    assert completed.stdout.strip().splitlines()[-1] == expected
