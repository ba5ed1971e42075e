"""ListOptimizationJobs as a watcher uses it: stable pages while jobs change, a List that lags behind Describe."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from airflow_provider_optjob.testing.control import EmulatorControlError


def names_of(page: dict[str, Any]) -> list[str]:
    return [summary["OptimizationJobName"] for summary in page["OptimizationJobSummaries"]]


def test_pages_neither_skip_nor_repeat_jobs_created_between_two_page_requests(sm, job_request):
    for index in range(5):
        sm.create_optimization_job(**job_request(f"paged-{index}"))

    first = sm.list_optimization_jobs(MaxResults=2)  # newest first
    sm.create_optimization_job(**job_request("paged-late-a"))
    sm.create_optimization_job(**job_request("paged-late-b"))
    second = sm.list_optimization_jobs(MaxResults=2, NextToken=first["NextToken"])
    third = sm.list_optimization_jobs(MaxResults=2, NextToken=second["NextToken"])

    assert names_of(first) + names_of(second) + names_of(third) == [f"paged-{index}" for index in (4, 3, 2, 1, 0)]
    assert "NextToken" not in third


def test_last_modified_window_and_status_filter(sm, job_request, emulator):
    emulator.control.script_job("window-old", "COMPLETED", hold=True)  # unchanged until the test ends
    sm.create_optimization_job(**job_request("window-old"))
    sm.create_optimization_job(**job_request("window-ended"))
    emulator.control.complete_job("window-ended")
    # Whole seconds: older botocore releases send timestamps to this API without their fraction.
    ended = sm.describe_optimization_job(OptimizationJobName="window-ended")["LastModifiedTime"].replace(microsecond=0)

    after_the_end = sm.list_optimization_jobs(LastModifiedTimeAfter=ended + dt.timedelta(seconds=1))
    just_before = sm.list_optimization_jobs(LastModifiedTimeAfter=ended - dt.timedelta(seconds=1))
    completed = sm.list_optimization_jobs(LastModifiedTimeAfter=ended - dt.timedelta(hours=1), StatusEquals="COMPLETED")

    assert names_of(after_the_end) == []
    assert "window-ended" in names_of(just_before)
    assert names_of(completed) == ["window-ended"]


def test_a_lagging_list_does_not_show_what_describe_already_shows(sm, job_request, emulator):
    emulator.control.add_fault("list_lag", "ListOptimizationJobs", lag_seconds=60)
    sm.create_optimization_job(**job_request("lagged"))
    emulator.control.complete_job("lagged")

    assert sm.describe_optimization_job(OptimizationJobName="lagged")["OptimizationJobStatus"] == "COMPLETED"
    assert names_of(sm.list_optimization_jobs()) == []

    emulator.control.clear_faults()
    assert names_of(sm.list_optimization_jobs(StatusEquals="COMPLETED")) == ["lagged"]


def test_a_list_lag_on_every_operation_delays_only_the_list(sm, job_request, emulator):
    fault = emulator.control.add_fault("list_lag", lag_seconds=60)
    sm.create_optimization_job(**job_request("lag-everywhere"))

    assert sm.describe_optimization_job(OptimizationJobName="lag-everywhere")["OptimizationJobName"]
    assert names_of(sm.list_optimization_jobs()) == []
    assert fault["lag_seconds"] == 60.0
    with pytest.raises(EmulatorControlError, match="lag_seconds must be >= 0"):
        emulator.control.add_fault("list_lag", lag_seconds=-1)


def test_a_token_from_another_sort_order_is_rejected(sm, job_request):
    for index in range(3):
        sm.create_optimization_job(**job_request(f"sorted-{index}"))
    token = sm.list_optimization_jobs(MaxResults=1, SortBy="CreationTime")["NextToken"]

    with pytest.raises(ClientError, match="Invalid pagination token"):
        sm.list_optimization_jobs(MaxResults=1, SortBy="Status", NextToken=token)
