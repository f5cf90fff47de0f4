"""Policy-chunk KV cache (policy-first layout): a chunk's per-layer keys/values depend only on the system
prompt, the policy text and the model, so they are computed once per (policy id, policy-set version, model
version) and reused across uploads and batches."""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from typing import Any

from guardstream.schemas.policy import Policy

CacheKey = tuple[str, ...]


def policy_key(policy: Policy, policy_set_version: str, model_version: str) -> CacheKey:
    """(policy id, policy-set version, model version). Without a set version, the policy's own content hash
    stands in, so an edited policy can never hit a stale entry."""
    version = policy_set_version or "content:" + hashlib.sha256(policy.model_dump_json().encode()).hexdigest()[:16]
    return (policy.id, version, model_version)


class PolicyKVCache:
    """A small LRU map from cache key to per-layer KV."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[CacheKey, Any] = OrderedDict()
        self.hits = 0
        self.misses = 0

    def get(self, key: CacheKey) -> Any | None:
        if key in self._entries:
            self._entries.move_to_end(key)
            self.hits += 1
            return self._entries[key]
        self.misses += 1
        return None

    def put(self, key: CacheKey, value: Any) -> None:
        if self.max_entries <= 0:
            return
        self._entries[key] = value
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
