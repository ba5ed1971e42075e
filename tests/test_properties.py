"""Property-based tests: the job-name rule, and the outcome dict for any DescribeOptimizationJob response."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta, timezone
from typing import Any

import botocore.session
import pytest
from dateutil import tz  # type: ignore[import-untyped,unused-ignore]

# Tests may import hypothesis at module level; the ban keeps it out of DAG-parse paths.
from hypothesis import HealthCheck, given, settings  # noqa: TID253
from hypothesis import strategies as st  # noqa: TID253

from airflow_provider_optjob.model.name import InvalidOptimizationJobNameError, validate_job_name
from airflow_provider_optjob.model.outcome import OptimizationJobOutcome, build_job_outcome

#: The API's rule for ``OptimizationJobName``, as the reference the validator must agree with.
API_NAME_RULE = r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}"
OUTCOME_KEYS = set(OptimizationJobOutcome.__annotations__)
TIME_KEYS = ("creation_time", "start_time", "end_time")

# --- job names -------------------------------------------------------------------------------------------

#: Characters next to the allowed ones: separators the rule rejects, lookalike letters and digits outside
#: ASCII (fullwidth digits, Kelvin sign, dotless i, accented letters), whitespace and line ends.
NEAR_MISS_ALPHABET = "aZz09-_. /\n\r\t\u00e9\u0131\u0130\u212a\uff13\u0660\u00a0"
name_candidates = st.one_of(
    st.text(alphabet="aZ09-", max_size=70),
    st.text(alphabet=NEAR_MISS_ALPHABET, max_size=70),
    st.text(alphabet="aZ09-", min_size=61, max_size=66),
    st.text(alphabet="a-", min_size=62, max_size=65).map(lambda body: f"a{body}b"),
    st.builds(
        lambda body, odd: body[: len(body) // 2] + odd + body[len(body) // 2 :],
        st.text(alphabet="a0-", min_size=1, max_size=62),
        st.characters(),
    ),
    st.text(max_size=70),
)


def accepted(name: str) -> bool:
    try:
        returned = validate_job_name(name)
    except InvalidOptimizationJobNameError:
        return False
    assert returned == name
    return True


@settings(max_examples=600)
@given(name_candidates)
def test_name_validation_agrees_with_the_api_rule(name):
    assert accepted(name) is (re.fullmatch(API_NAME_RULE, name) is not None)


@pytest.mark.parametrize("length", [62, 63, 64, 65])
def test_name_length_limit_is_63(length):
    assert accepted("a" * length) is (length <= 63)


# --- outcome dict ----------------------------------------------------------------------------------------

_OUTPUT_SHAPE = (
    botocore.session.get_session()
    .get_service_model("sagemaker")
    .operation_model("DescribeOptimizationJob")
    .output_shape
)

TIMEZONES: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.just(timezone.utc),
    st.just(tz.tzutc()),
    st.just(tz.tzlocal()),
    st.integers(min_value=-23 * 60, max_value=23 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes))),
)
#: Timestamps as botocore gives them (aware datetimes), as JSON round trips leave them (ISO strings, epoch
#: seconds), and naive datetimes; across the whole range ``datetime`` allows.
TIMESTAMPS = st.one_of(
    st.datetimes(timezones=TIMEZONES),
    st.datetimes(timezones=TIMEZONES).map(lambda moment: moment.isoformat()),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**63), max_value=2**63),
    st.text(max_size=30),
)
#: Any value at all, for members that hold something the shape does not allow.
JUNK = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.floats(),
        st.text(max_size=20),
        st.binary(max_size=10),
        st.datetimes(timezones=TIMEZONES),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(st.text(max_size=10), children, max_size=3)
    ),
    max_leaves=8,
)


#: Strategies of the scalar shape types, by type name.
SCALAR_STRATEGIES: dict[str, st.SearchStrategy[Any]] = {
    "integer": st.integers(),
    "long": st.integers(),
    "float": st.floats(),
    "double": st.floats(),
    "boolean": st.booleans(),
    "timestamp": TIMESTAMPS,
    "blob": st.binary(max_size=20),
}


def shape_strategy(shape: Any, junk: bool, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values the botocore shape allows; with ``junk``, any member may instead hold any value at all."""
    kind = shape.type_name
    if depth > 8:
        return st.none()
    if kind == "structure":
        return structure_strategy(shape, junk, depth)
    if kind == "list":
        return st.lists(shape_strategy(shape.member, junk, depth + 1), max_size=3)
    if kind == "map":
        return st.dictionaries(
            shape_strategy(shape.key, junk, depth + 1), shape_strategy(shape.value, junk, depth + 1), max_size=3
        )
    if kind == "string":
        text = st.text(max_size=int(shape.metadata.get("max", 64)) if shape.metadata.get("max", 0) < 300 else 300)
        return st.sampled_from(shape.enum) | text if shape.enum else text
    if kind in SCALAR_STRATEGIES:
        return SCALAR_STRATEGIES[kind]
    raise AssertionError(f"no strategy for shape type {kind}")


