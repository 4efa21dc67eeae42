import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from wafersim.fabric.dtypes import BF16, FP16, FP32, round_bf16

finite32 = st.floats(width=32, allow_nan=False, allow_infinity=False)


@given(finite32)
def test_bf16_rounding_is_nearest_with_zero_low_bits(value):
    x = np.float32(value)
    r = round_bf16(np.array(x))
    bits = int(np.array(r, dtype=np.float32).view(np.uint32))
    assert bits & 0xFFFF == 0
    if np.isfinite(r):
        # The two bf16 neighbours of x bracket it; r is the nearer one.
        low = np.array(int(np.array(x).view(np.uint32)) & 0xFFFF0000, dtype=np.uint32).view(np.float32)
        up_bits = (int(np.array(x).view(np.uint32)) & 0xFFFF0000) + 0x10000
        high = np.array(up_bits, dtype=np.uint32).view(np.float32)
        err = abs(float(r) - float(x))
        assert err <= min(abs(float(x) - float(low)), abs(float(high) - float(x)))


@given(finite32)
def test_bf16_rounding_is_idempotent(value):
    once = round_bf16(np.array(np.float32(value)))
    assert np.array_equal(round_bf16(once), once, equal_nan=True)


def test_bf16_ties_go_to_even_and_nan_stays_nan():
    one = np.float32(1.0)
    ulp = np.float32(2.0**-7)
    assert round_bf16(np.array(one + ulp / 2)) == one  # tie, 1.0 has an even mantissa
    assert round_bf16(np.array(one + 3 * ulp / 2)) == one + 2 * ulp  # tie, rounds up to even
    assert np.isnan(round_bf16(np.array(np.nan, dtype=np.float32)))


@given(finite32, finite32)
def test_bf16_is_monotonic(a, b):
    lo, hi = sorted((np.float32(a), np.float32(b)))
    assert round_bf16(np.array(lo)) <= round_bf16(np.array(hi))


@given(
    st.floats(width=16, allow_nan=False, allow_infinity=False),
    st.floats(width=16, allow_nan=False, allow_infinity=False),
)
def test_fp16_add_is_correctly_rounded(a, b):
    exact = float(a) + float(b)  # exact in float64 for two fp16 values
    with np.errstate(over="ignore"):
        assert FP16.add(np.float16(a), np.float16(b)) == np.float16(exact)


def test_types_have_pe_sizes():
    assert (FP16.itemsize_bytes, BF16.itemsize_bytes, FP32.itemsize_bytes) == (2, 2, 4)
    assert FP32.fma(np.float32(1), np.float32(2), np.float32(3)) == np.float32(7)


@given(
    st.sampled_from(["fp16", "bf16", "fp32"]),
    st.sampled_from(["add", "max"]),
    st.floats(width=16) | st.sampled_from([0.0, -0.0]),
    st.floats(width=16) | st.sampled_from([0.0, -0.0]),
)
def test_cycle_engine_scalar_arithmetic_is_bit_identical_to_the_array_path(name, op, a, b):
    from wafersim.fabric.cycle_engine import scalar_combiner
    from wafersim.fabric.dtypes import DTYPES
    from wafersim.fabric.patterns import combine

    dtype = DTYPES[name]
    x, y = dtype.round(np.array(a)), dtype.round(np.array(b))
    scalar = np.asarray(scalar_combiner(dtype, op)(x[()], y[()]), dtype=dtype.storage)
    array = np.asarray(combine(dtype, op, x, y), dtype=dtype.storage)
    assert scalar.tobytes() == array.tobytes() or (np.isnan(scalar) and np.isnan(array))
