"""Links for Amazon SageMaker optimization jobs."""
