"""The settings of a wait (interval, timeout, not-found grace), checked when a task is defined."""

from __future__ import annotations

from datetime import timedelta
from typing import NamedTuple

#: A duration as tasks take it: seconds, or a ``timedelta`` (as Airflow's own sensors accept).
Duration = float | timedelta


class WaitSettings(NamedTuple):
    """A wait's settings, in seconds."""

    poke_interval: float
    timeout: float
    not_found_grace_period: float


def wait_settings(*, poke_interval: Duration, timeout: Duration, grace: Duration) -> WaitSettings:
    """
    Check a wait's settings and return them in seconds; reject settings that cannot work.

    :param poke_interval: time between two checks; must be positive.
    :param timeout: time to wait in all; must be positive and at least ``poke_interval``.
    :param grace: time to tolerate a job that is not found yet; must not be negative.
    :raises ValueError: naming the bad setting and its value.
    """
    seconds = {}
    for name, value in (("poke_interval", poke_interval), ("timeout", timeout), ("not_found_grace_period", grace)):
        if isinstance(value, timedelta):
            value = value.total_seconds()
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number of seconds or a timedelta, got {value!r}.")
        seconds[name] = float(value)
    settings = WaitSettings(seconds["poke_interval"], seconds["timeout"], seconds["not_found_grace_period"])
    if settings.poke_interval <= 0:
        raise ValueError(f"poke_interval must be more than 0 seconds, got {poke_interval!r}.")
    if settings.timeout <= 0:
        raise ValueError(f"timeout must be more than 0 seconds, got {timeout!r}.")
    if settings.timeout < settings.poke_interval:
        raise ValueError(
            f"timeout ({settings.timeout:g} s) is shorter than poke_interval ({settings.poke_interval:g} s): the "
            "job would be checked at most once. Raise the timeout or lower the interval."
        )
    if settings.not_found_grace_period < 0:
        raise ValueError(f"not_found_grace_period must not be negative, got {grace!r}.")
    return settings
