"""Keep full garbage collections cheap in the long-running process that polls jobs (the triggerer).

A full collection walks every tracked object in the process, the parsed SageMaker service model and
all of Airflow's modules included; in a triggerer holding a thousand deferred tasks such a pass stalls
the shared event loop for hundreds of milliseconds. Around the setup of the first shared client of a
process, the heap is frozen with :func:`gc.freeze` twice: before (so a collection that the setup's
allocations trigger walks only what the setup made) and after (so the service model and the session it
loaded leave the collector's reach too). Turn it off with ``[sagemaker_optimization_job]
freeze_gc_after_client_setup = False``.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

CONFIG_SECTION = "sagemaker_optimization_job"
CONFIG_OPTION = "freeze_gc_after_client_setup"

_first_setup_claimed = False
_claim_lock = threading.Lock()


@contextmanager
def long_lived_setup() -> Iterator[bool]:
    """
    Wrap the setup of a shared client; the first one in a process is frozen out of the collector's reach.

    :return: (as the context value) whether this setup is frozen.
    """
    global _first_setup_claimed
    with _claim_lock:
        first = not _first_setup_claimed
        _first_setup_claimed = True
    if not first or not _freezing_enabled():
        yield False
        return
    gc.freeze()
    try:
        yield True
    finally:
        gc.freeze()


def _freezing_enabled() -> bool:
    from airflow_provider_optjob.compat import conf

    return bool(conf.getboolean(CONFIG_SECTION, CONFIG_OPTION, fallback=True))
