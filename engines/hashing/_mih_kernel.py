"""The compiled inner loop of multi-index hashing (numba; imported only when an index is searched)."""

from __future__ import annotations

import numba
import numpy as np

CHUNKS = 16
CHUNK_KEYS = 1 << 16
M1 = np.uint64(0x5555555555555555)
M2 = np.uint64(0x3333333333333333)
M4 = np.uint64(0x0F0F0F0F0F0F0F0F)
H01 = np.uint64(0x0101010101010101)


@numba.njit(cache=True, nogil=True, inline="always")
def _popcount(x: np.uint64) -> np.uint64:
    x = x - ((x >> np.uint64(1)) & M1)
    x = (x & M2) + ((x >> np.uint64(2)) & M2)
    x = (x + (x >> np.uint64(4))) & M4
    return (x * H01) >> np.uint64(56)


@numba.njit(cache=True, nogil=True)
def _distance(codes: np.ndarray, entry: int, query: np.ndarray, limit: int) -> int:
    d = 0
    for w in range(4):
        d += int(_popcount(codes[entry, w] ^ query[w]))
        if d > limit:
            return d
    return d


@numba.njit(cache=True, nogil=True, parallel=True)
def search(
    queries: np.ndarray, chunks: np.ndarray, flips: np.ndarray, starts: np.ndarray, ids: np.ndarray,
    prefilter: np.ndarray, codes: np.ndarray, radius: int, out_ids: np.ndarray, out_d: np.ndarray,
    out_n: np.ndarray,
) -> None:  # fmt: skip
    """For each query: every entry within `radius`, probing each 16-bit chunk's table at the chunk's value with
    each of `flips` XORed in (pigeonhole: some chunk is within radius // 16 bits). Unique entries, up to
    out_ids.shape[1] per query; out_n[q] > that capacity means the query overflowed. `prefilter[j]` holds, in
    table order, two 64-bit words of entry ids[j] outside chunk k's word: read sequentially, they reject almost
    every candidate (a lower bound on the distance) before its full code is fetched from memory."""
    cap = out_ids.shape[1]
    for q in numba.prange(queries.shape[0]):
        n = 0
        for k in range(CHUNKS):
            wa, wb = (k // 4 + 1) % 4, (k // 4 + 2) % 4
            qa, qb = queries[q, wa], queries[q, wb]
            for f in range(flips.shape[0]):
                slot = k * CHUNK_KEYS + (chunks[q, k] ^ flips[f])
                for j in range(starts[slot], starts[slot + 1]):
                    if int(_popcount(prefilter[j, 0] ^ qa)) + int(_popcount(prefilter[j, 1] ^ qb)) > radius:
                        continue
                    entry = ids[j]
                    d = _distance(codes, entry, queries[q], radius)
                    if d > radius:
                        continue
                    seen = False
                    for z in range(min(n, cap)):
                        if out_ids[q, z] == entry:
                            seen = True
                            break
                    if not seen:
                        if n < cap:
                            out_ids[q, n] = entry
                            out_d[q, n] = d
                        n += 1
        out_n[q] = n
