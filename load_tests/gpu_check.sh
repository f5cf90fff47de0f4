#!/usr/bin/env bash
# The prepared GPU check of issue 14 (one run, < 5 minutes on a machine with an NVIDIA GPU):
#   1. what is there: GPU, driver, torch/CUDA, onnxruntime providers, TensorRT, Triton;
#   2. the `gpu` tests and the PAP kernel tests compiled for the GPU (pytest, bounded);
#   3. `bench engines --tensorrt`: per engine ORT-CPU vs torch and ORT-CPU vs TensorRT throughput, max abs errors,
#      the PAP kernel's reference check on CUDA and its time / peak memory vs the torch reference;
#   4. a one-screen summary. JSON lands in $OUT (default results/): bench_engines_gpu.json, gpu_check.txt.
# Usage: bash load_tests/gpu_check.sh            (from the repository root; PYTHON=... to pick an interpreter)
# Nothing is downloaded: a missing package is reported, and the parts that need it are skipped.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
OUT=${OUT:-results}
mkdir -p "$OUT"
PY=${PYTHON:-}
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
# The repository's folders are the guardstream.* packages: expose them without installing (as the wheel lays out).
TREE=$(mktemp -d)
mkdir -p "$TREE/guardstream"
for folder in schemas engines operators pipeline load_tests; do ln -s "$ROOT/$folder" "$TREE/guardstream/$folder"; done
export PYTHONPATH="$TREE:$ROOT${PYTHONPATH:+:$PYTHONPATH}"
export GUARDSTREAM_COMPILE__MODELS_DIR="$OUT/gpu-check-models"
exec > >(tee "$OUT/gpu_check.txt") 2>&1

echo "== machine"
if ! nvidia-smi --query-gpu=name,compute_cap,driver_version,memory.total --format=csv,noheader; then
  echo "nvidia-smi failed: not a GPU machine${GPU_CHECK_ALLOW_CPU:+ (GPU_CHECK_ALLOW_CPU set: going on)}"
  [ -n "${GPU_CHECK_ALLOW_CPU:-}" ] || exit 2
fi
"$PY" - <<'PYEOF'
import importlib.util
import torch
print("python torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())
try:
    import onnxruntime as ort
    print("onnxruntime", ort.__version__, ort.get_available_providers())
except ImportError as exc:
    print("onnxruntime missing:", exc)
for name in ("tensorrt", "triton", "onnx"):
    spec = importlib.util.find_spec(name)
    print(name, "present" if spec else "MISSING")
PYEOF

echo "== tests (gpu-marked, kernels compiled for CUDA; 100 s cap)"
timeout 100 "$PY" -m pytest -q -p no:cacheprovider -rs \
  tests/engines/test_pap_kernel.py tests/engines/test_compile_tensorrt.py -m "gpu or not slow"
echo "pytest exit $?"

echo "== bench engines --tensorrt (170 s cap)"
timeout 170 "$PY" - "$OUT" <<'PYEOF'
import argparse, json, sys
from pathlib import Path
from guardstream.load_tests import bench_engines
from guardstream.pipeline.settings import Settings

out = Path(sys.argv[1])
parser = argparse.ArgumentParser()
bench_engines.add_arguments(parser)
args = parser.parse_args(["--tensorrt", "--size", "tiny", "--checkpoint", str(out / "gpu-check-tiny"), "--rounds", "5"])
result = bench_engines.run(args, Settings.from_env())
(out / "bench_engines_gpu.json").write_text(json.dumps(result, indent=2, default=str))
print("engine            ort_vs_torch  max_abs_error")
for e in result["engines"]:
    print(f"{e['name']:<17} {e['ort_vs_torch']:>12}  {e['max_abs_error']:.3g}")
print("engine            tensorrt_vs_ort_cpu  max_abs_error_vs_torch  precision")
for row in result.get("tensorrt", []):
    if "error" in row:
        print(f"{row.get('name', '-'):<17} {row['error']}")
    else:
        print(f"{row['name']:<17} {row['tensorrt_vs_ort_cpu']:>19}  {row['max_abs_error_vs_torch']:>22.3g}  {row['precision']}")
pap = result["pap_kernel"]
print("pap kernel", pap.get("device"), "reference_match", pap.get("reference_match"), "shapes", pap.get("shapes_checked"),
      "bytes_avoided", pap.get("bytes_avoided"), "cuda", json.dumps(pap.get("cuda_timing")))
PYEOF
echo "bench exit $?"
rm -rf "$TREE"
