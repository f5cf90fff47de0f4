# Triton kernel parameters are pointers and scalars that Triton specialises itself; they carry no Python types.
# mypy: disable-error-code="no-untyped-def"
"""Triton kernels of fused PAP. The host side (`fused_pap.py`) imports this module lazily, only once it has
decided to use the kernel, so nothing else in the guard needs Triton.

Data layout (one upload): q (heads, sources, head_dim) post-RoPE queries of every policy's source rows, policies
contiguous (`offsets`, CSR); k (kv_heads, keys, head_dim) all keys of the layer; segment id and order per source row
and per key, and the segment visibility matrix — the attention mask is recomputed in-kernel, never stored.
Passes: softmax statistics per (head, source row) over all visible keys → relevance tiles (policy × visual) as the
mean over heads and source rows of exp(s − m) / l → per-policy normalisation → exact ranks with the reference's tie
rule → gather of the kept rows. Nothing of size heads × sources × visual is written to memory.
"""

from __future__ import annotations

try:
    import triton
    import triton.language as tl
except ImportError as exc:  # only reached when a caller chose the kernel without Triton installed
    raise ImportError("the fused PAP kernel needs Triton: pip install 'guardstream[gpu]' (or triton==3.9.0)") from exc


@triton.jit
def _allowed(rseg, rord, kseg, kord, vis_ptr, nseg, rmask, cmask):
    """The runner's float_mask as a predicate: a visible segment, or the same segment and not later."""
    vis = tl.load(vis_ptr + rseg[:, None] * nseg + kseg[None, :], mask=rmask[:, None] & cmask[None, :], other=0)
    same = (rseg[:, None] == kseg[None, :]) & (kord[None, :] <= rord[:, None])
    return ((vis != 0) | same) & rmask[:, None] & cmask[None, :]


@triton.jit
def softmax_stats_kernel(
    q_ptr, k_ptr, src_seg_ptr, src_ord_ptr, key_seg_ptr, key_ord_ptr, vis_ptr, m_ptr, l_ptr,
    n_src, n_keys, head_dim, group, nseg, scale,
    BS: tl.constexpr, BN: tl.constexpr, BD: tl.constexpr,
):  # fmt: skip
    """Row max and exp-sum of every (head, source row) over all keys it may see (online softmax)."""
    h = tl.program_id(0)
    rows = tl.program_id(1) * BS + tl.arange(0, BS)
    rmask = rows < n_src
    dims = tl.arange(0, BD)
    dmask = dims < head_dim
    q = tl.load(q_ptr + (h * n_src + rows[:, None]) * head_dim + dims[None, :], rmask[:, None] & dmask, other=0.0)
    rseg = tl.load(src_seg_ptr + rows, rmask, other=0)
    rord = tl.load(src_ord_ptr + rows, rmask, other=0)
    kvh = h // group
    m = tl.full([BS], float("-inf"), tl.float32)
    acc = tl.zeros([BS], tl.float32)
    for start in range(0, n_keys, BN):
        cols = start + tl.arange(0, BN)
        cmask = cols < n_keys
        k = tl.load(
            k_ptr + (kvh * n_keys + cols[:, None]) * head_dim + dims[None, :], cmask[:, None] & dmask, other=0.0
        )
        kseg = tl.load(key_seg_ptr + cols, cmask, other=0)
        kord = tl.load(key_ord_ptr + cols, cmask, other=0)
        ok = _allowed(rseg, rord, kseg, kord, vis_ptr, nseg, rmask, cmask)
        s = tl.where(ok, tl.dot(q, tl.trans(k), input_precision="ieee") * scale, float("-inf"))
        m_new = tl.maximum(m, tl.max(s, axis=1))
        shift = tl.where(m_new == float("-inf"), 0.0, m_new)
        acc = acc * tl.exp(m - shift) + tl.sum(tl.exp(s - shift[:, None]), axis=1)
        m = m_new
    tl.store(m_ptr + h * n_src + rows, m, rmask)
    tl.store(l_ptr + h * n_src + rows, acc, rmask)


