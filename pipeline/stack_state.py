"""The local stack's state file: which component runs under which PID on which ports."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from guardstream.pipeline.processes import free_port, port_free

STATE_FILE = "stack.json"


@dataclass
class ComponentState:
    pid: int
    ports: dict[str, int]
    log: str
    probe: list[str] = field(default_factory=list)  # ports whose answer means healthy (empty: all)

    def probed_ports(self) -> list[int]:
        return [port for name, port in self.ports.items() if not self.probe or name in self.probe]


@dataclass
class StackState:
    home: str
    components: dict[str, ComponentState] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> StackState:
        path = home / STATE_FILE
        if not path.exists():
            return cls(home=str(home))
        raw = json.loads(path.read_text())
        comps = {k: ComponentState(**v) for k, v in raw.get("components", {}).items()}
        return cls(home=raw["home"], components=comps)

    def save(self) -> None:
        path = Path(self.home) / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)


def reuse_ports(previous: ComponentState | None, names: tuple[str, ...]) -> dict[str, int]:
    """The ports a component had, when all are still free; else fresh loopback ports."""
    if previous and set(previous.ports) == set(names) and all(port_free(p) for p in previous.ports.values()):
        return dict(previous.ports)
    return {name: free_port() for name in names}
