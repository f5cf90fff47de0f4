"""The one error type every refusal of media raises: a stage (where) and a reason (why, for people)."""

from __future__ import annotations

from guardstream.schemas.dead_letter import Stage


class MediaError(Exception):
    """Media refused or undecodable. `stage` is FETCH, PROBE or DECODE; `reason` is one line, no payload.

    `transient` marks failures a later try may not repeat (connection refused or reset, HTTP 429 / 5xx);
    `tries` is how many tries the failing step made before giving up (dead letters count them).
    """

    def __init__(self, stage: Stage, reason: str, *, transient: bool = False, tries: int = 1) -> None:
        super().__init__(f"{stage.value}: {reason}")
        self.stage = stage
        self.reason = reason
        self.transient = transient
        self.tries = tries

    def __reduce__(self) -> tuple[object, ...]:
        return (_rebuild, (self.stage, self.reason, self.transient, self.tries))


def _rebuild(stage: Stage, reason: str, transient: bool, tries: int) -> MediaError:
    return MediaError(stage, reason, transient=transient, tries=tries)
