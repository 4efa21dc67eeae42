"""A prefill chunk as distributed GEMM (WaferLLM section 4.1): the chunk's c tokens x hidden activations are
tiled 2-D over the region (tokens over its rows, hidden over its columns) and every projection is a MeshGEMM
with the resident weights. Projections run weight-stationary, Y^T = W X^T in the transposed MeshGEMM: the
weights stay in place and only the chunk's tiles and the partial outputs travel the interleaved rings (so no PE
needs a second weight buffer). Q K^T uses the same transposed MeshGEMM (K is never transposed on the fabric) and
P V a MeshGEMM, the query heads of a KV group stacked as rows and the groups batched through one schedule. Element-
wise work (norms, RoPE, SiLU, softmax) runs on each PE's c/p x d/p tile. MeshGEMM needs a square grid: a region
of R x C PEs runs it on max(R, C) // min(R, C) squares side by side, each owning a share of the output columns
(`closed_form.region_gemm`).

Only the prompt's last position needs logits, so the LM head runs as one decode GEMV per prompt.
"""

from __future__ import annotations

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import Cost, ceil_div
from wafersim.perf.wafer.layer import FfnPiece, LayerShape, _keys, dequant_cycles, piece_passes
from wafersim.perf.wafer.units import Unit, decode_cost


def _square(rows: int, cols: int) -> tuple[int, int]:
    p = min(rows, cols)
    return p, max(rows, cols) // p


def _project(arch: FabricArch, rows: int, cols: int, chunk: int, k: int, n: int) -> Cost:
    """Y = X W^T for a chunk: weight-stationary, as Y^T = W X^T (transposed MeshGEMM, W the resident operand)."""
    return cf.region_gemm(arch, rows, cols, n, k, chunk, transposed=True)


def attention_gemm_cost(
    arch: FabricArch, shape: LayerShape, rows: int, cols: int, chunk: int, context: int
) -> Cost:
    """The attention unit for a chunk of `chunk` tokens whose queries attend to `context` keys on average."""
    d = shape.hidden
    p, q = _square(rows, cols)
    t_pe = ceil_div(chunk, p)  # tokens per PE row
    total = cf.rmsnorm(arch, p, d, t_pe)
    total += _project(arch, rows, cols, chunk, d, shape.qkv_out)
    rope = t_pe * ceil_div(shape.attn_out + shape.kv_groups * shape.k_dim, p * q)
    total += Cost(cf.vec(arch, "mul", rope) + cf.vec(arch, "fma", rope), 0)
    # The chunk's K/V tiles move into the shift-based cache layout: across the square, once.
    total += Cost(0, cf.stream(arch, p, t_pe * ceil_div(shape.cache_elems, p * q)))
    keys = max(1, _keys(shape, context))
    share = ceil_div(shape.heads, shape.kv_groups)
    groups = shape.kv_groups
    total += cf.region_gemm(arch, rows, cols, chunk * share, shape.k_dim, keys, transposed=True, batch=groups)
    total += cf.softmax(arch, p, keys, ceil_div(chunk * shape.heads, p))
    total += cf.region_gemm(arch, rows, cols, chunk * share, keys, shape.v_dim, batch=groups)
    total += _project(arch, rows, cols, chunk, shape.attn_out, d)
    total += Cost(cf.vec(arch, "add", t_pe * ceil_div(d, p)), 0)  # residual
    total += cf.rmsnorm(arch, p, d, t_pe)
    if shape.router:
        total += _project(arch, rows, cols, chunk, d, shape.router)
        total += Cost(shape.active_ffn * cf.vec(arch, "add", t_pe * ceil_div(shape.router, p * q)), 0)
    return total