@triton.jit
def relevance_kernel(
    q_ptr, k_ptr, m_ptr, l_ptr, offsets_ptr, vis_cols_ptr,
    src_seg_ptr, src_ord_ptr, key_seg_ptr, key_ord_ptr, vis_ptr, out_ptr,
    n_src, n_keys, n_visual, n_heads, head_dim, group, nseg, scale,
    BS: tl.constexpr, BV: tl.constexpr, BD: tl.constexpr,
):  # fmt: skip
    """Mean over heads and the policy's source rows of softmax probability to each visual token of a tile."""
    p = tl.program_id(0)
    vcols = tl.program_id(1) * BV + tl.arange(0, BV)
    vmask = vcols < n_visual
    cols = tl.load(vis_cols_ptr + vcols, vmask, other=0)
    kseg = tl.load(key_seg_ptr + cols, vmask, other=0)
    kord = tl.load(key_ord_ptr + cols, vmask, other=0)
    dims = tl.arange(0, BD)
    dmask = dims < head_dim
    lo = tl.load(offsets_ptr + p)
    hi = tl.load(offsets_ptr + p + 1)
    acc = tl.zeros([BV], tl.float32)
    for h in range(0, n_heads):
        kvh = h // group
        k = tl.load(
            k_ptr + (kvh * n_keys + cols[:, None]) * head_dim + dims[None, :], vmask[:, None] & dmask, other=0.0
        )
        for start in range(lo, hi, BS):
            rows = start + tl.arange(0, BS)
            rmask = rows < hi
            q = tl.load(
                q_ptr + (h * n_src + rows[:, None]) * head_dim + dims[None, :], rmask[:, None] & dmask, other=0.0
            )
            rseg = tl.load(src_seg_ptr + rows, rmask, other=0)
            rord = tl.load(src_ord_ptr + rows, rmask, other=0)
            m = tl.load(m_ptr + h * n_src + rows, rmask, other=0.0)
            denom = tl.load(l_ptr + h * n_src + rows, rmask, other=1.0)
            ok = _allowed(rseg, rord, kseg, kord, vis_ptr, nseg, rmask, vmask)
            s = tl.dot(q, tl.trans(k), input_precision="ieee") * scale
            prob = tl.where(ok, tl.exp(s - m[:, None]) / denom[:, None], 0.0)
            acc += tl.sum(prob, axis=0)
    count = (hi - lo) * n_heads
    tl.store(out_ptr + p * n_visual + vcols, acc / count.to(tl.float32), vmask)


@triton.jit
def normalise_kernel(rel_ptr, n_visual, tiny, BV: tl.constexpr):
    """Each policy's row divided by its sum (clamped), summed in a fixed order so ties stay ties."""
    p = tl.program_id(0)
    total = tl.zeros([BV], tl.float32)
    for start in range(0, n_visual, BV):
        cols = start + tl.arange(0, BV)
        total += tl.load(rel_ptr + p * n_visual + cols, cols < n_visual, other=0.0)
    norm = tl.maximum(tl.sum(total, axis=0), tiny)
    for start in range(0, n_visual, BV):
        cols = start + tl.arange(0, BV)
        cmask = cols < n_visual
        row = tl.load(rel_ptr + p * n_visual + cols, cmask, other=0.0)
        tl.store(rel_ptr + p * n_visual + cols, row / norm, cmask)


@triton.jit
def rank_kernel(rel_ptr, rank_ptr, best_ptr, n_policies, n_visual, BV: tl.constexpr, BU: tl.constexpr):
    """Rank of each visual token in each policy (0 = most relevant, ties: earlier token first) and its best rank."""
    vcols = tl.program_id(0) * BV + tl.arange(0, BV)
    vmask = vcols < n_visual
    best = tl.full([BV], 2147483647, tl.int32)
    for p in range(0, n_policies):
        rv = tl.load(rel_ptr + p * n_visual + vcols, vmask, other=0.0)
        rank = tl.zeros([BV], tl.int32)
        for start in range(0, n_visual, BU):
            ucols = start + tl.arange(0, BU)
            umask = ucols < n_visual
            ru = tl.load(rel_ptr + p * n_visual + ucols, umask, other=0.0)
            before = (ru[None, :] > rv[:, None]) | ((ru[None, :] == rv[:, None]) & (ucols[None, :] < vcols[:, None]))
            rank += tl.sum((before & umask[None, :]).to(tl.int32), axis=1)
        tl.store(rank_ptr + p * n_visual + vcols, rank, vmask)
        best = tl.minimum(best, rank)
    tl.store(best_ptr + vcols, best, vmask)


@triton.jit
def gather_rows_kernel(h_ptr, keep_ptr, dest_ptr, out_ptr, n_rows, width, BR: tl.constexpr, BW: tl.constexpr):
    """Copy every kept row of `h` to its compacted position."""
    rows = tl.program_id(0) * BR + tl.arange(0, BR)
    rmask = rows < n_rows
    keep = tl.load(keep_ptr + rows, rmask, other=0) != 0
    dest = tl.load(dest_ptr + rows, rmask, other=0)
    for start in range(0, width, BW):
        cols = start + tl.arange(0, BW)
        mask = (rmask & keep)[:, None] & (cols < width)[None, :]
        values = tl.load(h_ptr + rows[:, None] * width + cols[None, :], mask, other=0.0)
        tl.store(out_ptr + dest[:, None] * width + cols[None, :], values, mask)
