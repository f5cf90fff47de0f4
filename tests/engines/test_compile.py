"""engines/compile: export → verify → load, keyed files, stale files rebuilt, every failure leaves torch in charge."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import structlog
import torch

from guardstream.engines.compile import artifact
from guardstream.engines.compile.artifact import InputSpec
from guardstream.engines.compile.export import export_key
from guardstream.engines.compile.loader import load_engine
from guardstream.engines.compile.ort import resolve_providers
from guardstream.engines.compile.settings import CompileSettings, Runtime
from guardstream.engines.compile.target import Feeds, Target

TOLERANCE = 1e-4  # fp32 engines must match torch to this, absolute


class SmallMLP(Target):
    """A real (small) torch module: fast to export, dynamic batch axis."""

    name = "test-mlp"

    def __init__(self, seed: int = 0, broken: str = "") -> None:
        torch.manual_seed(seed)
        self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.GELU(), torch.nn.Linear(16, 4)).eval()
        self.seed = seed
        self.broken = broken

    def model_version(self) -> str:
        return f"seed-{self.seed}"

    def inputs(self) -> tuple[InputSpec, ...]:
        return (InputSpec("x", "float32", ("batch", 8)),)

    def outputs(self) -> tuple[str, ...]:
        return ("y",)

    def module(self) -> Any:
        if self.broken == "export":
            return _Unexportable()
        return self.net

    def samples(self) -> list[Feeds]:
        rng = np.random.default_rng(1)
        return [{"x": rng.standard_normal((n, 8)).astype(np.float32)} for n in (3, 1, 5)]

    def reference(self, feeds: Feeds) -> list[np.ndarray]:
        out = super().reference(feeds)
        return [o + 1.0 for o in out] if self.broken == "reference" else out


class _Unexportable(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise RuntimeError("this module cannot be traced")


@pytest.fixture()
def settings(tmp_path: Path) -> CompileSettings:
    return CompileSettings(models_dir=tmp_path / "models")


def test_build_verify_load_and_reuse(settings: CompileSettings) -> None:
    target = SmallMLP()
    engine = load_engine(target, settings)
    assert engine is not None and engine.max_abs_error <= TOLERANCE
    feeds = {"x": np.ones((7, 8), np.float32)}  # a batch size never seen at export: the axis is dynamic
    np.testing.assert_allclose(engine.run(feeds)[0], target.reference(feeds)[0], atol=TOLERANCE)
    manifest = artifact.manifest_path(engine.path)
    built = manifest.stat().st_mtime_ns
    again = load_engine(target, settings)
    assert again is not None and again.path == engine.path
    assert manifest.stat().st_mtime_ns == built  # loaded, not rebuilt


def test_key_names_model_version_opset_and_spec(settings: CompileSettings) -> None:
    a, b = export_key(SmallMLP(0), 17), export_key(SmallMLP(1), 17)
    assert a.digest != b.digest != export_key(SmallMLP(0), 18).digest
    assert a.onnx_path(settings.models_dir).parent == settings.models_dir / "onnx"


def test_corrupted_file_is_rebuilt_not_loaded(settings: CompileSettings) -> None:
    target = SmallMLP()
    engine = load_engine(target, settings)
    assert engine is not None
    engine.path.write_bytes(b"not an onnx file")
    rebuilt = load_engine(target, settings)
    assert rebuilt is not None
    assert artifact.valid_manifest(rebuilt.path, export_key(target, settings.opset)) is not None
    np.testing.assert_allclose(rebuilt.run(target.samples()[0])[0], target.reference(target.samples()[0])[0], atol=1e-4)


def test_manifest_for_another_key_is_stale(settings: CompileSettings) -> None:
    target = SmallMLP()
    engine = load_engine(target, settings)
    assert engine is not None
    path = artifact.manifest_path(engine.path)
    manifest = json.loads(path.read_text())
    manifest["key"]["model_version"] = "something-else"
    path.write_text(json.dumps(manifest))
    assert artifact.valid_manifest(engine.path, export_key(target, settings.opset)) is None
    assert load_engine(target, settings) is not None
    assert json.loads(path.read_text())["key"]["model_version"] == target.model_version()


def test_export_failure_falls_back_with_a_warning(settings: CompileSettings) -> None:
    with structlog.testing.capture_logs() as logs:
        assert load_engine(SmallMLP(broken="export"), settings) is None
    warning = next(e for e in logs if e["event"] == "compiled_engine_unavailable")
    assert warning["log_level"] == "warning" and warning["fallback"] == "torch"
    assert "cannot be traced" in warning["error"]


def test_graph_that_differs_from_torch_is_rejected_and_removed(settings: CompileSettings) -> None:
    target = SmallMLP(broken="reference")
    assert load_engine(target, settings) is None
    assert not export_key(target, settings.opset).onnx_path(settings.models_dir).exists()


def test_torch_runtime_and_no_build_mean_torch(settings: CompileSettings) -> None:
    assert load_engine(SmallMLP(), settings.model_copy(update={"runtime": Runtime.TORCH})) is None
    assert load_engine(SmallMLP(), settings.model_copy(update={"build_on_first_use": False})) is None


def test_providers_follow_settings_order_and_availability() -> None:
    available = ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"]
    assert resolve_providers(("TensorrtExecutionProvider", "CUDAExecutionProvider"), available) == available
    assert resolve_providers(("TensorrtExecutionProvider",), ["CPUExecutionProvider"]) == ["CPUExecutionProvider"]


@pytest.fixture(scope="module")
def minilm_models(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("minilm")


@pytest.fixture(scope="module")
def embedders(minilm_models: Path) -> tuple[Any, Any]:
    from guardstream.engines.text.embed import Embedder

    models = minilm_models
    compiled = Embedder(compile_settings=CompileSettings(models_dir=models))
    eager = Embedder(compile_settings=CompileSettings(models_dir=models, runtime=Runtime.TORCH))
    compiled.load()
    eager.load()
    return compiled, eager


TEXTS = [
    "hi",
    "Step-by-step guide to building an untraceable firearm at home.",
    "A cooking show: the host sharpens a knife and dices onions. " * 20,  # past the 128-token limit
    "ünïcödé, emoji 🎉 and 数字 123",
]


def test_embedder_runs_on_onnxruntime_and_matches_torch(embedders: tuple[Any, Any]) -> None:
    compiled, eager = embedders
    assert compiled.runtime == "onnxruntime" and eager.runtime == "torch"
    got, want = compiled.embed(TEXTS), eager.embed(TEXTS)
    assert got.shape == want.shape == (len(TEXTS), 384) and got.dtype == np.float32
    assert float(np.abs(got - want).max()) <= TOLERANCE
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_build_command_reuses_the_verified_file(
    embedders: tuple[Any, Any], minilm_models: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from guardstream.engines.compile.__main__ import main

    [manifest] = (minilm_models / "onnx").glob("all-minilm-l6-v2-*.json")
    built = manifest.stat().st_mtime_ns
    assert main(["build", "--models-dir", str(minilm_models)]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["built"] == [{"target": "minilm", "runtime": "onnxruntime"}]
    assert manifest.stat().st_mtime_ns == built  # setup-time build and first use share one keyed file
