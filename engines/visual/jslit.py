"""Read the object literal a minified TF.js model bundle exports (nsfwjs ships its models as browserify bundles).

The bundles hold a JavaScript literal, not JSON: unquoted keys, `!0` / `!1` for booleans, numbers such as `.5`.
This parser accepts exactly those literals (objects, arrays, strings, numbers, booleans, null) and nothing that
would need executing: any other token is an error. No JavaScript runs at conversion time.
"""

from __future__ import annotations

import json
import re
from typing import Any

_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<bool>!0|!1)'
    r"|(?P<ident>[A-Za-z_$][\w$]*)|(?P<punct>[{}\[\]:,]))"
)
_MODULE_ONE = re.compile(r"\{1:\[function\(\w+,(\w+),\w+\)\{\1\.exports=")
_CONSTANTS: dict[str, Any] = {"null": None, "true": True, "false": False}


class JsLiteralError(ValueError):
    """The text is not the literal this parser reads."""


def bundle_export(text: str) -> Any:
    """The literal value a browserify bundle's module 1 assigns to `module.exports`."""
    match = _MODULE_ONE.search(text)
    if not match:
        raise JsLiteralError("no browserify module-1 export found")
    return parse_literal(text, match.end())[0]


def parse_literal(text: str, start: int = 0) -> tuple[Any, int]:
    """Parse one literal value at `start`; return it and the offset just after it."""
    parser = _Parser(text, start)
    return parser.value(*parser.token()), parser.pos


class _Parser:
    def __init__(self, text: str, pos: int) -> None:
        self.text = text
        self.pos = pos

    def token(self) -> tuple[str, str]:
        match = _TOKEN.match(self.text, self.pos)
        if not match or not match.lastgroup:
            raise JsLiteralError(f"unexpected text at offset {self.pos}: {self.text[self.pos : self.pos + 30]!r}")
        self.pos = match.end()
        return match.lastgroup, match.group(match.lastgroup)

    def value(self, kind: str, tok: str) -> Any:
        if kind == "str":
            return json.loads(tok)
        if kind == "num":
            return float(tok) if any(c in tok for c in ".eE") else int(tok)
        if kind == "bool":
            return tok == "!0"
        if kind == "ident":
            if tok not in _CONSTANTS:
                raise JsLiteralError(f"identifier {tok!r} at offset {self.pos} is not a literal")
            return _CONSTANTS[tok]
        if tok == "{":
            return self._object()
        if tok == "[":
            return self._array()
        raise JsLiteralError(f"unexpected {tok!r} at offset {self.pos}")

    def _object(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        kind, tok = self.token()
        while tok != "}":
            key = json.loads(tok) if kind == "str" else tok
            if self.token()[1] != ":":
                raise JsLiteralError(f"expected ':' after key {key!r}")
            out[key] = self.value(*self.token())
            kind, tok = self._after_item("}")
        return out

    def _array(self) -> list[Any]:
        out: list[Any] = []
        kind, tok = self.token()
        while tok != "]":
            out.append(self.value(kind, tok))
            kind, tok = self._after_item("]")
        return out

    def _after_item(self, close: str) -> tuple[str, str]:
        """After an item: the closing bracket, or a comma followed by the next token."""
        kind, tok = self.token()
        if tok == close:
            return kind, tok
        if tok != ",":
            raise JsLiteralError(f"expected ',' or {close!r} at offset {self.pos}")
        return self.token()
