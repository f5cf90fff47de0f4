"""RapidOCR over sampled frames, with repeated text deduplicated across frames.

Two savings keep OCR affordable on video: a frame that is visually unchanged from the last frame read reuses
that frame's reading without running OCR, and identical text read on several frames becomes one span that
carries every timestamp it was seen at.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from difflib import SequenceMatcher
from typing import Any

import numpy as np

from guardstream.engines.base import Frames
from guardstream.engines.text.untrusted import clean_text, dedup_key

MIN_LINE_SCORE = 0.5
SAME_FRAME_MEAN_ABS_DIFF = 2.0
NEAR_DUPLICATE_RATIO = 0.9


@dataclass
class OcrSpan:
    """One distinct piece of on-screen text and every frame it was read on."""

    text: str
    timestamps_s: list[float] = field(default_factory=list)
    frame_indices: list[int] = field(default_factory=list)


@dataclass
class OcrStats:
    frames_seen: int = 0
    frames_read: int = 0


class FrameReader:
    """Wraps one RapidOCR engine (models ship inside the `rapidocr` wheel; nothing is downloaded)."""

    def __init__(self, threads: int = 1, max_span_chars: int = 500) -> None:
        self.threads = threads
        self.max_span_chars = max_span_chars
        self._engine: Any = None

    def load(self) -> None:
        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)
        params = {
            "Global.log_level": "error",
            "Global.use_cls": False,
            "EngineConfig.onnxruntime.intra_op_num_threads": self.threads,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
        self._engine = RapidOCR(params=params)

    def read_frame(self, pixels: np.ndarray) -> str:
        """All text lines of one frame in reading order (top to bottom, left to right), cleaned and capped."""
        if self._engine is None:
            raise RuntimeError("FrameReader.load() was not called")
        out = self._engine(np.ascontiguousarray(pixels))
        if out.boxes is None or not out.txts:
            return ""
        lines = [
            (float(box[:, 1].min()), float(box[:, 0].min()), txt)
            for box, txt, score in zip(out.boxes, out.txts, out.scores, strict=True)
            if score >= MIN_LINE_SCORE and txt.strip()
        ]
        lines.sort(key=lambda line: (round(line[0] / 8), line[1]))
        return clean_text(" ".join(t for _, _, t in lines), self.max_span_chars)

    def read(self, frames: Frames, stats: OcrStats | None = None) -> list[OcrSpan]:
        """Distinct text spans across the frames; unchanged frames are not re-read."""
        stats = stats if stats is not None else OcrStats()
        spans: list[OcrSpan] = []
        last_small: np.ndarray | None = None
        last_text = ""
        for i in range(len(frames)):
            small = _thumbnail(frames.pixels[i])
            stats.frames_seen += 1
            if last_small is None or float(np.abs(small - last_small).mean()) > SAME_FRAME_MEAN_ABS_DIFF:
                last_text = self.read_frame(frames.pixels[i])
                stats.frames_read += 1
            last_small = small
            if last_text:
                merge_span(spans, last_text, frames.timestamps_s[i], frames.indices[i])
        return spans


def merge_span(spans: list[OcrSpan], text: str, timestamp_s: float, frame_index: int) -> None:
    """Add a reading to `spans`, merging it into an existing span when it is the same text (OCR jitter allowed)."""
    key = dedup_key(text)
    for span in spans:
        other = dedup_key(span.text)
        if other == key or SequenceMatcher(None, other, key).ratio() >= NEAR_DUPLICATE_RATIO:
            span.timestamps_s.append(timestamp_s)
            span.frame_indices.append(frame_index)
            return
    spans.append(OcrSpan(text, [timestamp_s], [frame_index]))


def _thumbnail(pixels: np.ndarray) -> np.ndarray:
    """A cheap 32-ish pixel grey summary used to spot unchanged frames."""
    h, w = pixels.shape[:2]
    step_h, step_w = max(1, h // 32), max(1, w // 32)
    grey: np.ndarray = pixels[::step_h, ::step_w].mean(axis=2, dtype=np.float32)
    return grey
