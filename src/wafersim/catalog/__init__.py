"""Layer 1: hardware and models as data files with sources, loaded into validated, frozen specs."""

from wafersim.catalog.catalog import Catalog, load_catalog, model_from_file, system_from_file
from wafersim.catalog.hf_config import from_hf_config
from wafersim.catalog.listing import model_rows, system_rows
from wafersim.catalog.models import MLASpec, ModelSpec, MoESpec
from wafersim.catalog.precision import BYTES_PER_ELEMENT, PRECISIONS, Precision
from wafersim.catalog.systems import SystemSpec

__all__ = [
    "BYTES_PER_ELEMENT",
    "PRECISIONS",
    "Catalog",
    "MLASpec",
    "ModelSpec",
    "MoESpec",
    "Precision",
    "SystemSpec",
    "from_hf_config",
    "load_catalog",
    "model_from_file",
    "model_rows",
    "system_from_file",
    "system_rows",
]
