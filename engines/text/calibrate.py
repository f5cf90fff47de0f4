"""Fit the text guard's per-policy calibration on the generated labelled set and the neutral background, and
evaluate it.

Procedure (run `python -m guardstream.engines.text.calibrate`; it rewrites calibration.json and labelled_eval.json):

1. Generate the labelled set (engines/text/labelled_set.py): 132 uploads, phrases alternating between the
   `fit` and `heldout` splits, so no phrase is both fitted and evaluated. Take the neutral background
   (engines/text/background.py: generated generic titles and file names, everyday captions, on-screen phrases),
   also split in halves.
2. Run the guard's own OCR + embedding path on every `fit` upload and take, per policy, the features
   (s_violating, margin, s_framing — see calibration.py) of the upload's most policy-like span; each informative
   `fit` background text is one span (the guard skips spans of fewer than MIN_WORDS words).
3. Per labelled policy, fit a class-balanced, L2-regularised logistic regression: positives are that policy's
   harmful uploads, negatives every other `fit` upload (its hard-benign counterparts, other policies' harmful
   text, neutral captions) and the `fit` background. A `pooled` fit over all labelled policies serves policies
   without labelled data.
4. Background offset, per policy of the pack: the highest z any `fit` background text reaches under that
   policy's weights, plus BACKGROUND_MARGIN, so no neutral text of the fit half reaches the review threshold.
5. Score every upload with the fitted guard through `score_batch` and report, per policy and split, precision,
   recall and false-positive rate at the policy's review threshold, with the hard-benign FPR separately; the
   rate at which neutral uploads, the held-out background (as a title and as a description) and the held-out
   generic titles (background.HELDOUT_TITLES) get any flag across all policies of the pack; and how the demo's
   phrases (pipeline/demo_data.py, never fitted on) are checked by tests/engines/test_text_guard.py.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

from guardstream.engines.base import Frames, GuardRequest, TextEvidence
from guardstream.engines.text.background import HELDOUT_TITLES, background
from guardstream.engines.text.calibration import CALIBRATION_FILE, Calibration, fit_platt
from guardstream.engines.text.labelled_set import HARD_BENIGN, NEUTRAL, PHRASES, LabelledItem, labelled_set
from guardstream.engines.text.scoring import policy_anchors, span_features
from guardstream.engines.text_guard import TextGuard, informative
from guardstream.schemas.policy import PolicySet, load_policy_pack

EVAL_FILE = Path(__file__).with_name("labelled_eval.json")
# How far (in logit units) each policy's review point sits above the highest-scoring neutral background text.
BACKGROUND_MARGIN = 0.5


def item_features(guard: TextGuard, items: list[LabelledItem], policy_set: PolicySet) -> dict[str, np.ndarray]:
    """Per policy, an (n_items, 2) array of the most policy-like span's features (zeros when no text)."""
    out = {p.id: np.zeros((len(items), 3)) for p in policy_set.policies}
    for n, item in enumerate(items):
        spans = guard.spans(GuardRequest(item.item_id, item.frames, policy_set.policies))
        if not spans:
            continue
        vectors = guard.embedder.embed([s.text for s in spans])
        for policy in policy_set.policies:
            anchors = policy_anchors(policy)
            anchor_vectors = guard.embedder.embed([a.text for a in anchors])
            feats = span_features(vectors, anchors, anchor_vectors, guard.framing_vectors())
            out[policy.id][n] = feats[int(np.argmax(feats[:, 0]))]
    return out


def background_features(guard: TextGuard, texts: list[str], policy_set: PolicySet) -> dict[str, np.ndarray]:
    """Per policy, the (n_texts, 3) features of each neutral background text as one span."""
    vectors = guard.embedder.embed([t for t in texts if informative(t)])
    out = {}
    for policy in policy_set.policies:
        anchors = policy_anchors(policy)
        anchor_vectors = guard.embedder.embed([a.text for a in anchors])
        out[policy.id] = span_features(vectors, anchors, anchor_vectors, guard.framing_vectors())
    return out


def fit(guard: TextGuard, items: list[LabelledItem], policy_set: PolicySet) -> Calibration:
    fit_items = [i for i in items if i.split == "fit"]
    features = item_features(guard, fit_items, policy_set)
    neutral = background_features(guard, background("fit"), policy_set)
    weights, pooled_x, pooled_y = {}, [], []
    for pid in PHRASES:
        x = np.vstack([features[pid], neutral[pid]])
        labels = np.concatenate([[i.violates == pid for i in fit_items], np.zeros(len(neutral[pid]))])
        weights[pid] = fit_platt(x, labels)
        pooled_x.append(x)
        pooled_y.append(labels)
    pooled = fit_platt(np.vstack(pooled_x), np.concatenate(pooled_y))
    per_policy = {}
    for policy in policy_set.policies:
        w = weights.get(policy.id, pooled)
        top = max(w.logit(*row) for row in neutral[policy.id])
        per_policy[policy.id] = w.with_offset(round(max(0.0, top + BACKGROUND_MARGIN), 6))
    pooled = pooled.with_offset(max(w.background_offset for w in per_policy.values()))
    digest = hashlib.sha256(json.dumps([policy_set.version, repr(per_policy), repr(pooled)]).encode()).hexdigest()
    return Calibration(version=digest[:12], pooled=pooled, policies=per_policy)


