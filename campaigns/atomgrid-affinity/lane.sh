#!/usr/bin/env bash
# One lane of a v34 rule (rules I-X): train CONFIG on the v34 final fold with SEED into runs/atomgrid/v34/NAME,
# then evaluate it on v34 (35 targets, 16 rotations, the protocol's poses, Vina skipped) into
# benchmarks/results/atomgrid_crossval-validation34-rot16-ag-v34-NAME.json. One thread each, so two lanes share
# a 2-core machine. Needs runs/atomgrid/{cache_train,cache_val}.pt, runs/atomgrid/screen_cv/cache_crossval.pt and
# the poses under runs/atomgrid/crossval (`atomgrid screen-data --crossval --embed-timeout 30`), and the config's
# pose model (its header says how to train it).
#   campaigns/atomgrid-affinity/lane.sh c48-s10 configs/atomgrid/crossval_sf08_wd05_16k_clean_c48.toml 10
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: $0 NAME CONFIG SEED" >&2; exit 2; }
name=$1 config=$2 seed=$3
bin=${ATOMGRID:-.venv/bin/atomgrid}
run=runs/atomgrid/v34/$name
"$bin" train --config "$config" --fold final --validation-group v34 -o run_dir="$run" -o train.seed="$seed" \
  -o train.max_minutes=0 -o train.threads=1
"$bin" crossval --validation --validation-group v34 --model "$run/final/model.pt" --pose-model ag-atomnet-c16-l3-g16r15 \
  --max-decoys 200 --embed-timeout 30 --threads 1 --rotations 16 --skip-vina \
  --json "benchmarks/results/atomgrid_crossval-validation34-rot16-ag-v34-$name.json"
