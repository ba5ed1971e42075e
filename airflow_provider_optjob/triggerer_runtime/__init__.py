"""What our triggers need to live well in the triggerer, a process every team's triggers share.

A worker thread for blocking work (:mod:`.worker_thread`), exchanges that finish even when their trigger is
cancelled (:mod:`.run_to_completion`), the connection looked up the way each Airflow version supports for async
code (:mod:`.connection_lookup`), one SageMaker client per connection (:mod:`.shared_async_client`) with
credentials refreshed off the loop (:mod:`.async_credentials`), a trimmed service model (:mod:`.service_model`)
and the opt-in garbage-collector freeze (:mod:`.gc_freeze`).
"""
