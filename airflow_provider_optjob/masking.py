"""Registering a request's secret environment values with Airflow's secrets masker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.compat import mask_secret
from airflow_provider_optjob.model.config import environment_items

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


def mask_environment_secrets(config: Mapping[str, Any], extra_sensitive_keys: Collection[str] = ()) -> None:
    """
    Register the request's secret environment values with Airflow's secrets masker.

    A value is a secret when Airflow's own rule says its key is sensitive (key names containing ``token``,
    ``secret``, ``password``, ``api_key``... plus ``[core] sensitive_var_conn_names``; the masker applies
    the rule when given the key), or when its key is one of ``extra_sensitive_keys`` (compared without case).
    Other values, such as ``awq`` or ``1``, are never masked.

    :param config: the ``CreateOptimizationJob`` request.
    :param extra_sensitive_keys: more environment variable names whose values are secrets.
    """
    extra = {key.lower() for key in extra_sensitive_keys}
    for key, value in environment_items(config):
        if key.lower() in extra:
            mask_secret(value)
        else:
            mask_secret(value, name=key)
