#!/usr/bin/env bash
# Put rule Y's kept CV40 files back where fold_lane.sh and rule_y_cv40.sh read them (see README.md here).
set -euo pipefail
D=campaigns/atomgrid-affinity/rule-y
A=runs/atomgrid
for f in 0 1; do
  mkdir -p $A/recipe-c48-cv/fold$f
  [ -f $A/recipe-c48-cv/fold$f/model.pt ] || cp $D/c48-cv-fold$f.pt $A/recipe-c48-cv/fold$f/model.pt
done
for f in 2 3; do
  mkdir -p $A/pose-c48-cv/fold$f
  [ -f $A/pose-c48-cv/fold$f/model.pt ] || cp $D/resume/pose-c48-cv-fold$f.pt $A/pose-c48-cv/fold$f/model.pt
done
r=$A/recipe-c48-cv/fold3
mkdir -p $r
if [ ! -f $r/model.pt ] && [ -z "$(ls $r/ckpt_*.pt 2>/dev/null)" ]; then
  cp $D/resume/recipe-c48-cv-fold3-ckpt_000006500.pt $r/ckpt_000006500.pt
  cp $D/resume/recipe-c48-cv-fold3-metrics.jsonl $r/metrics.jsonl
fi
echo "restored: fold0/fold1 models, fold2/fold3 pose models, fold3 recipe at step 6500"
