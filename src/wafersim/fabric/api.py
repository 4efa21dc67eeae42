"""`run`: one library kernel on a simulated fabric, checked against NumPy (what `wafersim fabric run` does)."""

from __future__ import annotations

from wafersim.catalog.fabric_arch import FabricArch, load_arch
from wafersim.errors import WafersimError
from wafersim.fabric.kernels.base import KernelResult
from wafersim.fabric.kernels.registry import kernel_info, parse_grid, run_kernel


def run(
    kernel: str,
    *,
    arch: str | FabricArch = "wse-3",
    grid: str | tuple[int, int] = "4x4",
    m: int | None = None,
    n: int | None = None,
    k: int | None = None,
    dtype: str = "fp16",
    engine: str = "fast",
    seed: int = 0,
    clock_hz: float | None = None,
    trace: bool = False,
) -> KernelResult:
    """Run `kernel` (see `wafersim.fabric.KERNELS`) on a `grid` of PEs ('RxC', (rows, cols) or 'full') of
    `arch` (wse-2, wse-3 or a TOML path) with the given shape (m, n, k: the kernel's own defaults when None).

    `result.to_dict()` is `wafersim fabric run --json`; `trace=True` records the events a Chrome trace needs.
    """
    info = kernel_info(kernel)
    spec = arch if isinstance(arch, FabricArch) else load_arch(arch)
    if clock_hz is not None:
        spec = spec.with_clock(clock_hz)
    rows, cols = grid if isinstance(grid, tuple) else parse_grid(grid, spec)
    given = {"m": m, "n": n, "k": k}
    extra = [key for key, value in given.items() if value is not None and key not in info.shape_params]
    if extra:
        raise WafersimError(
            f"kernel '{kernel}' does not take {extra[0]} (its shape parameters: {', '.join(info.shape_params)})",
            field=extra[0],
        )
    shape = {key: value for key, value in given.items() if key in info.shape_params}
    return run_kernel(kernel, spec, rows, cols, dtype, engine, seed, trace=trace, **shape)
