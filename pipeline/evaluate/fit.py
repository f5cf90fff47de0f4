"""`guardstream eval FIT.jsonl --fit OUT --eval-on OTHER.jsonl`: refit the text guard's stance model (stance and
topic heads, fusion weights, operating offsets) on a labelled manifest and write it as a new model file whose
content hash is its version — the text guard then reports "2.0+<hash>" on every verdict it scores with it.
The fit is always reported on another manifest: the same path or the same bytes are refused."""

from __future__ import annotations

import hashlib
from pathlib import Path

from guardstream.engines.base import TextEvidence
from guardstream.engines.text.model import StanceModel
from guardstream.engines.text.train import Example, train
from guardstream.pipeline.evaluate.manifest import ManifestItem, read_manifest
from guardstream.schemas.policy import PolicySet


def _digest(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def check_different(fit_manifest: Path, eval_manifest: Path) -> None:
    """ValueError when the manifest to report on is the one being fitted (same file or same content)."""
    if fit_manifest.resolve() == eval_manifest.resolve() or _digest(fit_manifest) == _digest(eval_manifest):
        raise ValueError(f"--eval-on {eval_manifest} is the fitted manifest: report on a manifest not fitted on")


def examples_of(items: list[ManifestItem]) -> list[Example]:
    return [Example(TextEvidence(i.title, i.description, i.transcript), i.labels, i.group) for i in items if i.has_text]


def fit_text_calibration(fit_manifest: Path, eval_manifest: Path, out: Path, policy_set: PolicySet) -> StanceModel:
    """Fit on `fit_manifest` (its text items; media-only items carry no text to fit), write `out`."""
    check_different(fit_manifest, eval_manifest)
    read_manifest(eval_manifest, policy_set.policy_ids)  # a bad report manifest fails before a long fit
    items = read_manifest(fit_manifest, policy_set.policy_ids)
    model = train(examples_of(items), policy_set.policies, f"{fit_manifest.name} {_digest(fit_manifest)}")
    out.parent.mkdir(parents=True, exist_ok=True)
    model.save(out)
    return model