def structure_strategy(shape: Any, junk: bool, depth: int) -> st.SearchStrategy[Any]:
    """A structure's members, required ones always present; a union holds exactly one."""
    members = {
        name: shape_strategy(member, junk, depth + 1) | (JUNK if junk else st.nothing())
        for name, member in shape.members.items()
    }
    if shape.metadata.get("union"):
        return st.one_of([st.fixed_dictionaries({name: value}) for name, value in members.items()])
    required = set(shape.required_members)
    return st.fixed_dictionaries(
        {name: value for name, value in members.items() if name in required},
        optional={name: value for name, value in members.items() if name not in required},
    )


responses = shape_strategy(_OUTPUT_SHAPE, junk=False)
junk_responses = shape_strategy(_OUTPUT_SHAPE, junk=True)
#: The response without the ``OptimizationStatus`` enum restriction: any status string, say a new one.
responses_with_new_statuses = responses.flatmap(
    lambda response: st.text(max_size=20).map(lambda status: {**response, "OptimizationJobStatus": status})
)


def assert_is_a_valid_outcome(outcome: Any) -> None:
    assert set(outcome) == OUTCOME_KEYS
    assert all(value is None or isinstance(value, str) for value in outcome.values())
    assert isinstance(outcome["job_name"], str)
    assert json.loads(json.dumps(outcome, allow_nan=False)) == outcome
    for key in TIME_KEYS:
        if outcome[key] is not None:
            assert datetime.fromisoformat(outcome[key]).utcoffset() == timedelta(0), key


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(responses, responses_with_new_statuses), st.one_of(st.none(), st.text(max_size=10)))
def test_outcome_of_any_response_the_shape_allows(response, job_name):
    outcome = build_job_outcome(response, job_name)

    assert_is_a_valid_outcome(outcome)
    # An empty string from the API means "absent", so the outcome says None.
    assert outcome["job_name"] == (response["OptimizationJobName"] or job_name or "")
    assert outcome["status"] == (response["OptimizationJobStatus"] or None)
    assert outcome["job_arn"] == (response["OptimizationJobArn"] or None)
    assert outcome["failure_reason"] == (response.get("FailureReason") or None)
    assert outcome["recommended_inference_image"] == (
        response.get("OptimizationOutput", {}).get("RecommendedInferenceImage") or None
    )
    assert outcome["output_s3_uri"] == (response["OutputConfig"]["S3OutputLocation"] or None)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(junk_responses, st.one_of(st.none(), st.text(max_size=10)))
def test_outcome_of_a_response_with_junk_in_known_keys(response, job_name):
    assert_is_a_valid_outcome(build_job_outcome(response, job_name))


def json_round_trip(response: dict[str, Any]) -> Any:
    """The response as a trigger event or XCom carries it: JSON, with datetimes as ISO strings."""
    return json.loads(json.dumps(response, default=lambda value: value.isoformat()))


def no_float_specials(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, dict):
        return all(map(no_float_specials, value.values()))
    if isinstance(value, list):
        return all(map(no_float_specials, value))
    return True


@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(responses.filter(no_float_specials))
def test_outcome_is_the_same_after_a_json_round_trip_of_the_response(response):
    assert build_job_outcome(json_round_trip(response)) == build_job_outcome(response)


#: Timestamps within a day of the ends of ``datetime``'s range, in any time zone.
EXTREME_TIMESTAMPS = st.one_of(
    st.datetimes(max_value=datetime(1, 1, 2), timezones=TIMEZONES),
    st.datetimes(min_value=datetime(9999, 12, 30), timezones=TIMEZONES),
)


@settings(max_examples=200)
@given(st.one_of(EXTREME_TIMESTAMPS, EXTREME_TIMESTAMPS.map(lambda moment: moment.isoformat())))
def test_outcome_of_timestamps_at_the_ends_of_the_range(moment):
    outcome = build_job_outcome(
        {"OptimizationJobName": "edge", "CreationTime": moment, "OptimizationStartTime": moment}, "edge"
    )

    assert_is_a_valid_outcome(outcome)


@pytest.mark.parametrize(
    "moment",
    [
        datetime.min.replace(tzinfo=timezone(timedelta(hours=1))),
        datetime.max.replace(tzinfo=timezone(timedelta(hours=-1))),
        "0001-01-01T00:00:00+01:00",
        "9999-12-31T23:59:59-01:00",
    ],
    ids=["min-east-of-utc", "max-west-of-utc", "min-iso-string", "max-iso-string"],
)
def test_timestamps_that_do_not_fit_in_utc_give_none(moment):
    """A timestamp the shape allows but UTC cannot hold (year 0 or 10000 once converted) is not a crash."""
    outcome = build_job_outcome({"OptimizationJobName": "edge", "CreationTime": moment})

    assert outcome["creation_time"] is None
