"""Which environment values are secrets: by key, by shape, never a short plain value."""

from __future__ import annotations

import pytest

from airflow_provider_optjob.model.secret_values import is_secret, key_is_sensitive, value_looks_secret

HF_TOKEN = "hf_QpLw3nX8rT2vK9mB4cZ7yH1dF6gJ0sAeUq"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJvcHRqb2IifQ.c2lnbmF0dXJlLXZhbHVlLWhlcmU"
AWS_SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
RANDOM = "tvjPg56kBIgYZTi7bdLbNxjKU6mcy-C57OMJqFfZis0"


@pytest.mark.parametrize(
    "key",
    [
        "HF_TOKEN",
        "MODEL_HUB_CREDENTIAL",
        "DOWNLOAD_CREDENTIAL",
        "HUB_AUTH",
        "API_KEY",
        "db_password",
        "CLIENT_SECRET",
        "PRIVATE_BLOB",
    ],
)
def test_keys_that_name_a_secret(key):
    assert key_is_sensitive(key)
    assert is_secret(key, "plain-looking-value")


@pytest.mark.parametrize("key", ["OPTION_QUANTIZE", "OPTION_DTYPE", "HF_MODEL_ID", "OPTION_TENSOR_PARALLEL_DEGREE"])
def test_keys_that_name_no_secret(key):
    assert not key_is_sensitive(key)


def test_a_deployments_own_names_mark_keys_too():
    assert key_is_sensitive("HUB_LOGIN", extra_words=["login"])
    assert not key_is_sensitive("HUB_LOGIN", extra_words=["", "  "])


@pytest.mark.parametrize("value", [HF_TOKEN, JWT, AWS_SECRET_KEY, "AKIAIOSFODNN7EXAMPLE", RANDOM, "ghp_" + "a1" * 18])
def test_values_shaped_like_credentials_are_secrets_under_any_key(value):
    assert value_looks_secret(value)
    assert is_secret("OPTION_WEIGHTS_FROM", value)


@pytest.mark.parametrize(
    "value",
    [
        "awq",
        "1",
        "fp16",
        "meta-llama/Llama-3.1-8B-Instruct",
        "s3://my-models/llama-3-8b/",
        "/opt/ml/model/eagle",
        "djl_python.huggingface",
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ml.g5.2xlarge",
    ],
)
def test_plain_values_are_not_secrets_under_a_plain_key(value):
    assert not is_secret("OPTION_QUANTIZE", value)


@pytest.mark.parametrize("value", ["awq", "1", "abcd"])
def test_short_values_are_never_secrets_even_under_a_secret_key(value):
    assert not is_secret("HF_TOKEN", value)
