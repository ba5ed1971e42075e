"""Triggers for Amazon SageMaker optimization jobs."""
