#!/usr/bin/env bash
# The model-variant pair of the BCCD ablations (same protocol as run_ablations.sh):
# yolov3-tiny width 1.0 and yolov3 width 0.25 / depth 0.33, side by side, 1 thread each.
set -u
DATA=${DATA:-../shared/datasets/bccd}
LOGS=benchmarks/bccd/logs
one() {
  local name=$1
  local run=runs/bccd-ablate/bccd-ablate-$name
  rm -rf "$run"
  OMP_NUM_THREADS=1 .venv/bin/yolo3 train --config benchmarks/bccd/configs/bccd-ablate-$name.yaml --data "$DATA" \
    > "$LOGS/ablate-$name.log" 2>&1
  OMP_NUM_THREADS=1 .venv/bin/yolo3 val --weights "$run/weights/last.safetensors" --data "$DATA" --split val \
    --out "$run/val" --no-plots >> "$LOGS/ablate-$name.log" 2>&1
}
echo "$(date -u +%T) start tiny-w1 + v3-w025"
one tiny-w1 & one v3-w025 & wait
echo "$(date -u +%T) done"
.venv/bin/python benchmarks/bccd/ablation_table.py > benchmarks/bccd/ablations.md
