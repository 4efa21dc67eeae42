"""Layer 4: replay request traces against simulated deployments (continuous batching, paged KV, SLOs, capacity).

Entry points `serve` and `capacity` (serving/api.py); the plug-in points `SCHEDULERS` (scheduling policies) and
`ROUTERS`, and the shipped traces `BUILTIN_TRACES`.
"""

from wafersim._exports import lazy

_API: dict[str, str] = {
    "serve": "wafersim.serving.api",
    "capacity": "wafersim.serving.api",
    "ServeResult": "wafersim.serving.api",
    "ServeCapacity": "wafersim.serving.api",
    "SCHEDULERS": "wafersim.serving.engine",
    "ROUTERS": "wafersim.serving.simulator",
    "BUILTIN_TRACES": "wafersim.serving.workload",
    "Workload": "wafersim.serving.workload",
}

__all__ = list(_API)
__getattr__, __dir__ = lazy(__name__, _API)
