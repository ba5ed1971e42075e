"""Opt-in: keep full garbage collections cheap in the triggerer by freezing the heap once.

A full collection walks every tracked object in the process, the parsed SageMaker service model and
all of Airflow's modules included; in a triggerer holding thousands of deferred tasks such a pass can
stall the shared event loop. With ``[sagemaker_optimization_job] freeze_gc_after_client_setup = True``,
the heap is frozen with :func:`gc.freeze` around the setup of the first shared client of a process:
before (so a collection that the setup's allocations trigger walks only what the setup made) and after
(so the service model and the session it loaded leave the collector's reach too).

It is off by default because it acts on the whole process: in a triggerer shared by every provider,
objects of other teams' triggers that are alive at the freeze and later become cyclic garbage are never
freed. Turn it on only in a triggerer whose owners accept that.
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

    return bool(conf.getboolean(CONFIG_SECTION, CONFIG_OPTION, fallback=False))
