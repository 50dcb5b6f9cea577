#!/usr/bin/env bash
# One model of the cross-target protocol, start to end (rule Y): the fold's pose model, then the screening recipe
# started from it, seed 0, one thread each (two lanes share a 2-core machine):
#   campaigns/atomgrid-affinity/fold_lane.sh FOLD GROUP POSE_CONFIG RECIPE_CONFIG TAG
# writes runs/atomgrid/pose-TAG/FOLD/model.pt and runs/atomgrid/recipe-TAG/FOLD/model.pt. FOLD: fold0..fold4 or
# final; GROUP: the validation group the final fold leaves out (v11 for the shipped model, v34 for its protocol).
#   campaigns/atomgrid-affinity/fold_lane.sh final v11 configs/atomgrid/small_c48.toml \
#       configs/atomgrid/crossval_sf08_wd05_16k_clean_c48.toml c48-v11
set -euo pipefail
[ $# -eq 5 ] || { echo "usage: $0 FOLD GROUP POSE_CONFIG RECIPE_CONFIG TAG" >&2; exit 2; }
fold=$1 group=$2 pose=$3 recipe=$4 tag=$5
bin=${ATOMGRID:-.venv/bin/atomgrid}
posedir=runs/atomgrid/pose-$tag
common=(--fold "$fold" --validation-group "$group" -o train.max_minutes=0 -o train.threads=1 -o train.seed=0)
# a lane stopped part way (a session's end) starts again where its last checkpoint was (--resume)
if [ ! -f "$posedir/$fold/model.pt" ]; then
  "$bin" train --config "$pose" "${common[@]}" -o run_dir="$posedir" --resume
fi
if [ ! -f "runs/atomgrid/recipe-$tag/$fold/model.pt" ]; then
  "$bin" train --config "$recipe" "${common[@]}" -o run_dir="runs/atomgrid/recipe-$tag" \
    -o train.init="$posedir/{fold}/model.pt" --resume
fi
