#!/usr/bin/env bash
# BCCD ablations: pairs of 1-thread runs side by side (same load on both), each then
# measured on the val split. Logs: benchmarks/bccd/logs/ablate-<name>.log; table:
# benchmarks/bccd/ablations.md. Usage (repo root): bash benchmarks/bccd/run_ablations.sh
set -u
DATA=${DATA:-../shared/datasets/bccd}
LOGS=benchmarks/bccd/logs
mkdir -p "$LOGS"
one() {
  local name=$1
  local run=runs/bccd-ablate/bccd-ablate-$name
  rm -rf "$run"
  OMP_NUM_THREADS=1 .venv/bin/yolo3 train --config benchmarks/bccd/configs/bccd-ablate-$name.yaml --data "$DATA" \
    > "$LOGS/ablate-$name.log" 2>&1
  OMP_NUM_THREADS=1 .venv/bin/yolo3 val --weights "$run/weights/last.safetensors" --data "$DATA" --split val \
    --out "$run/val" --no-plots >> "$LOGS/ablate-$name.log" 2>&1
}
for pair in "base v5" "paperbox nomosaic" "defanchors 512" "tiny-w1 v3-w025"; do
  set -- $pair
  echo "$(date -u +%T) start $1 + $2"
  one "$1" & one "$2" & wait
done
echo "$(date -u +%T) done"
.venv/bin/python benchmarks/bccd/ablation_table.py > benchmarks/bccd/ablations.md
