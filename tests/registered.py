"""How a conformance test file ties its classes to a registry: with `conformance_for = conformance_registrar(TESTED)`,
`@conformance_for("name")` records the class that runs the suite for registry entry `name` in TESTED, so a test
can fail when an entry has no class."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

C = TypeVar("C", bound=type)


def conformance_registrar(tested: dict[str, type]) -> Callable[[str], Callable[[C], C]]:
    def conformance_for(name: str) -> Callable[[C], C]:
        def register(cls: C) -> C:
            tested[name] = cls
            return cls

        return register

    return conformance_for
