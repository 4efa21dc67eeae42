"""One transformer layer on a rectangular region of PEs: its kernels, their cycles, and its SRAM per PE.

Layout (WaferLLM, He et al., OSDI 2025). Every matrix of the layer is tiled over the whole R x C region, so each
PE holds one block of every matrix. The activation entering a layer is split over the region's columns and
replicated over its rows, which is what MeshGEMV takes; MeshGEMV leaves its result split over the rows, so the
next matrix is stored transposed and reduces along the columns instead (consecutive GEMVs alternate
orientation; no transpose moves data). A decode step of b sequences is then:

    RMSNorm -> QKV MeshGEMV (reduce along rows) -> RoPE (elementwise) -> KV append (shift-based)
    -> scores (local FMAs over the cached keys + K-tree allreduce over the rows sharing a head)
    -> softmax over the keys (K-tree max and sum along the rows) -> P.V (local FMAs + allreduce along rows)
    -> O MeshGEMV (reduce along columns) -> residual -> RMSNorm -> gate/up MeshGEMV -> SiLU * up
    -> down MeshGEMV (reduce along columns) -> residual

KV cache: cached dimensions split over the rows (where the QKV GEMV leaves the new K and V), tokens split over
the columns. New entries enter column 0 and each column passes its oldest entry one hop east (WaferLLM's
shift-based cache), so every PE holds ceil(T / C) tokens: balanced, neighbour-only moves.

A prefill chunk of c tokens is the same sequence of kernels with c tokens in every GEMV (weights stay where they
are: weight-stationary), each query attending to the mean context of the chunk. Cycle counts come from
`closed_form` (held within 5% of the fast engine by a test).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from wafersim.catalog import ModelSpec
from wafersim.catalog.fabric_arch import FabricArch
from wafersim.perf.wafer import closed_form as cf
from wafersim.perf.wafer.closed_form import Cost, ceil_div

ACT_BYTES = 2  # activations, partial sums and KV in fp16: the wafer's 16-bit SIMD type (WSE fp16 @fmach)


@dataclass(frozen=True)
class Matrix:
    """A weight matrix m x n (y = W x); `transposed` = stored for the column-reducing orientation."""

    m: int
    n: int
    transposed: bool

    def tile_elems(self, rows: int, cols: int) -> int:
        if self.transposed:
            return ceil_div(self.m, cols) * ceil_div(self.n, rows)
        return ceil_div(self.m, rows) * ceil_div(self.n, cols)


@dataclass(frozen=True)
class FfnPiece:
    """Part of one layer's FFN held together on one region: `experts` gated MLPs (routed experts, shared
    experts, or the dense MLP) of `width` intermediate columns each, every one tiled over the whole region.
    `passes` is the expected number of expert passes per token it serves: 1 per dense or shared MLP, top_k x
    experts / num_experts for a group of routed experts (uniform routing; the busiest stage applies the imbalance,
    pipeline.step_time)."""

    experts: int
    width: int
    passes: float
    routed: bool

    def matrices(self, d: int) -> tuple[Matrix, Matrix]:
        return Matrix(2 * self.width, d, False), Matrix(d, self.width, True)

    def tile_elems(self, d: int, rows: int, cols: int) -> int:
        up, down = self.matrices(d)
        return self.experts * (up.tile_elems(rows, cols) + down.tile_elems(rows, cols))

    def weight_elems(self, d: int) -> int:
        return self.experts * 3 * self.width * d


@dataclass(frozen=True)
class LayerShape:
    """What one layer's kernels need from the model config (decode and prefill alike)."""

    hidden: int
    qkv_out: int  # outputs of the input projection(s) (Q, K, V; MLA: its down/up projections folded in)
    attn_out: int  # width of the attention output entering the O projection
    heads: int
    kv_groups: int  # KV heads (1 for MLA: all heads read the shared latent)
    k_dim: int  # per-group key width the scores contract over
    v_dim: int  # per-group value width
    cache_elems: int  # elements cached per token
    window: int | None  # sliding-window length, or None for full attention
    ffn_out: int  # gate+up outputs per token-expert (2 x intermediate)
    ffn_in: int  # intermediate size the down projection reads
    active_ffn: int  # token-expert passes per token (1 for dense, top-k + shared for MoE)
    router: int  # router outputs (experts), 0 for dense
    experts: int  # routed experts resident (0 for dense)
    matrices: tuple[tuple[Matrix, int], ...]  # (matrix, copies) resident in SRAM
    norm_elems: int  # RMSNorm weights (two per layer)
    attn_matrices: tuple[Matrix, ...] = ()  # QKV, O and the router: the attention unit's weights
    pieces: tuple[FfnPiece, ...] = ()  # the FFN: dense MLP, or shared experts then the routed experts

    @cached_property
    def attn_weight_elems(self) -> int:
        return sum(m.m * m.n for m in self.attn_matrices) + self.norm_elems

    def attn_tile_elems(self, rows: int, cols: int) -> int:
        return sum(m.tile_elems(rows, cols) for m in self.attn_matrices) + 2 * ceil_div(self.hidden, cols)

    def is_expert(self, copies: int) -> bool:
        return self.experts > 1 and copies == self.experts

    @cached_property
    def weight_elems(self) -> int:
        return sum(m.m * m.n * copies for m, copies in self.matrices) + self.norm_elems

    def tile_elems_per_pe(self, rows: int, cols: int) -> int:
        # Norm weights are split over the columns and replicated over the rows (each row normalises its copy).
        norms = 2 * ceil_div(self.hidden, cols)
        return sum(m.tile_elems(rows, cols) * copies for m, copies in self.matrices) + norms


