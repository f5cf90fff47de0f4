"""Every guard in the registry (engines/manifest.py and `guardstream.guards` entry points) passes the shared
conformance suite — a new guard is covered by adding its manifest line, nothing else. Each guard builds its own
small test instance through `Guard.for_conformance`."""

from __future__ import annotations

import tempfile
from pathlib import Path

from guardstream.engines.base import Guard, guard_class, registered_guards
from tests.engines.conformance import GuardConformance


def _loaded(name: str) -> Guard:
    guard = guard_class(name).for_conformance(Path(tempfile.mkdtemp(prefix=f"conformance-{name}-")))
    guard.load()
    return guard


def _conformance_class(name: str) -> type[GuardConformance]:
    def make_guard(cls: type[GuardConformance]) -> Guard:
        return _loaded(name)

    class_name = "TestConformance_" + "".join(c if c.isalnum() else "_" for c in name)
    return type(class_name, (GuardConformance,), {"make_guard": classmethod(make_guard)})


for _name in sorted(registered_guards()):
    _cls = _conformance_class(_name)
    globals()[_cls.__name__] = _cls


def test_every_registered_guard_is_collected() -> None:
    collected = {n for n, v in globals().items() if isinstance(v, type) and issubclass(v, GuardConformance)}
    assert len(collected) >= len(registered_guards()) >= 2


def test_unknown_guard_names_the_registered_ones() -> None:
    import pytest

    with pytest.raises(ValueError, match="registered"):
        guard_class("no-such-guard")
