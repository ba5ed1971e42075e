"""Which environment values of a job are secrets: by what their key says, or by what the value looks like.

A job's environment carries model-hub tokens and other credentials under any key a team chose
(``HF_TOKEN``, ``MODEL_HUB_CREDENTIAL``, ``DOWNLOAD_AUTH``...). A value is a secret when its key names a secret
(Airflow's own words, the deployment's ``[core] sensitive_var_conn_names``, and a few more such as
``credential``, ``auth`` and ``key``), or when the value itself looks like one: a Hugging Face token, an AWS
access key id or secret key, a JSON Web Token, a GitHub or OpenAI-style API key, or a long random string. A
short plain value (``awq``, ``1``, ``fp16``) is never a secret.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Collection

#: Words that make a key's value a secret wherever they stand in the key (compared without case): Airflow's own
#: list of sensitive field names, and words that keys of model-hub credentials use.
SENSITIVE_KEY_WORDS: tuple[str, ...] = (
    "access_token",
    "api_key",
    "apikey",
    "auth",
    "credential",
    "key",
    "passphrase",
    "passwd",
    "password",
    "private",
    "secret",
    "service_account",
    "session",
    "signature",
    "token",
)

#: Values shorter than this are never secrets (Airflow's masker ignores them too).
MIN_SECRET_LENGTH = 5

_SECRET_SHAPES = tuple(
    re.compile(pattern)
    for pattern in (
        r"hf_[A-Za-z0-9_-]{8,}",  # Hugging Face access token
        r"(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}",  # AWS access key id
        r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*",  # JSON Web Token
        r"(ghp|gho|ghu|ghs|ghr|github_pat)_[A-Za-z0-9_]{16,}",  # GitHub token
        r"(sk|pk|rk)-[A-Za-z0-9_-]{16,}",  # OpenAI-style API key
        r"(?=[A-Za-z0-9/+=]*[0-9])(?=[A-Za-z0-9/+=]*[a-z])(?=[A-Za-z0-9/+=]*[A-Z])[A-Za-z0-9/+=]{40}",  # AWS secret
    )
)
_RANDOM_ALPHABET = re.compile(r"[A-Za-z0-9_+/=-]+")
#: A random-looking string: at least this long, and at least this many bits of entropy per character.
_RANDOM_MIN_LENGTH = 24
_RANDOM_MIN_BITS_PER_CHARACTER = 3.5


def key_is_sensitive(key: str, extra_words: Collection[str] = ()) -> bool:
    """
    Tell whether a key names a secret.

    :param key: the environment variable's name.
    :param extra_words: more words or names that mark a secret (the deployment's ``sensitive_var_conn_names``, a
        task's ``sensitive_environment_keys``), compared without case.
    """
    lowered = key.lower()
    return any(word in lowered for word in SENSITIVE_KEY_WORDS) or any(
        word.strip().lower() in lowered for word in extra_words if word.strip()
    )


def value_looks_secret(value: str) -> bool:
    """
    Tell whether a value looks like a credential, whatever its key.

    :param value: the environment variable's value.
    """
    if len(value) < MIN_SECRET_LENGTH:
        return False
    if any(shape.fullmatch(value) for shape in _SECRET_SHAPES):
        return True
    return _looks_random(value)


def is_secret(key: str, value: str, extra_words: Collection[str] = ()) -> bool:
    """
    Tell whether an environment value is a secret, by its key or by its shape; short values never are.

    :param key: the environment variable's name.
    :param value: its value.
    :param extra_words: more words or names that mark a secret key (see :func:`key_is_sensitive`).
    """
    if len(value) < MIN_SECRET_LENGTH:
        return False
    return key_is_sensitive(key, extra_words) or value_looks_secret(value)


def _looks_random(value: str) -> bool:
    if len(value) < _RANDOM_MIN_LENGTH or _RANDOM_ALPHABET.fullmatch(value) is None:
        return False
    if not (any(c.isdigit() for c in value) and any(c.isalpha() for c in value)):
        return False
    counts = Counter(value)
    entropy = -sum(n / len(value) * math.log2(n / len(value)) for n in counts.values())
    return entropy >= _RANDOM_MIN_BITS_PER_CHARACTER