def layer_shape(model: ModelSpec, layer: int) -> LayerShape:
    d = model.hidden_size
    if model.mla is not None:
        mla = model.mla
        attn_out = model.num_heads * mla.v_head_dim
        # MLA's chain of down/up projections is priced as one GEMV with the same weights and FMAs.
        qkv_out = ceil_div(model.attention_params() - attn_out * d, d)
        groups, k_dim, v_dim = 1, mla.kv_lora_rank + mla.qk_rope_head_dim, mla.kv_lora_rank
    else:
        attn_out = model.q_dim
        qkv_out = model.q_dim + 2 * model.kv_dim
        groups, k_dim, v_dim = model.num_kv_heads, model.head_dim, model.head_dim
    matrices: list[tuple[Matrix, int]] = [(Matrix(qkv_out, d, False), 1), (Matrix(d, attn_out, True), 1)]
    attn = [Matrix(qkv_out, d, False), Matrix(d, attn_out, True)]
    pieces: list[FfnPiece] = []
    if model.is_moe_layer(layer):
        moe = model.moe
        assert moe is not None
        f = moe.expert_ffn
        matrices += [(Matrix(2 * f, d, False), moe.num_experts), (Matrix(d, f, True), moe.num_experts)]
        matrices.append((Matrix(moe.num_experts, d, False), 1))
        attn.append(Matrix(moe.num_experts, d, False))
        active, router = moe.top_k, moe.num_experts
        if moe.num_shared_experts:
            fs = moe.shared_ffn
            matrices += [
                (Matrix(2 * fs, d, False), moe.num_shared_experts),
                (Matrix(d, fs, True), moe.num_shared_experts),
            ]
            pieces.append(FfnPiece(moe.num_shared_experts, fs, float(moe.num_shared_experts), False))
            # Shared experts of another width are priced as extra passes of the routed shape (same FMAs).
            active += moe.num_shared_experts * fs / f
        pieces.append(FfnPiece(moe.num_experts, f, float(moe.top_k), True))
        ffn = f
    else:
        ffn, active, router = model.dense_ffn, 1, 0
        matrices += [(Matrix(2 * ffn, d, False), 1), (Matrix(d, ffn, True), 1)]
        pieces.append(FfnPiece(1, ffn, 1.0, False))
    return LayerShape(
        hidden=d,
        qkv_out=qkv_out,
        attn_out=attn_out,
        heads=model.num_heads,
        kv_groups=groups,
        k_dim=k_dim,
        v_dim=v_dim,
        cache_elems=model.kv_elements_per_token_per_layer(),
        window=model.sliding_window if model.is_sliding_layer(layer) else None,
        ffn_out=2 * ffn,
        ffn_in=ffn,
        active_ffn=max(1, round(active)),
        router=router,
        experts=model.moe.num_experts if model.is_moe_layer(layer) else 0,
        matrices=tuple(matrices),
        norm_elems=2 * d,
        attn_matrices=tuple(attn),
        pieces=tuple(pieces),
    )


@dataclass(frozen=True)
class LayerCost:
    """Cycles of one layer for one step, split into arithmetic, SRAM-format work and fabric communication."""

    compute_cycles: int
    sram_cycles: int
    fabric_cycles: int

    @property
    def cycles(self) -> int:
        return self.compute_cycles + self.sram_cycles + self.fabric_cycles


def _keys(shape: LayerShape, context: int) -> int:
    return min(context, shape.window) if shape.window else context


