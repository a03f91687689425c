#!/usr/bin/env bash
# BCCD assignment ablation (issue 15): paper, v5, ATSS, ATSS anchor-free — 1-thread runs side by side, in pairs
# (paper + v5, then atss + atss-af; PAIRS=all runs the four at once), each then measured on the val split.
# Logs: benchmarks/bccd/logs/assign-<name>.log.
# Usage (repo root): PY=.venv/bin/python bash benchmarks/bccd/run_atss.sh
#   PAIR_LIST="atss atss-mosaic" TAG=mosaic- runs other pairs (';' between pairs; logs prefixed with TAG):
#   issue 18's Mosaic re-run after its fix.
set -u
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/datasets/bccd}
LOGS=benchmarks/bccd/logs
mkdir -p "$LOGS"
one() {
  local name=$1
  local run=runs/bccd-assign/bccd-assign-$name
  rm -rf "$run"
  OMP_NUM_THREADS=1 $PY -m yolo3 train --config benchmarks/bccd/configs/bccd-assign-$name.yaml --data "$DATA" \
    > "$LOGS/${TAG:-}assign-$name.log" 2>&1
  OMP_NUM_THREADS=1 $PY -m yolo3 val --weights "$run/weights/last.safetensors" --data "$DATA" --split val \
    --out "$run/val" --no-plots >> "$LOGS/${TAG:-}assign-$name.log" 2>&1
}
echo "$(date -u +%T) start; $(uptime)"
if [ "${PAIRS:-pairs}" = all ]; then
  for name in paper v5 atss atss-af; do one "$name" & done
  wait
else
  IFS=';' read -r -a pairs <<< "${PAIR_LIST:-paper v5;atss atss-af}"
  for pair in "${pairs[@]}"; do
    set -- $pair
    echo "$(date -u +%T) start $1 + $2; $(uptime)"
    one "$1" & one "$2" & wait
  done
fi
echo "$(date -u +%T) done; $(uptime)"
