#!/usr/bin/env bash
# The CUDA paths on a lent GPU, in one prepared run (the device tool's H200; see RESULTS.md
# "CUDA (H200)"): the CUDA tests, then the CLI end to end (train fp16 → val fp32/fp16 →
# detect → export ONNX traced on the GPU → val of the ONNX on CPU), then speed (bench_cuda,
# bench_train, bench_serve). Each step has its own time limit, so a slow one cannot take
# the others with it, and a step that would end after BUDGET seconds (default 480) is skipped,
# so the script ends inside the device tool's limit; every log lands in LOGS
# (default: benchmarks/cuda/logs/DATE).
# The GPU machine's image has its own torch (2.11 there) and lacks some of our dependencies:
# carry them as wheels in .whl/ (device README) — this script installs them when present:
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d .whl \
#     defusedxml fastapi opentelemetry-api pydantic pydantic_core annotated-types starlette typing-inspection \
#     uvicorn python-multipart pycocotools   (the versions .venv has: `.venv/bin/pip freeze`)
# Usage (repo root): bash benchmarks/cuda/check.sh
set -u
LOGS=${LOGS:-benchmarks/cuda/logs/$(date -u +%F)}
BUDGET=${BUDGET:-480}
mkdir -p "$LOGS"
if ls .whl/*.whl >/dev/null 2>&1; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site || exit 1
fi
export PYTHONPATH=${PYTHONPATH:+$PYTHONPATH:}$PWD PYTHONUNBUFFERED=1 YOLO3_CACHE_DIR=off
PY=${PY:-python3}
step() {  # step NAME SECONDS COMMAND...: runs one step with a limit, logs to $LOGS/NAME.log, prints its tail
  local name=$1 limit=$2; shift 2
  if (( SECONDS + limit > BUDGET )); then echo "== $name: skipped (${SECONDS} s gone of ${BUDGET})"; return; fi
  local t0=$SECONDS
  timeout "$limit" "$@" > "$LOGS/$name.log" 2>&1
  local rc=$?
  echo "== $name: rc $rc, $((SECONDS - t0)) s"
  grep -a -v "it/s" "$LOGS/$name.log" | tail -n "${TAIL:-12}"
}
{ nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; lscpu | grep 'Model name';
  $PY -c 'import torch, sys; print(sys.version.split()[0], "torch", torch.__version__, "cuda", torch.version.cuda)'; } \
  | tee "$LOGS/machine.txt"

step pytest 150 $PY -m pytest -q -rs -p no:cacheprovider tests/test_cuda.py tests/test_infer_device.py

D=/tmp/gpu-e2e
rm -rf $D && $PY -m yolo3 synth --out $D/data --n-train 256 --n-val 64 --imgsz 416 > /dev/null
TAIL=6 step train 150 /usr/bin/time -f "wall %e s, max RSS %M KB" $PY -m yolo3 train --data $D/data/data.yaml \
  --model yolov3-tiny --device cuda --amp fp16 --time-budget 1.5 --epochs 200 --val-interval 10 --batch-size 16 \
  --nbs 16 --workers 8 --threads 8 --project $D/runs --name tiny --no-progress --no-tensorboard
W=$D/runs/tiny/weights/best.safetensors
TAIL=4 step val-cpu 60 $PY -m yolo3 val --weights $W --data $D/data/data.yaml --out $D/val-cpu --no-plots --backend torch
TAIL=4 step val-cuda 60 $PY -m yolo3 val --weights $W --data $D/data/data.yaml --out $D/val-cuda --no-plots --device cuda
TAIL=4 step val-cuda-fp16 60 $PY -m yolo3 val --weights $W --data $D/data/data.yaml --out $D/val-fp16 --no-plots \
  --device cuda --precision fp16
TAIL=3 step detect 60 $PY -m yolo3 detect $D/data/images/val --weights $W --device cuda --precision fp16 --out $D/detect
TAIL=3 step export 60 $PY -m yolo3 export --weights $W --format onnx --device cuda --out $D/tiny.onnx
TAIL=4 step val-onnx 60 $PY -m yolo3 val --weights $D/tiny.onnx --data $D/data/data.yaml --out $D/val-onnx --no-plots \
  --backend onnxruntime

TAIL=20 step bench_cuda 180 $PY benchmarks/bench_cuda.py --archs yolov3-tiny yolov3 --imgsz 416
TAIL=8 step bench_train 120 $PY benchmarks/bench_train.py --device cuda --amp off fp16 bf16 --archs yolov3-tiny yolov3 \
  --batch 32 --workers 8 --threads 8 --epochs 3 --steps 6
TAIL=14 step bench_serve 90 $PY benchmarks/bench_serve.py --device cuda --precision fp16 --clients 8 32 --seconds 10 \
  --threads 8 --imgsz 416 --width 1.0 --max-batch 16 --images 256
