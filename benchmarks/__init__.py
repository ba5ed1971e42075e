"""Benchmarks for airflow-provider-optjob (not part of the package; see benchmarks/README.md)."""
