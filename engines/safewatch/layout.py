"""Build the segment plan of one upload for each layout (token ids, 3-D positions, visibility).

Paper layout (SafeWatch):  prefix[system, metadata, video] → chunk_1 … chunk_P → query_1 … query_P
Policy-first layout:       system → chunk_1 … chunk_P → video[metadata, video] → query_1 … query_P

Every chunk starts at the same position (last position of what it sees + 1) and sees only the shared part, so
permuting policies permutes rows and nothing else. Query i continues chunk i's positions (paper) or the video's
(policy-first) and sees exactly what chunk i sees, plus chunk i (and, policy-first, the video).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from guardstream.engines.safewatch import prompts
from guardstream.engines.safewatch.config import Layout
from guardstream.engines.safewatch.families.base import Backbone

SYSTEM_SEG = 0


@dataclass
class Segment:
    ids: list[int]
    positions: torch.Tensor  # (3, n)
    sees: set[int]
    kind: str  # system | prefix | chunk | video | query | content_free | explain
    policy: int | None = None


@dataclass
class Plan:
    segments: list[Segment] = field(default_factory=list)

    def add(self, segment: Segment) -> int:
        self.segments.append(segment)
        return len(self.segments) - 1

    def visible(self, extra: int = 0) -> torch.Tensor:
        n = len(self.segments) + extra
        matrix = torch.zeros(n, n, dtype=torch.bool)
        for i, segment in enumerate(self.segments):
            matrix[i, list(segment.sees)] = True
        return matrix

    def of_kind(self, kind: str) -> list[int]:
        return [i for i, s in enumerate(self.segments) if s.kind == kind]

    def flat(self, segment_ids: list[int]) -> tuple[list[int], torch.Tensor, torch.Tensor]:
        """Concatenated ids, positions (3, T) and segment id per token of the given segments, in that order."""
        ids = [t for i in segment_ids for t in self.segments[i].ids]
        pos = torch.cat([self.segments[i].positions for i in segment_ids], dim=1)
        seg = torch.cat([torch.full((len(self.segments[i].ids),), i, dtype=torch.long) for i in segment_ids])
        return ids, pos, seg


def text_positions(start: int, n: int) -> torch.Tensor:
    return (torch.arange(n) + start).view(1, -1).expand(3, -1).clone()


def next_position(positions: torch.Tensor) -> int:
    """A chunk's positions start at the last position of what precedes it + 1."""
    return int(positions[:, -1].max()) + 1


def video_ids(backbone: Backbone, n_tokens: int | None, metadata: str) -> list[int]:
    ids = backbone.token_ids(metadata) if metadata else []
    if n_tokens is None:
        return ids + backbone.token_ids(prompts.NO_VIDEO)
    return (
        ids
        + backbone.token_ids(prompts.VIDEO_OPEN)
        + [backbone.video_token_id] * n_tokens
        + backbone.token_ids(prompts.VIDEO_CLOSE)
    )


@dataclass(frozen=True)
class VideoInfo:
    n_tokens: int | None  # None: no frames
    grid_thw: tuple[int, int, int] | None
    seconds_per_grid: float


def build(
    backbone: Backbone,
    layout: Layout,
    chunks: list[list[int]],
    query: list[int],
    video: VideoInfo,
    metadata: str,
    content_free: bool = False,
) -> Plan:
    """The plan for one upload; `content_free` swaps the video (and metadata) for a content-free marker."""
    if layout is Layout.PAPER:
        return _paper(backbone, chunks, query, video, metadata, content_free)
    return _policy_first(backbone, chunks, query, video, metadata, content_free)


def _shared_ids(backbone: Backbone, video: VideoInfo, metadata: str, content_free: bool) -> tuple[list[int], bool]:
    if content_free:
        return backbone.token_ids(prompts.CONTENT_FREE), False
    return video_ids(backbone, video.n_tokens, metadata), video.n_tokens is not None


def _paper(
    backbone: Backbone, chunks: list[list[int]], query: list[int], video: VideoInfo, metadata: str, content_free: bool
) -> Plan:
    plan = Plan()
    shared, has_video = _shared_ids(backbone, video, metadata, content_free)
    ids = backbone.token_ids(prompts.SYSTEM) + shared
    pos = backbone.positions(torch.tensor(ids), video.grid_thw if has_video else None, video.seconds_per_grid)
    prefix = plan.add(Segment(ids, pos, set(), "prefix"))
    start = next_position(pos)
    chunk_segs = [
        plan.add(Segment(c, text_positions(start, len(c)), {prefix}, "chunk", i)) for i, c in enumerate(chunks)
    ]
    for i, c in enumerate(chunks):
        plan.add(Segment(query, text_positions(start + len(c), len(query)), {prefix, chunk_segs[i]}, "query", i))
    return plan


def _policy_first(
    backbone: Backbone, chunks: list[list[int]], query: list[int], video: VideoInfo, metadata: str, content_free: bool
) -> Plan:
    plan = Plan()
    system_ids = backbone.token_ids(prompts.SYSTEM)
    plan.add(Segment(system_ids, text_positions(0, len(system_ids)), set(), "system"))
    start = len(system_ids)
    chunk_segs = {
        plan.add(Segment(c, text_positions(start, len(c)), {SYSTEM_SEG}, "chunk", i)) for i, c in enumerate(chunks)
    }
    shared, has_video = _shared_ids(backbone, video, metadata, content_free)
    offset = start + max(len(c) for c in chunks)
    pos = backbone.positions(torch.tensor(shared), video.grid_thw if has_video else None, video.seconds_per_grid)
    # A content-free segment sees only the system prompt, so each policy's prior depends on that policy alone.
    sees = {SYSTEM_SEG} if content_free else {SYSTEM_SEG, *chunk_segs}
    video_seg = plan.add(Segment(shared, pos + offset, sees, "content_free" if content_free else "video"))
    q_start = next_position(pos + offset)
    for i, seg in enumerate(sorted(chunk_segs)):
        plan.add(Segment(query, text_positions(q_start, len(query)), {SYSTEM_SEG, seg, video_seg}, "query", i))
    return plan
