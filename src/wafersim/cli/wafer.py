"""`wafersim wafer`: whole models on simulated wafers — estimate with wafer-only options, and the placement map."""

from __future__ import annotations

import click
from rich.table import Table

from wafersim.catalog import PRECISIONS
from wafersim.cli.common import catalog_option, echo_json, fmt, get_catalog, json_option, make_console
from wafersim.cli.estimate import parse_batch, print_estimate
from wafersim.cli.speculative import parse_speculative, speculative_options
from wafersim.errors import WafersimError
from wafersim.perf import EstimateRequest
from wafersim.perf.api import parse_region


def _common(f):
    for option in reversed(
        (
            click.option("--model", required=True, help="Catalog model id or config.json path."),
            click.option(
                "--system", default="cs-3", show_default=True, help="Wafer-scale system (cs-2, cs-3)."
            ),
            click.option("--count", type=int, default=1, show_default=True, help="Systems deployed."),
            click.option("--input-len", type=int, default=1000, show_default=True),
            click.option("--output-len", type=int, default=1000, show_default=True),
            click.option("--precision", type=click.Choice(PRECISIONS), default=None, help="Weight format."),
            click.option("--batch", default="1", show_default=True, help="Sequences per replica, or 'auto'."),
            click.option("--max-tpot", type=float, default=None, help="With --batch auto: TPOT bound (s)."),
            click.option("--grid", default=None, help="Region shape RxC (PEs) for both phases."),
            click.option(
                "--decode-grid", default=None, help="Region shape RxC for decode (the weights' home)."
            ),
            click.option(
                "--prefill-grid", default=None, help="Region shape RxC for prefill (weights re-laid)."
            ),
            catalog_option,
            json_option,
        )
    ):
        f = option(f)
    return f


def _request(catalog, model, system, count, input_len, output_len, precision, batch, max_tpot):
    spec = catalog.system(system)
    if spec.kind != "wafer":
        raise WafersimError(f"--system {system} is not a wafer-scale system (kind '{spec.kind}')")
    return EstimateRequest(
        model=catalog.model(model),
        system=spec,
        count=count,
        input_len=input_len,
        output_len=output_len,
        precision=precision,
        batch=parse_batch(batch),
        max_tpot_s=max_tpot,
    )


def _draft_model(spec):
    """Wafers draft with a draft model; multi-token-prediction heads are a GPU/TPU/LPU option."""
    from wafersim.perf.wafer.speculative import Speculative

    if spec is not None and not isinstance(spec, Speculative):
        raise WafersimError("--mtp-heads: the wafer model drafts with a draft model only (use --draft)")
    return spec


def _options(grid, decode_grid, prefill_grid, **more):
    from wafersim.perf.wafer.estimator import WaferOptions

    shared = parse_region(grid, "grid")
    decode = parse_region(decode_grid, "decode_grid") or shared
    prefill = parse_region(prefill_grid, "prefill_grid") or shared
    return WaferOptions(decode_grid=decode, prefill_grid=prefill, **more)


@click.group()
def wafer() -> None:
    """Whole LLMs on simulated wafers: placement, SRAM, speed from fabric kernels."""


@wafer.command("estimate")
@_common
@speculative_options
@click.option(
    "--weight-streaming", is_flag=True, help="Weights outside the wafer, streamed over the system I/O."
)
def estimate_cmd(
    model, system, count, input_len, output_len, precision, batch, max_tpot, grid, decode_grid, prefill_grid,
    catalog_dirs, as_json, speculative, weight_streaming,
):  # fmt: skip
    """Like `wafersim estimate`, with the wafer-only options (grids, speculative decoding, weight streaming)."""
    from wafersim.perf.wafer.estimator import estimate_wafer

    catalog = get_catalog(catalog_dirs)
    request = _request(catalog, model, system, count, input_len, output_len, precision, batch, max_tpot)
    spec = _draft_model(parse_speculative(catalog, speculative))
    options = _options(
        grid,
        decode_grid,
        prefill_grid,
        speculative=spec,
        weight_streaming=weight_streaming,
        per_user_views=True,
    )
    result = estimate_wafer(request, options)
    if as_json:
        echo_json(result.to_dict())
        return
    print_estimate(result)
    if result.fits:
        extra = result.extra
        lines = [
            f"mode {extra['mode']}: {extra['wafers_used']} wafer(s), SRAM {fmt(extra['sram_bytes_used'], 'B')}"
        ]
        if "placement" in extra:
            pl = extra["placement"]
            lines.append(
                f"decode: {pl['layer_regions']} layer regions of {pl['region_rows']}×{pl['region_cols']} PEs, "
                f"{pl['layers_per_region']} layer(s) each, {pl['head_regions']} head region(s), "
                f"{pl['decode_micro_batches']} micro-batch(es) of {pl['decode_tokens_per_micro_batch']}"
            )
            lines.append(
                f"prefill: regions of {pl['prefill_region_rows']}×{pl['prefill_region_cols']} PEs, chunks of "
                f"{pl['prefill_chunk_tokens']} token(s), re-layout {fmt(pl['relayout_s'], 's')} each way"
            )
        if "speculative" in extra:
            sp = extra["speculative"]
            lines.append(
                f"speculative: {sp['draft_model']} drafts {sp['draft_tokens']}, acceptance {sp['acceptance']}, "
                f"{sp['tokens_per_round']:.2f} tokens per round; draft step {fmt(sp['draft_step_s'], 's')}, "
                f"verify {fmt(sp['verify_step_s'], 's')}"
            )
        make_console().print("\n".join(lines))


