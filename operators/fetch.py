"""FetchMedia: check each upload's media URI against the fetch rules (scheme, roots, host allowlist,
loopback/private addresses, redirects, size, time) and fetch it into a spool folder.

PCollection[Envelope] → FetchedMedia(media: PCollection[tuple[Envelope, LocalMedia]], failed:
PCollection[DeadLetter]). Local files under the roots are passed by path; downloads are copied into
`spool_dir` (a worker-local folder) and must be consumed by fused, element-wise steps on the same worker,
which delete them when done. `SampleFrames` fetches by itself and does not need this stage.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam

from guardstream.operators.envelope import Envelope
from guardstream.operators.frames import LocalMedia, MediaError, fetch_media
from guardstream.operators.frames.settings import LimitSettings
from guardstream.schemas.dead_letter import Stage

FAILED = "failed"


class FetchedMedia(NamedTuple):
    media: beam.PCollection  # [tuple[Envelope, LocalMedia]]
    failed: beam.PCollection  # [DeadLetter]


def fetch_to_spool(uri: str, limits: LimitSettings, spool_dir: Path) -> LocalMedia:
    """Fetch `uri`; a download is moved into `spool_dir` so it outlives the fetch (caller deletes it)."""
    with fetch_media(uri, limits) as media:
        if not media.temporary:
            return media
        spool_dir.mkdir(parents=True, exist_ok=True)
        kept = spool_dir / f"{uuid.uuid4().hex}{media.path.suffix}"
        shutil.move(media.path, kept)
        return replace(media, path=kept)


class _FetchDoFn(beam.DoFn):  # type: ignore[misc]
    def __init__(self, limits: LimitSettings, spool_dir: Path | None) -> None:
        self.limits, self.spool_dir = limits, spool_dir

    def setup(self) -> None:
        if self.spool_dir is None:
            self.spool_dir = Path(tempfile.gettempdir()) / "guardstream-spool"

    def process(self, envelope: Envelope) -> Iterator[Any]:
        if envelope.event is None:
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(Stage.FETCH, "no parsed upload event"))
            return
        try:
            assert self.spool_dir is not None
            yield envelope, fetch_to_spool(envelope.event.media_uri, self.limits, self.spool_dir)
        except MediaError as exc:
            yield beam.pvalue.TaggedOutput(FAILED, envelope.dead_letter(exc.stage, exc.reason, "MediaError"))


class FetchMedia(beam.PTransform):  # type: ignore[misc]
    """Fetch each upload's media under the fetch rules; refused URIs go to `failed`."""

    def __init__(self, limits: LimitSettings, spool_dir: Path | None = None) -> None:
        super().__init__()
        self.limits, self.spool_dir = limits, spool_dir

    def expand(self, uploads: beam.PCollection) -> FetchedMedia:
        results = uploads | "Fetch" >> beam.ParDo(_FetchDoFn(self.limits, self.spool_dir)).with_outputs(
            FAILED, main="media"
        )
        return FetchedMedia(media=results.media, failed=results[FAILED])
