"""The wafer-scale fabric simulator: a machine model of PEs, routers, colors and wavelets, one SPMD program
representation, a cycle-level reference engine and a fast vectorized engine (see docs/fabric.md).

`wafersim.fabric.run("meshgemv", arch="wse-3", grid="32x32", m=4096, n=4096)` runs a library kernel;
`KERNELS` lists them.
"""

from wafersim._exports import lazy

_API: dict[str, str] = {
    "run": "wafersim.fabric.api",
    "KERNELS": "wafersim.fabric.kernels.registry",
    "KernelResult": "wafersim.fabric.kernels.base",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy(__name__, _API)
