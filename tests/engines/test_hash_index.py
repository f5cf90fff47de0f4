"""The multi-index-hashing index returns exactly what brute force (faiss IndexBinaryFlat) returns, at and
around the PDQ threshold, including radii it hands to brute force and queries that overflow a buffer."""

from __future__ import annotations

import numpy as np
import pytest

from guardstream.engines.hashing.index import HashIndex, RangeHits, brute_force_range_search


def _flip(rng: np.random.Generator, codes: np.ndarray, max_bits: int) -> np.ndarray:
    bits = np.unpackbits(codes, axis=1)
    for row in bits:
        row[rng.choice(256, rng.integers(0, max_bits + 1), replace=False)] ^= 1
    return np.packbits(bits, axis=1)


def _pairs(hits: RangeHits) -> set[tuple[int, int, int]]:
    return set(zip(hits.query.tolist(), hits.entry.tolist(), hits.distance.tolist(), strict=True))


@pytest.fixture(scope="module")
def bank() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 256, (20_000, 32), dtype=np.uint8)
    queries = np.concatenate([_flip(rng, codes[rng.choice(len(codes), 150)], 40), codes[:5]])
    return codes, queries


@pytest.mark.parametrize("radius", [0, 10, 31, 32, 47, 60])
def test_recall_equals_brute_force(bank: tuple[np.ndarray, np.ndarray], radius: int) -> None:
    codes, queries = bank
    got = HashIndex(codes).range_search(queries, radius)
    want = brute_force_range_search(codes, queries, radius)
    assert _pairs(got) == _pairs(want)
    assert len(want) > 0 and (got.distance <= radius).all()


def test_a_query_with_many_neighbours_overflows_into_brute_force() -> None:
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (1, 32), dtype=np.uint8)
    codes = np.concatenate([_flip(rng, np.repeat(base, 300, axis=0), 6), rng.integers(0, 256, (500, 32), np.uint8)])
    got = HashIndex(codes).range_search(base, 31)
    assert _pairs(got) == _pairs(brute_force_range_search(codes, base, 31))
    assert len(got) >= 300


def test_empty_index_and_bad_input() -> None:
    empty = HashIndex(np.zeros((0, 32), dtype=np.uint8))
    assert len(empty.range_search(np.zeros((2, 32), dtype=np.uint8), 31)) == 0
    with pytest.raises(ValueError):
        HashIndex(np.zeros((3, 16), dtype=np.uint8))
    with pytest.raises(ValueError):
        empty.range_search(np.zeros((1, 32), dtype=np.uint8), -1)