def _rates(flags: list[bool], truth: list[bool]) -> dict[str, float | int | None]:
    tp = sum(f and t for f, t in zip(flags, truth, strict=True))
    fp = sum(f and not t for f, t in zip(flags, truth, strict=True))
    fn = sum(t and not f for f, t in zip(flags, truth, strict=True))
    tn = sum(not f and not t for f, t in zip(flags, truth, strict=True))
    return {
        "tp": tp, "fp": fp, "fn": fn, "tn": tn,
        "precision": round(tp / (tp + fp), 3) if tp + fp else None,
        "recall": round(tp / (tp + fn), 3) if tp + fn else None,
        "fpr": round(fp / (fp + tn), 3) if fp + tn else None,
    }  # fmt: skip


def evaluate(guard: TextGuard, items: list[LabelledItem], policy_set: PolicySet) -> dict[str, object]:
    """Score each upload against the whole pack and report rates per split and policy."""
    probs: dict[str, dict[str, float]] = {}
    for item in items:
        result = guard.score_batch([GuardRequest(item.item_id, item.frames, policy_set.policies)])[0]
        probs[item.item_id] = {s.policy_id: s.probability for s in result.scores}
    report: dict[str, object] = {"calibration_version": guard.calibration.version, "items": len(items)}
    for split in ("fit", "heldout"):
        chosen = [i for i in items if i.split == split]
        per_policy = {}
        for policy in policy_set.policies:
            flags = [probs[i.item_id][policy.id] >= policy.thresholds.review for i in chosen]
            row = _rates(flags, [i.violates == policy.id for i in chosen])
            hard = [
                f for f, i in zip(flags, chosen, strict=True) if i.kind == HARD_BENIGN and i.target_policy == policy.id
            ]
            row["hard_benign_fpr"] = round(sum(hard) / len(hard), 3) if hard else None
            per_policy[policy.id] = row
        neutral = [i for i in chosen if i.kind == NEUTRAL]
        any_flag = [any(probs[i.item_id][p.id] >= p.thresholds.review for p in policy_set.policies) for i in neutral]
        report[split] = {
            "items": len(chosen),
            "policies": per_policy,
            "neutral_any_flag_rate": round(sum(any_flag) / len(neutral), 3),
        }
    return report


def score_texts(
    guard: TextGuard, texts: list[str], policy_set: PolicySet, field: str = "title"
) -> list[dict[str, float]]:
    """Each text as the upload's only evidence (no frames), scored against the whole pack."""
    empty = Frames(np.zeros((0, 8, 8, 3), np.uint8), (), ())
    out = []
    for n, text in enumerate(texts):
        request = GuardRequest(f"t{n}", empty, policy_set.policies, TextEvidence(**{field: text}))
        result = guard.score_batch([request])[0]
        out.append({s.policy_id: s.probability for s in result.scores})
    return out


def neutral_report(probs: list[dict[str, float]], policy_set: PolicySet) -> dict[str, object]:
    """Any-flag rate over neutral texts, and per policy its flag rate and the highest probability seen."""
    review = {p.id: p.thresholds.review for p in policy_set.policies}
    any_flag = [any(row[pid] >= review[pid] for pid in review) for row in probs]
    return {
        "texts": len(probs),
        "any_flag_rate": round(sum(any_flag) / max(1, len(probs)), 3),
        "per_policy_flag_rate": {
            pid: round(sum(row[pid] >= review[pid] for row in probs) / max(1, len(probs)), 3) for pid in review
        },
        "per_policy_max_probability": {pid: round(max(row[pid] for row in probs), 3) for pid in review},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calibration-out", type=Path, default=CALIBRATION_FILE)
    parser.add_argument("--eval-out", type=Path, default=EVAL_FILE)
    args = parser.parse_args()
    policy_set = load_policy_pack().policy_set("default")
    items = labelled_set()
    guard = TextGuard()
    guard.load()
    calibration = fit(guard, items, policy_set)
    args.calibration_out.write_text(calibration.to_json())
    guard.calibration = calibration
    report = evaluate(guard, items, policy_set)
    report["neutral_titles_heldout"] = neutral_report(score_texts(guard, [*HELDOUT_TITLES, ""], policy_set), policy_set)
    report["background_heldout_as_title"] = neutral_report(
        score_texts(guard, background("heldout"), policy_set), policy_set
    )
    report["background_heldout_as_ocr"] = neutral_report(
        score_texts(guard, background("heldout"), policy_set, field="description"), policy_set
    )
    args.eval_out.write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: v for k, v in report.items() if k != "fit"}, indent=1))


if __name__ == "__main__":
    main()
