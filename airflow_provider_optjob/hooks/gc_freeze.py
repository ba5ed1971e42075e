"""Keep full garbage collections cheap in the long-running process that polls jobs (the triggerer).

A full collection walks every tracked object in the process, the parsed SageMaker service model and
all of Airflow's modules included; in a triggerer holding a thousand deferred tasks such a pass stalls
the shared event loop for hundreds of milliseconds. Once the first shared client has been set up, the
objects alive then are long-lived, so they are moved out of the collector's reach with
:func:`gc.freeze`, once per process. Turn it off with ``[sagemaker_optimization_job]
freeze_gc_after_client_setup = False``.
"""

from __future__ import annotations

import gc
import threading

CONFIG_SECTION = "sagemaker_optimization_job"
CONFIG_OPTION = "freeze_gc_after_client_setup"

_frozen_in_process = threading.Event()


def freeze_long_lived_objects_once() -> bool:
    """
    Run :func:`gc.freeze` the first time this is called in a process, unless configured off.

    :return: whether this call froze the heap.
    """
    if _frozen_in_process.is_set():
        return False
    from airflow_provider_optjob.compat import conf

    _frozen_in_process.set()
    if not conf.getboolean(CONFIG_SECTION, CONFIG_OPTION, fallback=True):
        return False
    gc.freeze()
    return True
