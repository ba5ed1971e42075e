"""The optimization job itself, apart from Airflow's plumbing.

Its status model (:mod:`.status`), the outcome dict every component hands on (:mod:`.outcome`), the name
rule (:mod:`.name`), the checks of a create request (:mod:`.config`), one look at a job (:mod:`.check`),
waiting on it (:mod:`.wait`, :mod:`.wait_settings`) and how a task ends once it knows the outcome
(:mod:`.completion`). Hooks, triggers, sensors and operators build on these modules.
"""
