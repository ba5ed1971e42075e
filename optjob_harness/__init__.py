"""The project's deployment harness: real local Airflow deployments for the demo, the tests and the benchmark.

Development only: not part of the wheel. It starts a scheduler, triggerers, a DAG processor and an API server
against the bundled emulator (:mod:`.deployment`), with connections in several stores (:mod:`.config`), and reads
the metadata database (:mod:`.metadata_db`) to watch runs (:mod:`.watch`, :mod:`.runs`) and triggerers
(:mod:`.triggerers`).
"""
