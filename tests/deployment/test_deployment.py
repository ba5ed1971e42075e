"""Deferrable sensors and create-and-wait operators in a real deployment, through every connection store.

A real scheduler, triggerer (and on Airflow 3 DAG processor and API server) run the test DAG: 10 sensors and 3
create-and-wait operators, all deferrable, spread over the metadata DB, the secrets backend and an environment
variable. Every task must succeed on its first try after deferring; the triggerer's log must show no crashed
runner, no traceback and no blocked event loop; no job may be stopped.
"""

from __future__ import annotations

import time

import pytest

from tests.deployment import scenario

pytestmark = [
    pytest.mark.deployment,
    pytest.mark.timeout(900),
]

TEST_NAME = "deployment"


def test_deferrable_tasks_through_every_connection_store(deployment_factory):
    record = scenario.RunRecord(TEST_NAME, "Deferrable waits in a real deployment", scenario.make_plan())
    plan, mark = record.plan, record.mark
    observation = None
    error = None
    deferred_window = None

    with deployment_factory() as deployment:
        mark(f"deployment started {deployment.timings}")
        watcher = None
        try:
            scenario.prepare_jobs(deployment, plan)
            _, watcher = scenario.start_run(deployment, plan)
            mark("run triggered")
            watcher.wait_for(
                lambda seen: scenario.all_checked_their_jobs(plan, seen),
                scenario.DEFAULT_TIMEOUT,
                "every task to defer",
                deployment.check_alive,
            )
            mark(f"all {len(plan.jobs)} tasks deferred")
            all_deferred_at = time.time()
            time.sleep(scenario.CONCURRENT_WAIT_SECONDS)  # every trigger polls, all at once, for a while
            deferred_window = (all_deferred_at, time.time())
            scenario.finish_jobs(deployment, plan)
            mark("jobs completed")
            observation = deployment.wait_run_finished(watcher, scenario.DEFAULT_TIMEOUT)
            mark(f"run {observation.state}")
        except Exception as exc:  # reported per store below, then asserted
            error = f"{type(exc).__name__}: {exc}"
            observation = watcher.stop() if watcher else None
        findings = scenario.collect_findings(
            deployment, error, scenario.HARD_LOG_PATTERNS, deferred_window=deferred_window
        )
        scenario.report_run(record, deployment, observation, findings)
        scenario.expect_no_blocked_loop(deployment)
