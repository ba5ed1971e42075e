"""The domain core: what an optimization job is and what its states mean, apart from Airflow and AWS clients.

Names (:mod:`.name`, :mod:`.model_name`), statuses (:mod:`.status`), the outcome every component hands on
(:mod:`.outcome`) and the trigger event that carries it (:mod:`.event`), the checks of a create request
(:mod:`.config`), the model a job's output makes (:mod:`.model_source`), who owns a job (:mod:`.ownership`),
what an API error means (:mod:`.api_errors`), a wait's settings (:mod:`.wait_settings`) and the one policy that
decides what follows each look at a job (:mod:`.look_policy`). Nothing here imports Airflow or a layer above.
"""
