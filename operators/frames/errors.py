"""The one error type every refusal of media raises: a stage (where) and a reason (why, for people)."""

from __future__ import annotations

from guardstream.schemas.dead_letter import Stage


class MediaError(Exception):
    """Media refused or undecodable. `stage` is FETCH, PROBE or DECODE; `reason` is one line, no payload."""

    def __init__(self, stage: Stage, reason: str) -> None:
        super().__init__(f"{stage.value}: {reason}")
        self.stage = stage
        self.reason = reason

    def __reduce__(self) -> tuple[type[MediaError], tuple[Stage, str]]:
        return (MediaError, (self.stage, self.reason))
