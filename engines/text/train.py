"""Fit the text guard's stance model on a labelled manifest and write the model file:

    python -m guardstream.engines.text.train [MANIFEST] [OUT]     # defaults: data/train.jsonl → data/stance_model.json

Each item is scored as the guard scores an upload's metadata: title, description and transcript cleaned,
normalised against obfuscation, first sentence window (text_guard.metadata_spans), MiniLM vector, stance
features. Topic labels: the item's labels plus, for a contrasting pair whose `group` starts with a policy id
("c4.scam-03"), that policy — so the topic head learns the subject and the stance head learns the framing.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from guardstream.engines.base import TextEvidence
from guardstream.engines.text.e5 import E5Embedder
from guardstream.engines.text.embed import Embedder
from guardstream.engines.text.fit import FitData, fit_stance_model
from guardstream.engines.text.model import MODEL_FILE, StanceModel
from guardstream.engines.text.normalize import normalize_for_scoring
from guardstream.engines.text.stance import FeatureBuilder, PolicyClauses
from guardstream.schemas.policy import Policy, load_policy_pack

TRAIN_MANIFEST = MODEL_FILE.with_name("train.jsonl")
DEFAULT_EMBEDDERS = ("minilm", "e5")


@dataclass(frozen=True)
class Example:
    text: TextEvidence
    labels: frozenset[str]
    group: str = ""


def example_text(text: TextEvidence) -> str | None:
    """The text the guard would score first for this metadata (None: nothing informative)."""
    from guardstream.engines.text_guard import informative, metadata_spans

    spans = [s for s in metadata_spans(text) if informative(s.text)]
    return spans[0].text if spans else None


def topic_of(example: Example, policy_ids: Sequence[str]) -> list[float]:
    prefix = example.group.rsplit("-", 1)[0] if "-" in example.group else ""
    return [float(p in example.labels or p == prefix) for p in policy_ids]


def fit_data(
    examples: Sequence[Example],
    policies: Sequence[Policy],
    embedder: Embedder,
    words: frozenset[str],
    e5: E5Embedder | None = None,
) -> tuple[FitData, list[PolicyClauses]]:
    kept = [(e, t) for e in examples if (t := example_text(e.text)) is not None]
    if not kept:
        raise ValueError("no example has informative text to fit on")
    clauses = [PolicyClauses.of(p) for p in policies]
    builder = FeatureBuilder(embedder.embed, clauses)
    texts = [normalize_for_scoring(t, words) for _, t in kept]
    vectors = embedder.embed(texts)
    ids = [p.id for p in policies]
    labels = np.array([[float(p in e.labels) for p in ids] for e, _ in kept])
    extra = e5.embed(texts) if e5 else None
    data = FitData(
        features=builder.features(vectors, extra), harmful=(labels.sum(axis=1) > 0).astype(float),
        topic=np.array([topic_of(e, ids) for e, _ in kept]), labels=labels,
        groups=[e.group or f"item-{i}" for i, (e, _) in enumerate(kept)],
        policy_features=np.stack([builder.policy_features(vectors, c) for c in clauses], axis=1),
    )  # fmt: skip
    return data, clauses


def train(
    examples: Sequence[Example], policies: Sequence[Policy], source: str, l2: float = 10.0,
    embedders: tuple[str, ...] = DEFAULT_EMBEDDERS,
) -> StanceModel:  # fmt: skip
    """Fit a stance model on `examples` (MiniLM, and e5 when asked, loaded here); `source` goes in its meta."""
    from guardstream.engines.text_guard import known_words

    embedder = Embedder()
    embedder.load()
    e5 = None
    if "e5" in embedders:
        e5 = E5Embedder()
        e5.load()
    data, clauses = fit_data(examples, policies, embedder, known_words(), e5)
    meta = {"fitted_on": source, "examples": len(data.harmful), "l2": l2, "features": int(data.features.shape[1])}
    reviews = [p.thresholds.review for p in policies]
    return fit_stance_model(data, clauses, reviews, l2=l2, embedders=embedders, meta=meta)


def read_examples(path: Path) -> tuple[list[Example], str]:
    """Examples of a JSONL manifest (title/description/transcript/labels/group) and its sha256 digest."""
    raw = path.read_bytes()
    rows = [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]
    examples = [
        Example(TextEvidence(r.get("title", ""), r.get("description", ""), r.get("transcript", "")),
                frozenset(r["labels"]), r.get("group", ""))
        for r in rows
    ]  # fmt: skip
    return examples, "sha256:" + hashlib.sha256(raw).hexdigest()


def main(argv: Sequence[str]) -> int:
    manifest = Path(argv[0]) if argv else TRAIN_MANIFEST
    out = Path(argv[1]) if len(argv) > 1 else MODEL_FILE
    examples, digest = read_examples(manifest)
    policies = load_policy_pack().policy_set("default").policies
    model = train(examples, policies, f"{manifest.name} {digest}")
    model.save(out)
    print(json.dumps({"model": str(out), "version": model.version, **model.meta}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
