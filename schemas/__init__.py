"""The contract: Avro schemas (source of truth) and the pydantic models mirroring them."""

from schemas.models import *  # noqa: F403
from schemas.models import __all__ as _models_all
from schemas.registry import MODELS, load_schema, schema_files

__all__ = [*_models_all, "MODELS", "load_schema", "schema_files"]