@wafer.command("map")
@_common
@speculative_options
@click.option(
    "--plot", "plot_path", default=None, type=click.Path(dir_okay=False), help="Write a PNG picture."
)
def map_cmd(
    model, system, count, input_len, output_len, precision, batch, max_tpot, grid, decode_grid, prefill_grid,
    catalog_dirs, as_json, speculative, plot_path,
):  # fmt: skip
    """Where each layer sits on which wafer, and SRAM use per PE (decode placement)."""
    from wafersim.perf.wafer.mapview import wafer_map
    from wafersim.report.wafer_map import write_plot

    if plot_path:  # a bad picture path is named before the placement search, not after it
        from wafersim.files import PICTURE_SUFFIXES, output_path

        output_path(plot_path, "plot", PICTURE_SUFFIXES)
    catalog = get_catalog(catalog_dirs)
    request = _request(catalog, model, system, count, input_len, output_len, precision, batch, max_tpot)
    spec = _draft_model(parse_speculative(catalog, speculative))
    options = _options(grid, decode_grid, prefill_grid, speculative=spec)
    data = wafer_map(request, options)
    if plot_path:
        write_plot(data, plot_path)
    if as_json:
        echo_json(data)
        return
    table = Table(
        title=f"{data['model']} on {data['wafers_used']} × {data['system']}: regions of "
        f"{data['region_rows']}×{data['region_cols']} PEs, {data['layers_per_region']} layer(s) each"
    )
    for column in ("wafer", "region", "PE y", "PE x", "holds", "SRAM/PE", "weights", "KV", "act", "code"):
        table.add_column(column, justify="left" if column == "holds" else "right")
    for r in data["regions"]:
        use = r["sram_bytes_per_pe"]
        holds = (
            f"layers {r['layers'][0]}-{r['layers'][1]}" + (" + head" if "vocab_rows" in r else "")
            if r["kind"] == "layers"
            else f"head ({r['vocab_rows']} rows)"
        )
        table.add_row(
            str(r["wafer"]),
            str(r["index"]),
            f"{r['y']}-{r['y'] + r['rows'] - 1}",
            f"{r['x']}-{r['x'] + r['cols'] - 1}",
            holds,
            f"{sum(use.values()):,.0f} B",
            *(f"{use[k]:,.0f}" for k in ("weights", "kv_cache", "activations", "code")),
        )
    make_console().print(table)
    sp = data["speculative"]
    if sp is not None:
        make_console().print(
            f"speculative: {sp['draft_model']} drafts {sp['draft_tokens']}, {sp['draft_layers_per_region']} "
            "draft layer(s) per region beside the target's (not in the SRAM columns); "
            + (
                f"{fmt(sp['reserved_bytes_per_pe'], 'B')} per PE reserved for it"
                if sp["reserved_bytes_per_pe"]
                else "it fits in the SRAM the target leaves free"
            )
        )
    if plot_path:
        make_console().print(f"picture: {plot_path}")


@wafer.command("sweep")
@click.option("--model", required=True, help="Catalog model id or config.json path.")
@click.option("--arch", default="wse-3", show_default=True, help="Fabric architecture (wse-2, wse-3).")
@click.option("--batch", type=int, default=1, show_default=True, help="Sequences in the decode step.")
@click.option("--context", type=int, default=1024, show_default=True, help="Cached keys per sequence.")
@catalog_option
@json_option
def sweep_cmd(model, arch, batch, context, catalog_dirs, as_json):
    """Decode time of one layer on square regions of growing side: where communication starts to dominate."""
    from wafersim.catalog.fabric_arch import load_arch
    from wafersim.perf.wafer.sweep import layer_sweep

    if batch < 1 or context < 1:
        raise WafersimError(f"--batch and --context must be >= 1, got {batch} and {context}")
    fabric = load_arch(arch)
    points = layer_sweep(get_catalog(catalog_dirs).model(model), fabric, tokens=batch, context=context)
    rows = [
        {
            "region": f"{p.rows}x{p.cols}",
            "compute_cycles": p.compute_cycles,
            "sram_cycles": p.sram_cycles,
            "fabric_cycles": p.fabric_cycles,
            "cycles": p.cycles,
            "time_s": p.cycles / fabric.clock_hz,
            "weight_bytes_per_pe": p.weight_bytes_per_pe,
            "weights_fit_sram": p.weight_bytes_per_pe <= fabric.memory.sram_bytes_per_pe,
        }
        for p in points
    ]
    if as_json:
        echo_json(rows)
        return
    table = Table(title=f"one {model} layer, decode of {batch} sequence(s) at {context} keys, {arch}")
    for column in ("region", "compute", "fabric", "total", "time", "weights/PE"):
        table.add_column(column, justify="right")
    best = min(rows, key=lambda r: r["cycles"])
    for r in rows:
        mark = " ◀ fastest" if r is best else ""
        table.add_row(
            r["region"],
            f"{r['compute_cycles'] + r['sram_cycles']:,}",
            f"{r['fabric_cycles']:,}",
            f"{r['cycles']:,}{mark}",
            fmt(r["time_s"], "s"),
            fmt(r["weight_bytes_per_pe"], "B") + ("" if r["weights_fit_sram"] else " (too big)"),
        )
    make_console().print(table)
