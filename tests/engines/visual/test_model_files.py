"""A missing or corrupt model file (or manifest) is refused with a message naming the file and the command that
fixes it, from the library, the guard and the CLI; `models list` says what no visual model scores."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from guardstream.engines.visual.catalog import MANIFEST_NAME, ModelFileError, checked_model_file
from guardstream.engines.visual.guard import VisualGuard
from guardstream.pipeline.cli import main
from tests.conftest import settings_for
from tests.engines.visual.conftest import benign_frames


def _copy_models(models_dir: Path, into: Path) -> Path:
    """A models folder whose nsfw file is a private copy (so it can be damaged) and the rest point at the real."""
    into.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((models_dir / MANIFEST_NAME).read_text())
    copy = into / "nsfwjs-mobilenet_v2.onnx"
    shutil.copyfile(manifest["models"]["nsfw"]["file"], copy)
    manifest["models"]["nsfw"]["file"] = str(copy)
    (into / MANIFEST_NAME).write_text(json.dumps(manifest))
    return copy


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ModelFileError, match=r"manifest\.json is missing: run `guardstream models setup`"):
        checked_model_file(tmp_path, "nsfw")
    with pytest.raises(ModelFileError, match="guardstream models setup"):
        VisualGuard(models_dir=tmp_path)  # at construction: a Serve replica fails before it takes traffic


def test_corrupt_and_missing_file(models_dir: Path, tmp_path: Path) -> None:
    copy = _copy_models(models_dir, tmp_path)
    data = bytearray(copy.read_bytes())
    data[len(data) // 2] ^= 0xFF
    copy.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=f"{copy}.*SHA-256.*guardstream models setup --force"):
        checked_model_file(tmp_path, "nsfw")
    copy.unlink()
    with pytest.raises(ModelFileError, match=f"{copy} \\(nsfw\\) is missing: run `guardstream models setup --force`"):
        checked_model_file(tmp_path, "nsfw")


def test_cli_reports_the_broken_file(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    home = tmp_path / "home"
    copy = _copy_models(models_dir, home / "models")
    copy.write_bytes(b"not a model")
    monkeypatch.setattr("guardstream.pipeline.cli.Settings.from_env", lambda: settings_for(home))
    assert main(["models", "predict", "nsfw", str(tmp_path / "x.png"), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)["error"]
    assert str(copy) in error and "guardstream models setup --force" in error


def test_list_and_predict(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr("guardstream.pipeline.cli.Settings.from_env", lambda: settings_for(models_dir.parent))
    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert set(listing["models"]) == {"nsfw", "nsfw-mid", "nsfw-inception", "open-nsfw", "image-safety"}
    assert "Undocumented" in listing["models"]["image-safety"]["training_data"]
    assert listing["scored_policies"] == ["c1.explicit", "c1.suggestive", "c3.violence"]
    assert "c1.minors" in listing["not_scored"]
    image = tmp_path / "benign.png"
    Image.fromarray(benign_frames(1)[0]).save(image)
    expected = {"nsfw": ["Drawing", "Hentai", "Neutral", "Porn", "Sexy"], "open-nsfw": ["SFW", "NSFW"],
                "image-safety": ["NSFL", "NSFW", "SFW"]}  # fmt: skip
    for model, classes in expected.items():
        assert main(["models", "predict", model, str(image), "--json"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert list(out["classes"]) == classes and out["media_type"] == "image"
        assert np.isclose(sum(out["classes"].values()), 1.0, atol=1e-3)


def test_verify_cli_on_the_wheel_models(models_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """`models verify` end to end (the wheel models; no shared media here, so synthesized scenes)."""
    monkeypatch.setattr("guardstream.pipeline.cli.Settings.from_env", lambda: settings_for(models_dir.parent))
    argv = ["models", "verify", "--model", "open-nsfw", "--model", "image-safety", "--media", str(tmp_path), "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["passed"] and out["natural_media"].startswith("synthesized")
    for model in ("open-nsfw", "image-safety"):
        assert out["summary"][model]["fidelity_max_abs_diff"] <= out["max_abs_diff_limit"]
        assert 0.0 <= out["summary"][model]["agreement_guard_input"] <= 1.0


def test_serve_app_guard_fails_at_construction_naming_the_file(tmp_path: Path) -> None:
    """What a Serve replica builds from the guard settings (the in-process reference of the app): with an empty
    models folder it fails before taking traffic, naming the manifest and the set-up command."""
    from guardstream.engines.serve.deploy import reference_guard
    from guardstream.engines.serve.settings import GuardSettings

    settings = GuardSettings(name="visual", plan=None, models_dir=tmp_path / "models")
    with pytest.raises(ModelFileError, match=r"models/manifest\.json is missing: run `guardstream models setup`"):
        reference_guard(settings)
