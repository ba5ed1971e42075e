"""Apache Airflow provider for Amazon SageMaker optimization jobs."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
