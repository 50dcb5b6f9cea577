#!/usr/bin/env bash
# Rule Z (campaigns/atomgrid-affinity/README.md): two more seeds of the pK pair's recipe, and a seed-0 retrain as the
# control for the machine (~9.5 minutes a model on one core, ~4 minutes its two evaluations):
#   campaigns/atomgrid-affinity/rule_z.sh train SEED     runs/atomgrid/pose-rec-sSEED (the pair's recipe and data)
#   campaigns/atomgrid-affinity/rule_z.sh eval SEED      val-affinity and the 2,910 protocol actives, 16 rotations
#   campaigns/atomgrid-affinity/rule_z.sh compare        the quartet (seeds 0-3) against the shipped pair
#   campaigns/atomgrid-affinity/rule_z.sh control        seed 0 retrained here (pose-rec-s0-avx) against the shipped s0
# Needs runs/atomgrid/cache_train_rec.pt, cache_val_affinity.pt (atomgrid prepare --kind train-recommended /
# val-affinity) and runs/atomgrid/screen_cv/cache_actives_protocol.pt (atomgrid screen-data --actives-affinity protocol).
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
train() {  # $1 seed, $2 run name
  "$bin" train --config configs/atomgrid/small.toml -o name=ag-atomnet-c16-l3-g16r15-rec \
    -o data.train_cache=runs/atomgrid/cache_train_rec.pt -o run_dir="runs/atomgrid/$2" -o train.seed="$1" \
    -o train.threads=1 -o train.max_minutes=0
}
evaluate() {  # $1 run name ($1 = pose-rec-sK), results named after it
  for set in valaffinity activesprotocol; do
    cache=runs/atomgrid/cache_val_affinity.pt
    [ $set = activesprotocol ] && cache=runs/atomgrid/screen_cv/cache_actives_protocol.pt
    "$bin" evaluate --model "runs/atomgrid/$1/model.pt" --set cache --cache $cache --rotations 16 --no-baseline \
      --threads 1 --json "$R/atomgrid_evaluate-$set-rot16-$1.json"
  done
}
case ${1:-} in
  train) train "$2" "pose-rec-s$2" ;;
  eval) evaluate "pose-rec-s$2" ;;
  compare) for set in valaffinity activesprotocol; do
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1,2,3}.json \
               --vs $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
               --json $R/atomgrid_compare-$set-rec-quartet-vs-pose-rec.json
           done ;;
  control) train 0 pose-rec-s0-avx && evaluate pose-rec-s0-avx
           for set in valaffinity activesprotocol; do
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-pose-rec-s0-avx.json $R/atomgrid_evaluate-$set-rot16-pose-rec-s0.json \
               --json $R/atomgrid_compare-$set-rec-s0-avx-vs-pose-rec-s0.json
           done ;;
  *) echo "usage: $0 train SEED | eval SEED | compare | control" >&2; exit 2 ;;
esac
