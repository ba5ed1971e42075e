from __future__ import annotations

import math

import pytest
from hypothesis import given  # noqa: TID253
from hypothesis import strategies as st  # noqa: TID253

from airflow_provider_optjob.model.api_errors import (
    MAX_BACKOFF_FACTOR,
    MAX_BACKOFF_SECONDS,
    backoff_cap,
    backoff_delay,
)

FAILURE_COUNTS = [0, 1, 10, 1023, 1024, 10**6, 10**9]
BASE_INTERVALS = [0.05, 0.1, 1.0, 30.0, 60.0, 600.0]
#: Draws per (interval, count) pair: enough to see the spread of the jitter, few enough to stay instant.
DRAWS = 200


@pytest.mark.parametrize("failures", FAILURE_COUNTS)
@pytest.mark.parametrize("base", BASE_INTERVALS)
def test_delay_stays_within_the_cap_and_is_never_negative(base, failures):
    cap = backoff_cap(base)
    delays = [backoff_delay(base, failures) for _ in range(DRAWS)]

    assert all(math.isfinite(delay) for delay in delays)
    assert min(delays) >= 0
    assert max(delays) <= cap


@pytest.mark.parametrize(
    ("base", "cap"),
    [
        (0.05, 0.4),  # 8 intervals
        (1.0, 8.0),
        (30.0, 240.0),
        (60.0, MAX_BACKOFF_SECONDS),  # 8 intervals would be 8 minutes: 5 minutes at most
        (600.0, 600.0),  # never shorter than one interval
    ],
)
def test_cap_is_eight_intervals_at_most_five_minutes_but_never_below_one_interval(base, cap):
    assert backoff_cap(base) == pytest.approx(cap)
    assert backoff_cap(base) == max(base, min(MAX_BACKOFF_FACTOR * base, MAX_BACKOFF_SECONDS))


def test_delay_grows_with_the_failures_in_a_row():
    base = 1.0
    first = [backoff_delay(base, 1) for _ in range(DRAWS)]
    second = [backoff_delay(base, 2) for _ in range(DRAWS)]
    many = [backoff_delay(base, 1024) for _ in range(DRAWS)]

    assert all(1.0 <= delay <= 2.0 for delay in first)
    assert all(2.0 <= delay <= 4.0 for delay in second)
    assert all(4.0 <= delay <= 8.0 for delay in many)


@pytest.mark.parametrize("failures", [1, 1024, 10**9])
def test_delay_is_jittered(failures):
    delays = {backoff_delay(60.0, failures) for _ in range(50)}

    assert len(delays) > 40, "triggers throttled together must not retry in lockstep"


@pytest.mark.parametrize("base", [0.0, -1.0, math.nan])
def test_unusable_interval_gives_no_pause_rather_than_an_error(base):
    assert [backoff_delay(base, failures) for failures in FAILURE_COUNTS] == [0.0] * len(FAILURE_COUNTS)


def test_infinite_interval_is_capped():
    assert 0 <= backoff_delay(math.inf, 10**9) <= MAX_BACKOFF_SECONDS


def test_negative_failure_count_counts_as_none():
    assert 0.5 <= backoff_delay(1.0, -5) <= 1.0


@given(
    base=st.floats(min_value=0, max_value=1e6, allow_nan=False, allow_infinity=False),
    failures=st.integers(min_value=-(10**12), max_value=10**30),
)
def test_any_interval_and_count_give_a_delay_within_the_cap(base, failures):
    delay = backoff_delay(base, failures)

    assert 0 <= delay <= backoff_cap(base)