def piece_gemm_cost(
    arch: FabricArch, shape: LayerShape, piece: FfnPiece, rows: int, cols: int, chunk: int, imbalance: float
) -> Cost:
    """An FFN piece for a chunk: each expert held runs its gate/up and down GEMMs on the tokens routed to it."""
    d = shape.hidden
    p, _ = _square(rows, cols)
    passes = piece_passes(piece, chunk, imbalance)
    visited = min(piece.experts, max(1, round(passes))) if piece.routed else piece.experts
    m = max(1, ceil_div(round(passes), visited))  # tokens per expert visited
    one = _project(arch, rows, cols, m, d, 2 * piece.width)
    one += Cost(
        (cf.EXP_VECTOR_PASSES + 4) * cf.vec(arch, "fma", ceil_div(m, p) * ceil_div(piece.width, p)), 0
    )
    one += _project(arch, rows, cols, m, piece.width, d)
    if piece.routed:
        one += Cost(cf.vec(arch, "fma", ceil_div(m, p) * ceil_div(d, p)), 0)
    return one.times(visited)


def prefill_cost(
    arch: FabricArch,
    unit: Unit,
    shape: LayerShape | None,
    d: int,
    rows: int,
    cols: int,
    chunk: int,
    context: int,
    dequant: bool,
    imbalance: float,
) -> tuple[int, int, int]:
    """(compute, sram, fabric) cycles of one prefill chunk through the unit."""
    if unit.is_head:
        return decode_cost(arch, unit, None, d, rows, cols, 1, context, 1, False, imbalance)
    assert shape is not None
    total = cf.ZERO
    if unit.attn:
        total += attention_gemm_cost(arch, shape, rows, cols, chunk, context)
    for piece in unit.pieces:
        total += piece_gemm_cost(arch, shape, piece, rows, cols, chunk, imbalance)
    if unit.ends_layer:
        p, _ = _square(rows, cols)
        total += Cost(cf.vec(arch, "add", ceil_div(chunk, p) * ceil_div(d, p)), 0)
    sram = dequant_cycles(arch, shape, rows, cols, unit.pieces, unit.attn, chunk, imbalance) if dequant else 0
    return total.compute_cycles, sram, total.fabric_cycles


def _gemm_buffers(p: int, q: int, m: int, k: int, n: int) -> int:
    """Weight-stationary transposed MeshGEMM's buffers beside the resident weight block: the chunk's moving
    tile twice (double buffered) and the partial output block twice (one arriving, one being summed)."""
    mb, kb, nb = ceil_div(m, p), ceil_div(k, p), ceil_div(n, p * q)
    return 2 * mb * kb + 2 * mb * nb


def prefill_act_elems(
    unit: Unit,
    shape: LayerShape | None,
    d: int,
    rows: int,
    cols: int,
    chunk: int,
    context: int,
    imbalance: float = 1.0,
) -> int:
    """Workspace of one prefill chunk through the unit in the 2-D layout: the chunk's input and residual tiles,
    plus the largest GEMM's buffers (the attention's score tiles for every head included)."""
    if chunk <= 0 or unit.is_head:
        return 0
    assert shape is not None
    p, q = _square(rows, cols)
    live = 3 * ceil_div(chunk, p) * ceil_div(d, p)
    need = [0]
    if unit.attn:
        keys = max(1, _keys(shape, context))
        share = ceil_div(shape.heads, shape.kv_groups)
        need += [
            _gemm_buffers(p, q, chunk, d, shape.qkv_out),
            _gemm_buffers(p, q, chunk, shape.attn_out, d),
            # scores and their exponentials for every head, plus the moving K/V blocks of every group
            2 * ceil_div(chunk * shape.heads, p) * ceil_div(keys, p * q)
            + 2 * shape.kv_groups * ceil_div(keys, p) * ceil_div(share * shape.k_dim, p),
        ]
    for piece in unit.pieces:
        passes = piece_passes(piece, chunk, imbalance)
        visited = min(piece.experts, max(1, round(passes))) if piece.routed else piece.experts
        m = max(1, ceil_div(round(passes), visited))
        need.append(_gemm_buffers(p, q, m, d, 2 * piece.width))
    return live + max(need)
