"""Hooks for Amazon SageMaker optimization jobs."""
