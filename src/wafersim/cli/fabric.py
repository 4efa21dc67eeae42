"""`wafersim fabric`: run the fabric simulator's kernels (see docs/fabric.md)."""

from __future__ import annotations

import json

import click


@click.group()
def fabric() -> None:
    """Wafer-scale fabric simulator: run library kernels on a simulated WSE-2 / WSE-3."""


@fabric.command("list")
def list_kernels() -> None:
    """List the kernels of the library."""
    from wafersim.fabric.kernels.registry import KERNELS

    for info in KERNELS.values():
        click.echo(f"{info.name:20s} [{' '.join('--' + p for p in info.shape_params)}]  {info.summary}")


@fabric.command("arch")
@click.argument("name", default="wse-3")
@click.option("--json", "as_json", is_flag=True, help="print the specification as JSON")
def arch(name: str, as_json: bool) -> None:
    """Show a fabric architecture's parameters and their sources (NAME: wse-2, wse-3 or a TOML path)."""
    from wafersim.catalog.fabric_arch import load_arch

    spec = load_arch(name)
    data = spec.model_dump()
    if as_json:
        click.echo(json.dumps(data, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fabric architecture {spec.name} (clock {spec.clock_hz / 1e9:g} GHz)")
    table.add_column("section")
    table.add_column("parameters")
    table.add_column("source")
    for section, values in data.items():
        if isinstance(values, dict):
            params = ", ".join(f"{key}={value}" for key, value in values.items() if key != "source")
            table.add_row(section, params, values.get("source", ""))
    Console().print(table)


@fabric.command("run")
@click.argument("kernel")
@click.option(
    "--arch", "arch_name", default="wse-3", show_default=True, help="wse-2 | wse-3 (or a TOML path)"
)
@click.option("--grid", default="4x4", show_default=True, help="RxC (rows x columns) or 'full'")
@click.option("--m", type=int, default=None, help="GEMV rows; GEMM rows of A")
@click.option("--n", type=int, default=None, help="GEMV columns; GEMM columns of B; vector length")
@click.option("--k", type=int, default=None, help="GEMM inner dimension")
@click.option("--dtype", type=click.Choice(["fp16", "fp32", "bf16"]), default="fp16", show_default=True)
@click.option("--engine", type=click.Choice(["cycle", "fast"]), default="fast", show_default=True)
@click.option("--seed", type=int, default=0, show_default=True, help="numpy.random.default_rng seed")
@click.option("--clock-hz", type=float, default=None, help="one of the architecture's selectable clocks")
@click.option(
    "--heatmap", type=click.Path(dir_okay=False), default=None, help="write busy/SRAM heatmaps (PNG)"
)
@click.option(
    "--trace",
    "trace_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="write a Chrome/Perfetto trace (JSON), grids up to 64x64",
)
@click.option("--json", "as_json", is_flag=True, help="print the result as JSON")
def run(
    kernel, arch_name, grid, m, n, k, dtype, engine, seed, clock_hz, heatmap, trace_path, as_json
) -> None:
    """Run KERNEL on a simulated grid and check it against NumPy."""
    from wafersim.catalog.fabric_arch import load_arch
    from wafersim.fabric.api import run as run_kernel

    arch = load_arch(arch_name)
    if clock_hz is not None:
        arch = arch.with_clock(clock_hz)
    result = run_kernel(kernel, arch=arch, grid=grid, m=m, n=n, k=k, dtype=dtype, engine=engine, seed=seed,
                        trace=trace_path is not None)  # fmt: skip
    rows, cols = result.grid
    summary = result.to_dict()
    if heatmap:
        from wafersim.report.fabric_files import write_heatmaps

        summary["heatmap"] = str(write_heatmaps(result, heatmap, arch.memory.sram_bytes_per_pe))
    if trace_path:
        from wafersim.report.fabric_files import write_trace

        summary["trace"] = str(write_trace(result, trace_path))
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"fabric run {kernel} on {arch.name} {rows}x{cols} ({engine} engine)")
    table.add_column("quantity")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        if key in ("kernel", "arch", "grid", "engine"):
            continue
        text = f"{value:.4g}" if isinstance(value, float) else str(value)
        table.add_row(key, text)
    Console().print(table)
