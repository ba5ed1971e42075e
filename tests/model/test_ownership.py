"""Owner tags and derived job names: within AWS's limits, deterministic, round-tripping."""

from __future__ import annotations

import re

import pytest

from airflow_provider_optjob.exceptions import OptimizationJobOwnedElsewhereError
from airflow_provider_optjob.model.name import JOB_NAME_PATTERN, validate_job_name
from airflow_provider_optjob.model.ownership import (
    JobOwner,
    candidate_job_names,
    job_name_for_try,
    tag_value,
    with_owner_tags,
)
from airflow_provider_optjob.waiting.choice import ExistingJob, choice_for_existing

OWNER = JobOwner("nightly", "create", "manual__2026-01-01T00:00:00+00:00", "-1")
AWS_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{0,256}$")


class TestTagValues:
    def test_run_ids_keep_their_characters(self):
        assert tag_value("scheduled__2026-01-01T00:00:00.123456+00:00") == "scheduled__2026-01-01T00:00:00.123456+00:00"

    def test_characters_aws_refuses_become_underscores(self):
        assert tag_value("dag#1 (copy)*") == "dag_1 _copy__"

    def test_long_values_are_cut_with_a_digest_that_keeps_them_apart(self):
        first, second = tag_value("x" * 300 + "a"), tag_value("x" * 300 + "b")

        assert len(first) == len(second) == 256
        assert first != second
        assert AWS_TAG_VALUE.match(first)


class TestOwner:
    def test_tags_name_the_owner_and_the_try_and_read_back(self):
        tags = OWNER.tags(try_number=3)

        assert {tag["Key"]: tag["Value"] for tag in tags}["airflow:try_number"] == "3"
        assert JobOwner.from_tags(tags) == OWNER
        assert all(AWS_TAG_VALUE.match(tag["Value"]) for tag in tags)

    def test_a_job_without_every_owner_tag_has_no_owner(self):
        assert JobOwner.from_tags([{"Key": "airflow:dag_id", "Value": "nightly"}]) is None

    def test_owner_tags_replace_user_tags_of_the_same_key_and_keep_the_others(self):
        config = {"Tags": [{"Key": "airflow:dag_id", "Value": "forged"}, {"Key": "team", "Value": "ml"}]}

        tags = with_owner_tags(config, OWNER, try_number=1)["Tags"]

        assert {"Key": "team", "Value": "ml"} in tags
        assert [tag["Value"] for tag in tags if tag["Key"] == "airflow:dag_id"] == ["nightly"]


class TestDerivedNames:
    @pytest.mark.parametrize("base", ["quantize", "a" * 63, "a" * 60 + "--b", "x-" * 31 + "y"])
    @pytest.mark.parametrize("try_number", [2, 9, 10, 123])
    def test_derived_names_follow_the_api_rule_and_are_deterministic(self, base, try_number):
        name = job_name_for_try(base, try_number)

        assert validate_job_name(name) == name, JOB_NAME_PATTERN
        assert name.endswith(f"-r{try_number}")
        assert name == job_name_for_try(base, try_number)

    def test_candidates_are_earlier_names_newest_first(self):
        assert candidate_job_names("quantize", 3) == ["quantize-r3", "quantize-r2", "quantize"]
        assert candidate_job_names("quantize", 1) == ["quantize"]


class TestChoiceForExisting:
    @pytest.mark.parametrize(
        ("status", "created_by_try", "if_exists", "expected"),
        [
            ("INPROGRESS", "1", "attach", ("quantize", False)),
            ("COMPLETED", "1", "attach", ("quantize", False)),
            ("FAILED", "1", "attach", ("quantize-r2", True)),
            ("STOPPED", "1", "fail", ("quantize-r2", True)),
            ("FAILED", "2", "attach", ("quantize", False)),
        ],
        ids=["running", "completed", "failed-earlier", "stopped-earlier-fail-mode", "failed-this-try"],
    )
    def test_own_jobs(self, status, created_by_try, if_exists, expected):
        existing = ExistingJob("quantize", status, OWNER, created_by_try)

        choice = choice_for_existing(existing, OWNER, 2, if_exists, "quantize")

        assert (choice.name, choice.create) == expected

    def test_another_map_index_is_another_owner(self):
        other = JobOwner(OWNER.dag_id, OWNER.task_id, OWNER.run_id, "4")

        with pytest.raises(OptimizationJobOwnedElsewhereError, match="map_index=4"):
            choice_for_existing(ExistingJob("quantize", "INPROGRESS", other, "1"), OWNER, 1, "attach", "quantize")
