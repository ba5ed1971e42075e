"""Held jobs and ``advance_job``: jobs that move only when the test moves them, through the real boto3 client.

A held job's statuses do not depend on the clock, so nothing here races a loaded machine. The scripted durations
are kept tiny on purpose: a held job that moved on its own would show it at once.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
from botocore.exceptions import ClientError

from airflow_provider_optjob.testing import EmulatorControlError

if TYPE_CHECKING:
    from airflow_provider_optjob.testing.emulator import SageMakerEmulator

#: Durations a held job must ignore: were it timed, it would have ended after 30 ms.
TINY = {"starting_seconds": 0.01, "inprogress_seconds": 0.02}


def status_of(client: Any, name: str) -> str:
    return str(client.describe_optimization_job(OptimizationJobName=name)["OptimizationJobStatus"])


def job_of(emulator: SageMakerEmulator, name: str) -> dict[str, Any]:
    (job,) = [job for job in emulator.control.jobs() if job["name"] == name]
    return job


def test_a_held_job_stays_in_starting_however_long_its_plan_says(sm, emulator, job_request):
    emulator.control.script_job("held-start", "COMPLETED", hold=True, **TINY)
    sm.create_optimization_job(**job_request("held-start"))

    time.sleep(0.1)  # were the job timed, it would have ended by now

    described = sm.describe_optimization_job(OptimizationJobName="held-start")
    assert described["OptimizationJobStatus"] == "STARTING"
    assert described["LastModifiedTime"] == described["CreationTime"]
    assert "OptimizationStartTime" not in described
    job = job_of(emulator, "held-start")
    assert job["held"] is True
    assert job["upcoming"] == ["INPROGRESS", "COMPLETED"]
    assert [phase["end"] for phase in job["phases"]] == [None]


def test_advance_walks_the_plan_to_completed_and_stops_there(sm, emulator, job_request):
    control = emulator.control
    control.script_job("walked", "COMPLETED", hold=True, **TINY)
    sm.create_optimization_job(**job_request("walked"))
    time.sleep(0.1)  # distinct timestamps for each status; were the job timed, it would have ended by now
    assert status_of(sm, "walked") == "STARTING"

    assert control.advance_job("walked") == "INPROGRESS"
    time.sleep(0.1)
    in_progress = sm.describe_optimization_job(OptimizationJobName="walked")
    assert in_progress["OptimizationJobStatus"] == "INPROGRESS"  # still: held after the move
    assert in_progress["OptimizationStartTime"] == in_progress["LastModifiedTime"]
    assert "OptimizationEndTime" not in in_progress

    assert control.advance_job("walked") == "COMPLETED"
    completed = sm.describe_optimization_job(OptimizationJobName="walked")
    assert completed["OptimizationJobStatus"] == "COMPLETED"
    assert completed["OptimizationOutput"]["RecommendedInferenceImage"]
    assert completed["CreationTime"] < completed["OptimizationStartTime"] < completed["OptimizationEndTime"]
    assert completed["LastModifiedTime"] == completed["OptimizationEndTime"]

    with pytest.raises(EmulatorControlError) as raised:
        control.advance_job("walked")
    assert raised.value.status == 409
    assert "COMPLETED" in raised.value.message
    assert status_of(sm, "walked") == "COMPLETED"


def test_advance_ends_a_scripted_failure_with_its_reason(sm, emulator, job_request):
    control = emulator.control
    control.script_job("held-fails", "FAILED", failure_reason="ClientError: CUDA OOM", hold=True)
    sm.create_optimization_job(**job_request("held-fails"))

    assert [control.advance_job("held-fails") for _ in range(2)] == ["INPROGRESS", "FAILED"]

    described = sm.describe_optimization_job(OptimizationJobName="held-fails")
    assert (described["OptimizationJobStatus"], described["FailureReason"]) == ("FAILED", "ClientError: CUDA OOM")
    assert "OptimizationOutput" not in described


def test_advance_follows_scripted_phases_and_skips_zero_length_ones(sm, emulator, job_request):
    control = emulator.control
    control.script_job(
        "held-phases", "COMPLETED", hold=True, phases=[("STARTING", 0.01), ("PAUSED", 0), ("INPROGRESS", 0.01)]
    )
    control.script_job("held-paused", "COMPLETED", hold=True, phases=[("PAUSED", 0.01), ("INPROGRESS", 0.01)])
    sm.create_optimization_job(**job_request("held-phases"))
    sm.create_optimization_job(**job_request("held-paused"))

    assert status_of(sm, "held-phases") == "STARTING"
    assert [control.advance_job("held-phases") for _ in range(2)] == ["INPROGRESS", "COMPLETED"]
    assert status_of(sm, "held-paused") == "PAUSED"
    assert [control.advance_job("held-paused") for _ in range(2)] == ["INPROGRESS", "COMPLETED"]


def test_advance_to_a_named_status(sm, emulator, job_request):
    control = emulator.control
    for name in ("skips", "pauses", "fails-early"):
        control.script_job(name, "COMPLETED", hold=True)
        sm.create_optimization_job(**job_request(name))

    assert control.advance_job("skips", to="COMPLETED") == "COMPLETED"
    assert "OptimizationOutput" in sm.describe_optimization_job(OptimizationJobName="skips")

    # A status outside the plan is shown until the job is moved again; then the plan goes on where it was.
    assert control.advance_job("pauses", to="PAUSED") == "PAUSED"
    assert status_of(sm, "pauses") == "PAUSED"
    assert control.advance_job("pauses") == "INPROGRESS"

    # A terminal status ends the plan.
    assert control.advance_job("fails-early", to="FAILED") == "FAILED"
    assert sm.describe_optimization_job(OptimizationJobName="fails-early")["FailureReason"]
    with pytest.raises(EmulatorControlError) as raised:
        control.advance_job("fails-early")
    assert raised.value.status == 409


def test_a_stopped_held_job_stays_stopping_until_advanced(sm, sm_no_retry, emulator, job_request):
    control = emulator.control
    control.script_job("held-stop", "COMPLETED", hold=True, stopping_seconds=0.01)
    sm.create_optimization_job(**job_request("held-stop"))
    control.advance_job("held-stop")

    sm.stop_optimization_job(OptimizationJobName="held-stop")
    time.sleep(0.1)  # were STOPPING timed, it would be over

    assert status_of(sm, "held-stop") == "STOPPING"
    sm.stop_optimization_job(OptimizationJobName="held-stop")  # stopping a STOPPING job is a no-op
    assert status_of(sm, "held-stop") == "STOPPING"
    assert control.advance_job("held-stop") == "STOPPED"
    stopped = sm.describe_optimization_job(OptimizationJobName="held-stop")
    assert stopped["OptimizationJobStatus"] == "STOPPED"
    assert stopped["OptimizationEndTime"] >= stopped["OptimizationStartTime"]
    assert "OptimizationOutput" not in stopped
    with pytest.raises(ClientError) as raised:
        sm_no_retry.stop_optimization_job(OptimizationJobName="held-stop")
    assert raised.value.response["Error"]["Code"] == "ValidationException"


def test_advance_to_stopping_is_a_stop(sm, emulator, job_request):
    control = emulator.control
    control.script_job("stop-by-control", "COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("stop-by-control"))

    assert control.advance_job("stop-by-control", to="STOPPING") == "STOPPING"
    assert control.advance_job("stop-by-control") == "STOPPED"


def test_hold_jobs_holds_every_new_job_unless_its_script_says_otherwise(
    sm, emulator, job_request, wait_for_status, held_jobs
):
    control = emulator.control
    assert control.configure()["hold_jobs"] is True
    control.script_job("runs-anyway", "COMPLETED", hold=False, starting_seconds=0, inprogress_seconds=0.01)
    sm.create_optimization_job(**job_request("held-globally"))
    sm.create_optimization_job(**job_request("runs-anyway"))

    wait_for_status(sm, "runs-anyway", "COMPLETED", timeout=60)
    assert status_of(sm, "held-globally") == "STARTING"
    assert job_of(emulator, "held-globally")["held"] is True
    assert control.advance_job("held-globally") == "INPROGRESS"

    control.reset()
    assert control.configure()["hold_jobs"] is True, "a reset keeps the settings, like the durations"


def test_a_held_job_can_still_be_completed_failed_deleted_and_listed(sm, emulator, job_request, held_jobs):
    control = emulator.control
    for name in ("held-done", "held-broken", "held-waiting"):
        sm.create_optimization_job(**job_request(name))

    control.complete_job("held-done")
    control.fail_job("held-broken", "AlgorithmError: bad weights")

    listed = {
        summary["OptimizationJobName"]: summary["OptimizationJobStatus"]
        for summary in sm.list_optimization_jobs()["OptimizationJobSummaries"]
    }
    assert listed == {"held-done": "COMPLETED", "held-broken": "FAILED", "held-waiting": "STARTING"}
    assert sm.describe_optimization_job(OptimizationJobName="held-broken")["FailureReason"] == (
        "AlgorithmError: bad weights"
    )
    sm.delete_optimization_job(OptimizationJobName="held-done")
    with pytest.raises(sm.exceptions.ResourceNotFound):
        sm.describe_optimization_job(OptimizationJobName="held-done")


def test_an_injected_status_on_a_held_job_is_left_by_advance(sm, emulator, job_request):
    control = emulator.control
    control.script_job("held-injected", "COMPLETED", hold=True)
    sm.create_optimization_job(**job_request("held-injected"))
    control.advance_job("held-injected")

    control.set_job_status("held-injected", "PAUSED")

    assert status_of(sm, "held-injected") == "PAUSED"
    assert control.advance_job("held-injected") == "COMPLETED"  # the step after the INPROGRESS it replaced


def test_scripting_an_existing_job_with_hold_holds_it_where_its_new_timeline_is(sm, emulator, job_request):
    control = emulator.control
    control.script_job("held-later", "COMPLETED", starting_seconds=0, inprogress_seconds=3600)
    sm.create_optimization_job(**job_request("held-later"))

    applied = control.script_job("held-later", "COMPLETED", hold=True, starting_seconds=0, inprogress_seconds=3600)

    assert applied is True
    assert status_of(sm, "held-later") == "INPROGRESS"
    assert job_of(emulator, "held-later")["upcoming"] == ["COMPLETED"]
    assert control.advance_job("held-later") == "COMPLETED"


def test_advance_moves_a_timed_job_on_and_its_plan_keeps_running(sm, emulator, job_request, wait_for_status):
    control = emulator.control
    control.script_job("timed-advance", "COMPLETED", starting_seconds=3600, inprogress_seconds=0.05)
    sm.create_optimization_job(**job_request("timed-advance"))
    assert status_of(sm, "timed-advance") == "STARTING"  # for an hour

    assert control.advance_job("timed-advance") == "INPROGRESS"

    assert job_of(emulator, "timed-advance")["held"] is False
    wait_for_status(sm, "timed-advance", "COMPLETED", timeout=60)  # on its own, 50 ms later


def test_advance_rejects_unknown_jobs_and_bad_targets(emulator):
    control = emulator.control
    with pytest.raises(EmulatorControlError) as raised:
        control.advance_job("no-such-job")
    assert raised.value.status == 404
    with pytest.raises(EmulatorControlError) as raised:
        control.advance_job("no-such-job", to="")
    assert raised.value.status == 400
    with pytest.raises(EmulatorControlError) as raised:
        control.configure(hold_jobs="yes")
    assert raised.value.status == 400
    with pytest.raises(EmulatorControlError) as raised:
        control._request("POST", control._job_path("x", "script"), {"hold": "yes"})
    assert raised.value.status == 400
