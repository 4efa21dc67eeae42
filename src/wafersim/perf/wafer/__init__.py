"""Whole LLMs on simulated wafers: layer placement, SRAM, and prefill/decode speed from fabric kernels.

`estimate_wafer(request, options)` answers `wafersim estimate` for cs-2/cs-3 (registered in
`wafersim.perf.estimate.ESTIMATORS["wafer"]`); see docs/wafer.md.
"""
