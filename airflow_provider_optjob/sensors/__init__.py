"""Sensors for Amazon SageMaker optimization jobs."""
