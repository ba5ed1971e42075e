"""The console link of a task that failed before persisting it: an empty URL, found without a "not found" error.

The run itself (a task failing early in ``dag.test()``, its log free of ``XCom not found``) is checked in
``tests/test_readme.py``, in a user's project.
"""

from __future__ import annotations

from types import SimpleNamespace

from airflow_provider_optjob.links.optimization_job import link_xcom_missing

TI_KEY = SimpleNamespace(dag_id="d", task_id="t", run_id="r", map_index=-1, try_number=1)


def test_outside_a_task_the_link_is_read_the_usual_way():
    assert link_xcom_missing("sagemaker_optimization_job", TI_KEY) is False
