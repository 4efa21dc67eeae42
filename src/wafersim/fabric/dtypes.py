"""Data types of the PE: fp16, bf16 and fp32 with the rounding of the type used.

fp16 and fp32 are NumPy's float16/float32 (IEEE round-to-nearest-even). bf16 is stored in float32 arrays whose
low 16 bits are zero: a value is rounded to bf16 by round-to-nearest-even on the top 16 bits of its float32 bits.
Arithmetic is done in float64 and rounded once to the type, which is the correctly rounded result for add and
multiply of two operands of these types (float64 has more than 2p+2 bits for every p here); a fused
multiply-add is emulated the same way and may differ from hardware in the last bit in rare double-rounding cases.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from wafersim.errors import WafersimError


def round_bf16(values: np.ndarray) -> np.ndarray:
    """Round float32 values to bf16 (nearest, ties to even), returned as float32 with the low 16 bits zero."""
    shape = np.shape(values)
    as_f32 = np.ascontiguousarray(values, dtype=np.float32).reshape(-1)
    bits = as_f32.view(np.uint32).astype(np.uint64)
    rounding_bias = 0x7FFF + ((bits >> 16) & 1)
    rounded = ((bits + rounding_bias) & 0xFFFF0000).astype(np.uint32)
    # NaN must stay NaN: adding the bias could carry a NaN payload into the infinity pattern.
    nan = np.isnan(as_f32)
    rounded[nan] = (bits[nan].astype(np.uint32) | 0x00400000) & 0xFFFF0000
    return rounded.view(np.float32).reshape(shape)


@dataclass(frozen=True)
class DType:
    name: str
    storage: type[np.floating]
    itemsize_bytes: int

    def round(self, values: np.ndarray) -> np.ndarray:
        """Round (float64 or other) values to this type, returned in the storage dtype."""
        # Overflow to infinity is the IEEE result of rounding, not an error worth a warning.
        with np.errstate(over="ignore"):
            if self.name == "bf16":
                return round_bf16(np.asarray(values, dtype=np.float32))
            return np.asarray(values).astype(self.storage)

    def add(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.round(np.asarray(a, dtype=np.float64) + np.asarray(b, dtype=np.float64))

    def mul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.round(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64))

    def fma(self, acc: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """acc + a*b rounded once to this type (the @fmac* family)."""
        product = np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)
        return self.round(np.asarray(acc, dtype=np.float64) + product)

    def max(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return self.round(np.maximum(a, b))


FP16 = DType("fp16", np.float16, 2)
BF16 = DType("bf16", np.float32, 2)
FP32 = DType("fp32", np.float32, 4)
DTYPES = {d.name: d for d in (FP16, BF16, FP32)}


def dtype_named(name: str) -> DType:
    try:
        return DTYPES[name]
    except KeyError:
        raise WafersimError(f"unknown dtype '{name}'; choose one of {sorted(DTYPES)}") from None
