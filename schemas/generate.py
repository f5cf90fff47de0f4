"""Write the committed JSON Schema files from the models: `python -m guardstream.schemas.generate [--check]`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Literal

from pydantic import BaseModel

from guardstream.schemas.dead_letter import DeadLetter
from guardstream.schemas.feedback import ReviewFeedback
from guardstream.schemas.policy import PolicyPack
from guardstream.schemas.upload import UploadEvent
from guardstream.schemas.verdict import Verdict

JSON_DIR = Path(__file__).parent / "json"

Mode = Literal["validation", "serialization"]
# Verdicts are read by consumers, so their schema is the serialised form (it includes idempotency_key).
CONTRACTS: dict[str, tuple[type[BaseModel], Mode]] = {
    "upload_event": (UploadEvent, "validation"),
    "verdict": (Verdict, "serialization"),
    "dead_letter": (DeadLetter, "serialization"),
    "policy_pack": (PolicyPack, "validation"),
    "feedback": (ReviewFeedback, "serialization"),
}


def render(name: str) -> str:
    cls, mode = CONTRACTS[name]
    schema = cls.model_json_schema(mode=mode)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"https://guardstream.dev/schemas/{name}.schema.json"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def path_for(name: str) -> Path:
    return JSON_DIR / f"{name}.schema.json"


def stale() -> list[str]:
    """Names of committed schema files that differ from what the models generate now."""
    return [n for n in CONTRACTS if not path_for(n).exists() or path_for(n).read_text() != render(n)]


def load_json_schema(name: str) -> dict[str, object]:
    loaded: dict[str, object] = json.loads(path_for(name).read_text())
    return loaded


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="exit 1 if a committed file is stale")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"stale: {path_for(name)} (run `make schemas`)", file=sys.stderr)
        return 1 if names else 0
    JSON_DIR.mkdir(exist_ok=True)
    for name in CONTRACTS:
        path_for(name).write_text(render(name))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
