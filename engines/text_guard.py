"""The on-screen-text + metadata guard: RapidOCR on sampled frames, all-MiniLM-L6-v2 embeddings of the text and
of the upload's title / description / transcript against each policy's sentences, and a per-policy calibrated
similarity → probability mapping (engines/text/calibration.json). Real weights, offline, CPU.

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
from guardstream.engines.text.calibration import CALIBRATION_FILE, Calibration
from guardstream.engines.text.embed import Embedder
from guardstream.engines.text.ocr import FrameReader, OcrStats
from guardstream.engines.text.scoring import BENIGN_FRAMINGS, Span, policy_anchors, score_policy
from guardstream.engines.text.untrusted import clean_text
from guardstream.schemas.policy import Policy
from guardstream.schemas.verdict import MAX_OCR_SPAN_CHARS

MAX_FIELD_CHARS = 4000
MAX_SENTENCES_PER_FIELD = 8
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Evidence selection: a span needs this many words (two or more letters) to be scored at all. A lone word or a
# file name ("video", "clip 2", "IMG_1234") carries no statement a sentence-similarity guard can judge, and such
# text sits closest to the policies that describe media; single-word slurs belong to a lexicon, not to this guard.
MIN_WORDS = 2
_WORD = re.compile(r"[^\W\d_]{2,}")


class TextGuard(Guard):
    """Guard on the words an upload shows or carries. Construct, `load()` once, then `score_batch`."""

    name: ClassVar[str] = "text"
    version = "1.0+" + Calibration.load().version

    def __init__(
        self,
        *,
        ocr_threads: int = 1,
        embed_threads: int = 1,
        max_batch_size: int = 8,
        max_frames_per_request: int = 64,
        calibration_path: Path | str = CALIBRATION_FILE,
    ) -> None:
        self.reader = FrameReader(threads=ocr_threads, max_span_chars=MAX_OCR_SPAN_CHARS)
        self.embedder = Embedder(threads=embed_threads)
        self.calibration = Calibration.load(Path(calibration_path))
        self._limits = BatchLimits(max_batch_size=max_batch_size, max_frames_per_request=max_frames_per_request)
        self._loaded = False

    def load(self) -> None:
        self.reader.load()
        self.embedder.load()
        self._loaded = True

    def batch_limits(self) -> BatchLimits:
        return self._limits

    def warmup(self) -> None:
        pixels = np.full((1, 64, 64, 3), 255, np.uint8)
        self.reader.read(Frames(pixels, (0.0,), (0,)))
        self.embedder.embed(["warm up"])

    def check_health(self) -> None:
        if not self._loaded:
            raise RuntimeError("text guard is not loaded")
        if self.embedder.embed(["health"]).shape != (1, 384):
            raise RuntimeError("embedder returned a wrong shape")

    def score_batch(self, requests: Sequence[GuardRequest]) -> list[GuardResult]:
        return [self._score(request) for request in requests]

    def spans(self, request: GuardRequest, stats: OcrStats | None = None) -> list[Span]:
        """Every distinct text span of the request: OCR spans first, then the metadata fields."""
        spans = [
            Span(s.text, "ocr", tuple(s.timestamps_s), tuple(s.frame_indices))
            for s in self.reader.read(request.frames, stats)
        ]
        return [s for s in spans + metadata_spans(request.text) if informative(s.text)]

    def _score(self, request: GuardRequest) -> GuardResult:
        t0 = time.perf_counter()
        stats = OcrStats()
        spans = self.spans(request, stats)
        t1 = time.perf_counter()
        vectors = self.embedder.embed([s.text for s in spans])
        scores = tuple(self._score_policy(p, spans, vectors) for p in request.policies)
        t2 = time.perf_counter()
        timings = {"ocr_ms": (t1 - t0) * 1e3, "embed_score_ms": (t2 - t1) * 1e3, "frames_read": stats.frames_read}
        return GuardResult(request.request_id, scores, timings_ms=timings)

    def _score_policy(self, policy: Policy, spans: list[Span], vectors: np.ndarray) -> PolicyScore:
        anchors = policy_anchors(policy)
        anchor_vectors = self.embedder.embed([a.text for a in anchors])
        weights = self.calibration.for_policy(policy.id)
        return score_policy(policy, spans, vectors, anchors, anchor_vectors, self.framing_vectors(), weights)

    def framing_vectors(self) -> np.ndarray:
        return self.embedder.embed(list(BENIGN_FRAMINGS))


def informative(text: str) -> bool:
    """Whether a span has enough words to be judged (see MIN_WORDS)."""
    return len(_WORD.findall(text)) >= MIN_WORDS


def metadata_spans(text: TextEvidence) -> list[Span]:
    """Title, description and transcript as sentence spans, cleaned and capped."""
    spans: list[Span] = []
    for field in ("title", "description", "transcript"):
        value = clean_text(getattr(text, field), MAX_FIELD_CHARS)
        sentences = [s for s in _SENTENCE_END.split(value) if s.strip()][:MAX_SENTENCES_PER_FIELD]
        spans += [Span(s[:MAX_OCR_SPAN_CHARS], field) for s in sentences]
    return spans
