"""Units of placement: what one region holds of a layer, its SRAM per PE, and its cycles per step.

A layer is placed whole, or split into its attention unit (norms, QKV, attention over the KV cache, O, router)
and pieces of its FFN: a dense MLP split along its intermediate width (each piece's partial output is added to
the token's accumulator), or a MoE layer's shared experts and groups of routed experts (expert parallelism:
tokens travel through the regions holding their experts, carrying their accumulator, and come back to the
residual stream at the last piece). A region may hold many units (several layers time-multiplexed on the same
PEs, as WaferLLM runs every layer on one grid); consecutive regions, on one wafer or across the system links,
hold consecutive units. The LM head's vocabulary rows are a unit too, split over regions as they fill.

Decode runs GEMV kernels (MeshGEMV, weights stationary); a prefill chunk runs GEMM kernels on the 2-D token x
hidden partitioning (MeshGEMM, and its transposed variant for Q K^T: WaferLLM section 4.1), see `prefill.py`.
"""

from __future__ import annotations

from dataclasses import dataclass

from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import ceil_div
from wafersim.perf.wafer.layer import (
    FfnPiece,
    LayerShape,
    Matrix,
    _keys,
    attention_block_cost,
    dequant_cycles,
    ffn_piece_cost,
    kv_elems_per_pe,
)


@dataclass(frozen=True)
class Unit:
    """Part of the model held on one region: layer `layer`'s attention unit (`attn`) and/or FFN `pieces`, or
    `head_rows` rows of the LM head (layer = -1)."""

    layer: int
    attn: bool
    pieces: tuple[FfnPiece, ...] = ()
    head_rows: int = 0
    ends_layer: bool = True  # the layer's last unit: the FFN output joins the residual stream here

    @property
    def is_head(self) -> bool:
        return self.head_rows > 0


def whole_layer(layer: int, shape: LayerShape) -> Unit:
    return Unit(layer, True, shape.pieces)


def tile_elems(unit: Unit, shape: LayerShape | None, d: int, rows: int, cols: int) -> float:
    """Weight elements one PE of a rows x cols region stores for the unit, before the region's stagger slack.

    Tiles are balanced: a matrix of m rows on R lines of PEs gives m mod R lines one row more than the others,
    and the region staggers which lines take the extra rows and columns from matrix to matrix, so every PE
    holds the same total to within one extra row and column of one matrix (`stagger_slack`, added once per
    region). The GEMV's time is still that of the fullest PE of each matrix (the closed forms use ceilings).
    Norm weights are replicated down the rows (each row normalises its copy): that copy counts in full."""
    pes = rows * cols
    if unit.is_head:
        # Vocabulary rows split over the region's rows, the hidden size over its columns; the final norm.
        return unit.head_rows * d / pes + ceil_div(d, cols)
    assert shape is not None
    elems = weight_elems(unit, shape, d) / pes
    if unit.attn:
        elems += 2 * ceil_div(d, cols) - shape.norm_elems / pes
    return elems


def _matrices(unit: Unit, shape: LayerShape | None, d: int) -> list[Matrix]:
    if unit.is_head:
        return [Matrix(unit.head_rows, d, False)]
    assert shape is not None
    out = list(shape.attn_matrices) if unit.attn else []
    for piece in unit.pieces:
        out += piece.matrices(d)
    return out


def stagger_slack(unit: Unit, shape: LayerShape | None, d: int, rows: int, cols: int) -> int:
    """The most one PE holds beyond the balanced share: one extra row and one extra column of a tile."""
    slack = 0
    for m in _matrices(unit, shape, d):
        down, across = (cols, rows) if m.transposed else (rows, cols)
        slack = max(slack, ceil_div(m.m, down) + ceil_div(m.n, across))
    return slack


def weight_elems(unit: Unit, shape: LayerShape | None, d: int) -> int:
    """Weight elements of the unit without padding (the final norm is counted with the head separately)."""
    if unit.is_head:
        return unit.head_rows * d
    assert shape is not None
    elems = shape.attn_weight_elems if unit.attn else 0
    return elems + sum(p.weight_elems(d) for p in unit.pieces)


def kv_elems(unit: Unit, shape: LayerShape | None, rows: int, cols: int, sequences: int, length: int) -> int:
    if not unit.attn or shape is None:
        return 0
    return kv_elems_per_pe(shape, rows, cols, sequences, length)


