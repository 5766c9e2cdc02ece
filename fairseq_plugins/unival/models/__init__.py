"""The ``unival`` model: importing this package registers it and its architectures."""

from unival.models.unival import UnivalModel  # noqa: I001  (registers the model first)
from unival.models import architectures  # noqa: F401  (then its unival_* archs)
from unival.models.builder import build_model
from unival.models.config import UnivalConfig

__all__ = ["UnivalConfig", "UnivalModel", "build_model"]
