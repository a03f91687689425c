#!/usr/bin/env bash
# BCCD detect-then-classify (issue 15), same CPU budget (7 thread-minutes), two 1-thread chains side by side
# on the 2 cores:
#   single: the recipe's 3-class model, 7 minutes, 1 thread;
#   two-stage: a class-agnostic detector (the recipe on a one-class view of BCCD, 5 minutes, 1 thread), then
#   a crop classifier (2 minutes, 1 thread); evaluated together on val.
# Logs: benchmarks/bccd/logs/classify-*.log. Usage (repo root): PY=.venv/bin/python bash benchmarks/bccd/run_classify.sh
set -u
PY=${PY:-.venv/bin/python}
DATA=${DATA:-../shared/datasets/bccd}
AGN=${AGN:-/tmp/bccd-agnostic}
LOGS=benchmarks/bccd/logs
OUT=runs/bccd-classify
mkdir -p "$LOGS" "$OUT"
rm -rf "$OUT"/single "$OUT"/agnostic
$PY benchmarks/bccd/eval_classify.py agnostic "$AGN"
CFG=benchmarks/bccd/configs/bccd-assign-v5.yaml
echo "$(date -u +%T) start; $(uptime)"
(OMP_NUM_THREADS=1 $PY -m yolo3 train --config $CFG --data "$DATA" --project $OUT --name single --time-budget 7 \
   > "$LOGS/classify-single.log" 2>&1
 OMP_NUM_THREADS=1 $PY -m yolo3 val --weights $OUT/single/weights/last.safetensors --data "$DATA" --split val \
   --out $OUT/single/val --no-plots >> "$LOGS/classify-single.log" 2>&1) &
(OMP_NUM_THREADS=1 $PY -m yolo3 train --config $CFG --data "$AGN" --project $OUT --name agnostic --time-budget 5 \
   > "$LOGS/classify-detector.log" 2>&1
 OMP_NUM_THREADS=1 $PY -m yolo3 train-classifier --data "$DATA" --out $OUT/classifier.safetensors --epochs 1000 \
   --minutes 2 > "$LOGS/classify-classifier.log" 2>&1) &
wait
echo "$(date -u +%T) trained; $(uptime)"
OMP_NUM_THREADS=1 $PY benchmarks/bccd/eval_classify.py eval $OUT/agnostic/weights/last.safetensors \
  $OUT/classifier.safetensors > "$LOGS/classify-two-stage.log" 2>&1
echo "$(date -u +%T) done; $(uptime)"
