#!/usr/bin/env bash
# Thin-object assignment ablation (issue 15): four 1-thread runs side by side on `yolo3 synth --thin`,
# then `yolo3 val` of each. Logs: benchmarks/thin/logs/[TAG]NAME.log. Usage (repo root):
#   PY=.venv/bin/python bash benchmarks/thin/run.sh                                  # round 1: paper v5 atss atss-af
#   PY=.venv/bin/python NAMES="v5 atss atss-fb atss-af-fb" TAG=r2- bash benchmarks/thin/run.sh   # round 2
set -u
PY=${PY:-.venv/bin/python}
LOGS=benchmarks/thin/logs
mkdir -p "$LOGS"
[ -f /tmp/yolo3-thin/data.yaml ] || $PY -m yolo3 synth --out /tmp/yolo3-thin --thin --n-train 300 --n-val 80 --imgsz 192 --seed 0
one() {
  local name=$1
  local log="$LOGS/${TAG:-}$name.log"
  rm -rf runs/thin/thin-$name
  OMP_NUM_THREADS=1 $PY -m yolo3 train --config benchmarks/thin/configs/thin-$name.yaml > "$log" 2>&1
  OMP_NUM_THREADS=1 $PY -m yolo3 val --weights runs/thin/thin-$name/weights/last.safetensors --data /tmp/yolo3-thin/data.yaml \
    --split val --out runs/thin/thin-$name/val --no-plots >> "$log" 2>&1
}
echo "$(date -u +%T) start; $(uptime)"
for name in ${NAMES:-paper v5 atss atss-af}; do one "$name" & done
wait
echo "$(date -u +%T) done; $(uptime)"
