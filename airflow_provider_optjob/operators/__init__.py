"""Operators for Amazon SageMaker optimization jobs."""
