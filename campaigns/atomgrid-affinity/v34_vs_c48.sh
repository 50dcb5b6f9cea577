#!/usr/bin/env bash
# A v34 rule's candidate against rule X's c48 seeds (rules AJ, AK): seeds 10 and 11 of CONFIG as runs/atomgrid/v34/TAG-s1{0,1}.
#   v34_vs_c48.sh lanes TAG CONFIG   both seeds at once, one core each (lane.sh: train, then the v34 crossval at 16 rotations)
#   v34_vs_c48.sh compare TAG        atomgrid compare, seeds averaged and per seed, dude:mapk2 out (as rules X and AI)
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
run() { echo "$R/atomgrid_crossval-validation34-rot16-ag-v34-$1-s$2.json"; }
case ${1:-}:$# in
  lanes:3)
    tag=$2 cfg=$3
    [ -f runs/atomgrid/pose-clean-c48/final/model.pt ] || { mkdir -p runs/atomgrid/pose-clean-c48/final;
      cp campaigns/atomgrid-affinity/rule-x/pose-clean-c48-final-v34.pt runs/atomgrid/pose-clean-c48/final/model.pt; }
    mkdir -p runs/atomgrid/v34
    for s in 10 11; do
      taskset -c $((s - 10)) campaigns/atomgrid-affinity/lane.sh "$tag-s$s" "$cfg" $s > "runs/atomgrid/v34/$tag-s$s.log" 2>&1 &
    done
    wait ;;
  compare:2)
    tag=$2
    "$bin" compare "$(run "$tag" 10)" "$(run "$tag" 11)" --vs "$(run c48 10)" "$(run c48 11)" \
      --exclude-targets dude:mapk2 --json "$R/atomgrid_compare-validation34-$tag-vs-c48.json"
    for s in 10 11; do
      "$bin" compare "$(run "$tag" $s)" --vs "$(run c48 $s)" --exclude-targets dude:mapk2 \
        --json "$R/atomgrid_compare-validation34-$tag-vs-c48-s$s.json"
    done ;;
  *) echo "usage: $0 lanes TAG CONFIG | compare TAG" >&2; exit 2 ;;
esac
