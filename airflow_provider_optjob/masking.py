"""Registering a request's secret environment values with Airflow's secrets masker."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow_provider_optjob.compat import conf, mask_secret
from airflow_provider_optjob.model.config import environment_items
from airflow_provider_optjob.model.secret_values import is_secret

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping


def mask_environment_secrets(config: Mapping[str, Any], extra_sensitive_keys: Collection[str] = ()) -> None:
    """
    Register the request's secret environment values with Airflow's secrets masker.

    A value is a secret when its key names one or when the value looks like one
    (:func:`~airflow_provider_optjob.model.secret_values.is_secret`): the words of Airflow's rule, the
    deployment's ``[core] sensitive_var_conn_names`` and ``extra_sensitive_keys`` mark a key; a token's, key's or
    random string's shape marks a value. Other values, such as ``awq`` or ``1``, are never given to the masker, so
    they are neither hidden nor warned about.

    :param config: the ``CreateOptimizationJob`` request (or a ``DescribeOptimizationJob`` response).
    :param extra_sensitive_keys: more environment variable names whose values are secrets.
    """
    words = [*extra_sensitive_keys, *_deployment_sensitive_names()]
    for key, value in environment_items(config):
        if is_secret(key, value, words):
            mask_secret(value)


def _deployment_sensitive_names() -> list[str]:
    """Read ``[core] sensitive_var_conn_names``: the names a deployment adds to Airflow's sensitive words."""
    names = conf.get("core", "sensitive_var_conn_names", fallback="") or ""
    return [name for name in names.split(",") if name.strip()]
