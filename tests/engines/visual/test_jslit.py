"""The TF.js bundle literal parser: the literal forms nsfwjs' minified bundles use, and nothing executable."""

from __future__ import annotations

import pytest

from guardstream.engines.visual.jslit import JsLiteralError, bundle_export, parse_literal


def test_minified_literal_forms() -> None:
    text = '{a:1,b:-.5,c:2e-3,"d e":"x\\"y",f:!0,g:!1,h:null,i:[1,[2,{}],[]],j:{k:.25}}'
    value, end = parse_literal(text)
    assert end == len(text)
    assert value == {"a": 1, "b": -0.5, "c": 0.002, "d e": 'x"y', "f": True, "g": False, "h": None,
                     "i": [1, [2, {}], []], "j": {"k": 0.25}}  # fmt: skip


def test_bundle_export_reads_module_one() -> None:
    bundle = (
        '!function(e){}(function(){return function e(a,n,i){}({1:[function(e,h,n){h.exports="QUJD"},{}]},{},[1])(1)});'
    )
    assert bundle_export(bundle) == "QUJD"


@pytest.mark.parametrize("text", ["{a:foo()}", "{a:window}", "{a:1;b:2}", "[1,2", '{a:"x"+"y"}'])
def test_anything_but_a_literal_is_refused(text: str) -> None:
    with pytest.raises(JsLiteralError):
        parse_literal(text)


def test_not_a_bundle() -> None:
    with pytest.raises(JsLiteralError, match="module-1"):
        bundle_export("module.exports = {}")
