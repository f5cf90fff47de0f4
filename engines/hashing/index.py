"""An exact range index for 256-bit hashes: multi-index hashing (as HMA's faiss IndexBinaryMultiHash does —
16 tables of 16-bit chunks, probing each chunk with up to radius // 16 bits flipped, which the pigeonhole
principle makes exact), with the inner loop compiled by numba. faiss's brute-force IndexBinaryFlat is the
reference it is checked and benchmarked against."""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np

CHUNKS = 16
CHUNK_BITS = 16
MAX_FLIPS = 2  # radius ≤ 47 is searched by the index; larger radii fall back to brute force (still exact)
PER_QUERY_CAPACITY = 64


@dataclass(frozen=True)
class RangeHits:
    """All (query row, entry row, distance) with distance ≤ radius, sorted by query then distance."""

    query: np.ndarray
    entry: np.ndarray
    distance: np.ndarray

    def __len__(self) -> int:
        return len(self.query)


def _flip_masks(count: int) -> np.ndarray:
    masks = [0]
    for n in range(1, count + 1):
        masks += [sum(1 << b for b in bits) for bits in itertools.combinations(range(CHUNK_BITS), n)]
    return np.array(masks, dtype=np.int64)


def _check(hashes: np.ndarray) -> np.ndarray:
    if hashes.ndim != 2 or hashes.shape[1] != 32 or hashes.dtype != np.uint8:
        raise ValueError("hashes must be uint8 (n, 32)")
    return np.ascontiguousarray(hashes)


def _sorted(query: np.ndarray, entry: np.ndarray, distance: np.ndarray) -> RangeHits:
    order = np.lexsort((entry, distance, query))
    return RangeHits(query[order].astype(np.int64), entry[order].astype(np.int64), distance[order].astype(np.int32))


class HashIndex:
    """Built once from uint8 (n, 32) hashes; `range_search` returns every entry within the radius."""

    def __init__(self, hashes: np.ndarray) -> None:
        self.codes = _check(hashes)
        chunks = self.codes.view(">u2").astype(np.int64)  # (n, 16) big-endian 16-bit chunks
        keys = (chunks + np.arange(CHUNKS, dtype=np.int64) * (1 << CHUNK_BITS)).T.ravel()
        order = np.argsort(keys, kind="stable")
        self.ids = (order % max(1, len(self.codes))).astype(np.int64)
        self.starts = np.zeros(CHUNKS * (1 << CHUNK_BITS) + 1, dtype=np.int64)
        np.cumsum(np.bincount(keys, minlength=CHUNKS * (1 << CHUNK_BITS)), out=self.starts[1:])
        self.words = self.codes.view(np.uint64)
        table = np.repeat(np.arange(CHUNKS), len(self.codes))[order] // 4
        self.prefilter = np.stack(
            [self.words[self.ids, (table + 1) % 4], self.words[self.ids, (table + 2) % 4]], axis=1
        )

    def __len__(self) -> int:
        return len(self.codes)

    def range_search(self, queries: np.ndarray, radius: int) -> RangeHits:
        """Every (query, entry) pair within `radius` bits (inclusive)."""
        queries = _check(queries)
        if radius < 0:
            raise ValueError("radius must be non-negative")
        if len(self) == 0 or len(queries) == 0:
            return _sorted(*(np.zeros(0, dtype=np.int64),) * 3)
        if radius // CHUNKS > MAX_FLIPS:
            return brute_force_range_search(self.codes, queries, radius)
        return self._search(queries, radius)

    def _search(self, queries: np.ndarray, radius: int) -> RangeHits:
        from guardstream.engines.hashing._mih_kernel import search

        out_ids = np.empty((len(queries), PER_QUERY_CAPACITY), dtype=np.int64)
        out_d = np.empty((len(queries), PER_QUERY_CAPACITY), dtype=np.int64)
        out_n = np.zeros(len(queries), dtype=np.int64)
        chunks = queries.view(">u2").astype(np.int64)
        flips = _flip_masks(radius // CHUNKS)
        q_words = np.ascontiguousarray(queries.view(np.uint64))
        search(q_words, chunks, flips, self.starts, self.ids, self.prefilter, self.words, radius, out_ids, out_d, out_n)
        return self._collect(queries, radius, out_ids, out_d, out_n)

    def _collect(
        self, queries: np.ndarray, radius: int, out_ids: np.ndarray, out_d: np.ndarray, out_n: np.ndarray
    ) -> RangeHits:
        """Flatten the per-query buffers; a query that overflowed its buffer is answered by brute force."""
        counts = np.minimum(out_n, PER_QUERY_CAPACITY)
        mask = np.arange(PER_QUERY_CAPACITY)[None, :] < counts[:, None]
        rows = np.repeat(np.arange(len(queries)), counts)
        parts = [(rows, out_ids[mask], out_d[mask])]
        for q in np.flatnonzero(out_n > PER_QUERY_CAPACITY):
            full = brute_force_range_search(self.codes, queries[q : q + 1], radius)
            keep = rows != q
            parts = [(p[0][keep], p[1][keep], p[2][keep]) for p in parts]
            parts.append((np.full(len(full), q), full.entry, full.distance))
            rows = parts[0][0]
        return _sorted(*(np.concatenate([p[i] for p in parts]) for i in range(3)))


def brute_force_range_search(codes: np.ndarray, queries: np.ndarray, radius: int) -> RangeHits:
    """The exact reference: faiss IndexBinaryFlat range search (distance < radius + 1)."""
    import faiss

    flat = faiss.IndexBinaryFlat(256)
    flat.add(_check(codes))
    return flat_range_search(flat, queries, radius)


def flat_range_search(flat: object, queries: np.ndarray, radius: int) -> RangeHits:
    """Range search on an already built faiss IndexBinaryFlat."""
    limits, distances, labels = flat.range_search(_check(queries), radius + 1)  # type: ignore[attr-defined]
    rows = np.repeat(np.arange(len(queries)), np.diff(limits.astype(np.int64)))
    return _sorted(rows, labels, distances)
