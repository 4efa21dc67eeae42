"""The wafer-scale fabric simulator: a machine model of PEs, routers, colors and wavelets, one SPMD program
representation, a cycle-level reference engine and a fast vectorized engine (see docs/fabric.md)."""