def kv_exact_elems(unit: Unit, shape: LayerShape | None, sequences: int, length: int) -> int:
    if not unit.attn or shape is None:
        return 0
    return sequences * _keys(shape, length) * shape.cache_elems


def decode_act_elems(
    unit: Unit, shape: LayerShape | None, d: int, rows: int, cols: int, tokens: int, context: int
) -> int:
    """Activation buffers of one decode pass of `tokens` tokens through the unit (GEMV layout: a vector split
    over one side and replicated over the other). Live across the unit: the token's input and residual (and,
    past a split FFN, its accumulator). Scratch of one kernel at a time, reused by the next: the largest
    kernel's output with its two K-tree partial buffers. Experts run one after another, so an MoE unit holds
    one expert pass's scratch, not top-k of them."""
    if tokens <= 0:
        return 0
    live = 3 * ceil_div(d, cols)
    if unit.is_head:
        return tokens * (3 * ceil_div(unit.head_rows, rows) + 2 * ceil_div(d, cols))
    assert shape is not None
    scratch = [3 * ceil_div(d, cols)]
    if unit.attn:
        keys_pe = ceil_div(max(1, _keys(shape, context)), cols)
        heads_pe = ceil_div(shape.heads, min(rows, shape.kv_groups))
        scratch += [
            3 * ceil_div(shape.qkv_out, rows),
            4 * heads_pe * keys_pe,  # scores, two reduction buffers, exponentials
            3 * ceil_div(shape.attn_out, rows),
            3 * ceil_div(shape.router, rows) if shape.router else 0,
        ]
    scratch += [3 * ceil_div(2 * p.width, rows) for p in unit.pieces]
    return tokens * (live + max(scratch))


def decode_cost(
    arch: FabricArch,
    unit: Unit,
    shape: LayerShape | None,
    d: int,
    rows: int,
    cols: int,
    tokens: int,
    context: int,
    new_per_sequence: int,
    dequant: bool,
    imbalance: float,
) -> tuple[int, int, int]:
    """(compute, sram, fabric) cycles of one GEMV pass of `tokens` tokens through the unit."""
    if unit.is_head:
        norm = cf.rmsnorm(arch, cols, d, tokens)
        head = cf.meshgemv(arch, rows, cols, unit.head_rows, d, tokens)
        local = cf.vec(arch, "add", tokens * ceil_div(unit.head_rows, rows))  # argmax over this slice
        pick = cf.ktree_allreduce_line(arch, rows, 2 * tokens)
        return (
            norm.compute_cycles + head.compute_cycles + local,
            0,
            norm.fabric_cycles + head.fabric_cycles + pick,
        )
    assert shape is not None
    total = cf.ZERO
    if unit.attn:
        total += attention_block_cost(arch, shape, rows, cols, tokens, context, new_per_sequence)
    for piece in unit.pieces:
        total += ffn_piece_cost(arch, shape, piece, rows, cols, tokens, imbalance)
    if unit.ends_layer:
        total += cf.elementwise(arch, 1, 1, tokens * ceil_div(d, cols))  # residual add
    sram = (
        dequant_cycles(arch, shape, rows, cols, unit.pieces, unit.attn, tokens, imbalance) if dequant else 0
    )
    return total.compute_cycles, sram, total.fabric_cycles


def split_piece(piece: FfnPiece, keep: int) -> tuple[FfnPiece, FfnPiece]:
    """The first `keep` experts (routed or shared groups) or, for one MLP, `keep` of its intermediate columns,
    and the rest."""
    if piece.experts > 1:
        share = piece.passes / piece.experts
        return (
            FfnPiece(keep, piece.width, share * keep, piece.routed),
            FfnPiece(piece.experts - keep, piece.width, share * (piece.experts - keep), piece.routed),
        )
    return (
        FfnPiece(1, keep, piece.passes, piece.routed),
        FfnPiece(1, piece.width - keep, piece.passes, piece.routed),
    )


def piece_size(piece: FfnPiece) -> int:
    """How many parts `split_piece` can cut: experts, or intermediate columns of a single MLP."""
    return piece.experts if piece.experts > 1 else piece.width
