from __future__ import annotations

import pytest

from airflow_provider_optjob.model.status import JobPhase, is_terminal, job_phase, trigger_event_status


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        ("COMPLETED", JobPhase.SUCCEEDED),
        ("FAILED", JobPhase.FAILED),
        ("STOPPED", JobPhase.FAILED),
        ("STARTING", JobPhase.RUNNING),
        ("INPROGRESS", JobPhase.RUNNING),
        ("STOPPING", JobPhase.RUNNING),
        ("PAUSED", JobPhase.RUNNING),
        ("Completed", JobPhase.RUNNING),
        (None, JobPhase.RUNNING),
    ],
)
def test_every_status_has_one_meaning(status, phase):
    assert job_phase(status) is phase
    assert is_terminal(status) is (phase is not JobPhase.RUNNING)


@pytest.mark.parametrize(("status", "event"), [("COMPLETED", "success"), ("FAILED", "failed"), ("STOPPED", "stopped")])
def test_terminal_statuses_map_to_event_statuses(status, event):
    assert trigger_event_status(status) == event


def test_a_running_status_has_no_event_status():
    with pytest.raises(ValueError, match="not a terminal"):
        trigger_event_status("INPROGRESS")