def attention(arch: FabricArch, shape: LayerShape, rows: int, cols: int, tokens: int, context: int) -> Cost:
    """Scores, softmax and P.V for `tokens` queries each attending to `context` cached keys."""
    keys_pe = ceil_div(max(1, _keys(shape, context)), cols)
    groups_on_row = min(rows, shape.kv_groups)
    heads_pe = ceil_div(shape.heads, groups_on_row)  # query heads whose dims touch this PE
    share = ceil_div(shape.heads, shape.kv_groups)  # query heads per KV group
    head_line = max(1, rows // shape.kv_groups)  # rows that split one group's dims
    k_pe = ceil_div(shape.kv_groups * shape.k_dim, rows)
    v_pe = ceil_div(shape.kv_groups * shape.v_dim, rows)
    # s[t] += q[h, j] * K[t, j] over this PE's tokens: one FMA over the token vector per (head, dim).
    scores = Cost(tokens * share * k_pe * cf.vec(arch, "fma", keys_pe), 0)
    scores += Cost(0, cf.ktree_allreduce_line(arch, head_line, tokens * heads_pe * keys_pe))
    soft = cf.softmax(arch, cols, keys_pe * cols, tokens * heads_pe)
    # o[h, j] = sum_t p[t] V[t, j]: a dot product over the tokens, accumulated in fp32 (@fmachs).
    pv = Cost(tokens * share * v_pe * cf.vec(arch, "mixed_fma", keys_pe), 0)
    pv += Cost(0, cf.ktree_allreduce_line(arch, cols, tokens * ceil_div(shape.attn_out, rows)))
    return scores + soft + pv


def _gemv(arch, rows, cols, matrix_m, matrix_n, tokens, transposed):
    if transposed:
        return cf.meshgemv(arch, cols, rows, matrix_m, matrix_n, tokens)
    return cf.meshgemv(arch, rows, cols, matrix_m, matrix_n, tokens)


def attention_block_cost(
    arch: FabricArch,
    shape: LayerShape,
    rows: int,
    cols: int,
    tokens: int,
    context: int,
    new_per_sequence: int = 1,
) -> Cost:
    """Decode kernels of the attention unit: norm, QKV, RoPE, KV append, attention, O, residual, norm, router."""
    d = shape.hidden
    total = cf.rmsnorm(arch, cols, d, tokens)
    total += _gemv(arch, rows, cols, shape.qkv_out, d, tokens, False)
    # RoPE on the query and key parts: x*cos + rot(x)*sin = a multiply and an FMA per element. (MLA rotates only
    # its 64-wide rope slice; counting every dimension over-counts this small term there.)
    rope_elems = tokens * ceil_div(shape.attn_out + shape.kv_groups * shape.k_dim, rows)
    total += Cost(cf.vec(arch, "mul", rope_elems) + cf.vec(arch, "fma", rope_elems), 0)
    # Shift-based KV append: one neighbour hop east of this PE's slice of the new entries; a prefill chunk's
    # entries are spread from column 0 over the row (most of them cross the whole region).
    append = tokens * ceil_div(shape.cache_elems, rows)
    hops = 1 if new_per_sequence == 1 else cols - 1
    total += Cost(0, cf.stream(arch, hops, append))
    total += attention(arch, shape, rows, cols, tokens, context)
    total += _gemv(arch, rows, cols, d, shape.attn_out, tokens, True)
    total += cf.elementwise(arch, 1, 1, tokens * ceil_div(d, cols))  # residual add
    total += cf.rmsnorm(arch, cols, d, tokens)
    if shape.router:
        total += _gemv(arch, rows, cols, shape.router, d, tokens, False)
        # top-k selection: one pass over the router logits per chosen expert.
        total += Cost(shape.active_ffn * cf.vec(arch, "add", tokens * ceil_div(shape.router, rows)), 0)
    return total


def piece_passes(piece: FfnPiece, tokens: int, imbalance: float) -> float:
    """Expected expert passes the piece runs for `tokens` tokens: routed groups wait for their busiest share
    (`imbalance` = most loaded / mean), never more than every token through every expert held."""
    passes = tokens * piece.passes
    if piece.routed:
        passes = min(passes * imbalance, float(tokens * piece.experts))
    return passes


def _fractional(cost_of, passes: float) -> Cost:
    """Expected cost of a fractional number of passes: between the two whole counts around it."""
    low = int(passes)
    frac = passes - low
    base = cost_of(low) if low else cf.ZERO
    if frac <= 1e-9:
        return base
    high = cost_of(low + 1)
    return Cost(
        round(base.compute_cycles + frac * (high.compute_cycles - base.compute_cycles)),
        round(base.fabric_cycles + frac * (high.fabric_cycles - base.fabric_cycles)),
    )


def ffn_piece_cost(
    arch: FabricArch, shape: LayerShape, piece: FfnPiece, rows: int, cols: int, tokens: int, imbalance: float
) -> Cost:
    """Decode kernels of an FFN piece: gate/up MeshGEMV, SiLU * up, down MeshGEMV (transposed), and for routed
    experts the weighted sum of their outputs into the token's accumulator."""
    d = shape.hidden

    def cost(passes: int) -> Cost:
        total = _gemv(arch, rows, cols, 2 * piece.width, d, passes, False)
        # SiLU(g) * u = g * sigmoid(g) * u: exp, reciprocal (per element: vector passes), two multiplies.
        act = passes * ceil_div(piece.width, rows)
        total += Cost((cf.EXP_VECTOR_PASSES + 4) * cf.vec(arch, "fma", act), 0)
        total += _gemv(arch, rows, cols, d, piece.width, passes, True)
        if piece.routed:
            total += Cost(cf.vec(arch, "fma", passes * ceil_div(d, cols)), 0)
        return total

    return _fractional(cost, piece_passes(piece, tokens, imbalance))


def dequant_cycles(
    arch: FabricArch,
    shape: LayerShape,
    rows: int,
    cols: int,
    pieces: tuple[FfnPiece, ...],
    attn: bool,
    tokens: int,
    imbalance: float,
) -> int:
    """Sub-16-bit weights are widened to fp16 column by column before the FMAs: one pass per weight element the
    step touches (the widened column is reused by every token of the step). A group of routed experts touches
    the experts its tokens chose, at most all of them."""
    touched = shape.attn_tile_elems(rows, cols) if attn else 0
    for piece in pieces:
        per_expert = piece.tile_elems(shape.hidden, rows, cols) // piece.experts
        used = (
            min(float(piece.experts), piece_passes(piece, tokens, imbalance))
            if piece.routed
            else piece.experts
        )
        touched += round(per_expert * used)
    return cf.vec(arch, "mul", touched)


def layer_cost(
    arch: FabricArch,
    shape: LayerShape,
    rows: int,
    cols: int,
    tokens: int,
    context: int,
    new_per_sequence: int = 1,
    dequant: bool = False,
    imbalance: float = 1.0,
) -> LayerCost:
    """One whole layer for `tokens` tokens (decode: one per sequence; prefill chunk: `new_per_sequence` per
    sequence), GEMV kernels with the weights stationary."""
    total = attention_block_cost(arch, shape, rows, cols, tokens, context, new_per_sequence)
    for piece in shape.pieces:
        total += ffn_piece_cost(arch, shape, piece, rows, cols, tokens, imbalance)
    total += cf.elementwise(arch, 1, 1, tokens * ceil_div(shape.hidden, cols))  # residual add
    sram = dequant_cycles(arch, shape, rows, cols, shape.pieces, True, tokens, imbalance) if dequant else 0
    return LayerCost(total.compute_cycles, sram, total.fabric_cycles)


def activation_elems_per_pe(shape: LayerShape, rows: int, cols: int, tokens: int, context: int) -> int:
    """Activation buffers of one layer step for `tokens` tokens (allocated once per region and shared by its
    layers, which run one after another; K-tree allreduces keep two partial buffers beside each output)."""
    keys_pe = ceil_div(max(1, _keys(shape, context)), cols)
    heads_pe = ceil_div(shape.heads, min(rows, shape.kv_groups))
    # Live across the whole layer: its input and the residual stream. Scratch of one kernel at a time is
    # reused by the next (the largest kernel's output with its two K-tree partial buffers).
    scratch = max(
        3 * ceil_div(shape.qkv_out, rows),
        4 * heads_pe * keys_pe,  # scores, two reduction buffers, exponentials
        3 * ceil_div(shape.attn_out, rows),
        3 * shape.active_ffn * ceil_div(shape.ffn_out, rows),
        3 * ceil_div(shape.hidden, cols),
    )
    per_token = 2 * ceil_div(shape.hidden, cols) + scratch
    return tokens * per_token


def kv_elems_per_pe(shape: LayerShape, rows: int, cols: int, sequences: int, length: int) -> int:
    """KV cache of `sequences` sequences of `length` tokens (a sliding window keeps only its window)."""
    return sequences * ceil_div(_keys(shape, length), cols) * ceil_div(shape.cache_elems, rows)
