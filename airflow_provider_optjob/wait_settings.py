"""Checks for the settings of a wait (interval, timeout, not-found grace), made when a task is defined."""

from __future__ import annotations


def validate_wait_settings(*, poke_interval: float, timeout: float, grace: float) -> None:
    """
    Reject wait settings that cannot work, with a message naming the setting.

    :param poke_interval: seconds between two checks; must be positive.
    :param timeout: seconds to wait in all; must be positive and at least ``poke_interval``.
    :param grace: seconds to tolerate a job that is not found yet; must not be negative.
    :raises ValueError: naming the bad setting and its value.
    """
    for name, value in (
        ("poke_interval", poke_interval),
        ("timeout", timeout),
        ("not_found_grace_period", grace),
    ):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{name} must be a number of seconds, got {value!r}.")
    if poke_interval <= 0:
        raise ValueError(f"poke_interval must be more than 0 seconds, got {poke_interval!r}.")
    if timeout <= 0:
        raise ValueError(f"timeout must be more than 0 seconds, got {timeout!r}.")
    if timeout < poke_interval:
        raise ValueError(
            f"timeout ({timeout!r} s) is shorter than poke_interval ({poke_interval!r} s): the job would be "
            "checked at most once. Raise the timeout or lower the interval."
        )
    if grace < 0:
        raise ValueError(f"not_found_grace_period must not be negative, got {grace!r}.")
