"""Numeric formats a model can be served in, and how many bytes each element takes."""

from __future__ import annotations

from typing import Literal, get_args

Precision = Literal["bf16", "fp8", "fp4", "int8"]
PRECISIONS: tuple[str, ...] = get_args(Precision)

# Bytes per element. fp4 counts the shared block scale: NVFP4 stores one fp8 scale per 16 values
# (4 + 8/16 = 4.5 bits) and MXFP4 one 8-bit scale per 32 (4.25 bits); NVFP4's figure is used (NVIDIA
# "Introducing NVFP4", 2025) as the more conservative of the two.
BYTES_PER_ELEMENT: dict[str, float] = {"bf16": 2.0, "fp8": 1.0, "int8": 1.0, "fp4": 4.5 / 8}
