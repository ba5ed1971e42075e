"""Skip marks for tests that need request members the installed botocore's SageMaker model predates.

The oldest supported botocore (the MWAA 2.10.1 set) knows neither ``ModelSpeculativeDecodingConfig`` nor
``OutputConfig.SageMakerModel``; botocore refuses such requests before they leave the client.
"""

from __future__ import annotations

import pytest
from botocore.model import StructureShape

from airflow_provider_optjob.testing.validation import sagemaker_service_model


def knows(shape_name: str, member: str) -> bool:
    """Whether the installed botocore's SageMaker shape ``shape_name`` has ``member``."""
    shape = sagemaker_service_model().shape_for(shape_name)
    return isinstance(shape, StructureShape) and member in shape.members


needs_speculative_decoding = pytest.mark.skipif(
    not knows("OptimizationConfig", "ModelSpeculativeDecodingConfig"),
    reason="this botocore predates ModelSpeculativeDecodingConfig",
)
needs_output_model = pytest.mark.skipif(
    not knows("OptimizationJobOutputConfig", "SageMakerModel"),
    reason="this botocore predates OutputConfig.SageMakerModel",
)
