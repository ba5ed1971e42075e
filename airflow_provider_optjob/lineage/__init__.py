"""What an optimization job reads and writes, told to OpenLineage and to Airflow's asset scheduling.

:mod:`~airflow_provider_optjob.lineage.openlineage` builds the datasets the operators report to OpenLineage;
:mod:`~airflow_provider_optjob.lineage.assets` emits a completed job's output as an asset event and reads such
events in the DAGs they trigger.
"""
