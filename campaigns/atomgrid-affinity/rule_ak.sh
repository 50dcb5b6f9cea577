#!/usr/bin/env bash
# Rule AK (README.md): ranking within FEP series on the screening score, judged on v34 against rule X's c48 seeds.
#   rule_ak.sh lanes     both seeds at once, one core each (lane.sh: train, then the v34 crossval at 16 rotations)
#   rule_ak.sh compare   atomgrid compare, seeds averaged, dude:mapk2 out (as rules X, AI and AJ), and per seed
#   rule_ak.sh ak2       measurement AK2: within-series Spearman on the FEP series the v34 final fold holds out
#   rule_ak.sh aj2       the candidate's actives against their own isomers (measurement AJ2's setting; c48 read back)
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
py=${PYTHON:-.venv/bin/python}
cfg=configs/atomgrid/crossval_sf08_wd05_16k_clean_c48_series.toml
R=benchmarks/results
x=campaigns/atomgrid-affinity/rule-x
cand() { echo "$R/atomgrid_crossval-validation34-rot16-ag-v34-series-s$1.json"; }
base() { echo "$R/atomgrid_crossval-validation34-rot16-ag-v34-c48-s$1.json"; }
case ${1:-} in
  lanes)
    [ -f runs/atomgrid/pose-clean-c48/final/model.pt ] || { mkdir -p runs/atomgrid/pose-clean-c48/final;
      cp $x/pose-clean-c48-final-v34.pt runs/atomgrid/pose-clean-c48/final/model.pt; }
    mkdir -p runs/atomgrid/v34
    taskset -c 0 campaigns/atomgrid-affinity/lane.sh series-s10 "$cfg" 10 > runs/atomgrid/v34/series-s10.log 2>&1 &
    taskset -c 1 campaigns/atomgrid-affinity/lane.sh series-s11 "$cfg" 11 > runs/atomgrid/v34/series-s11.log 2>&1 &
    wait ;;
  compare)
    "$bin" compare "$(cand 10)" "$(cand 11)" --vs "$(base 10)" "$(base 11)" --exclude-targets dude:mapk2 \
      --json "$R/atomgrid_compare-validation34-series-vs-c48.json"
    for s in 10 11; do
      "$bin" compare "$(cand $s)" --vs "$(base $s)" --exclude-targets dude:mapk2 \
        --json "$R/atomgrid_compare-validation34-series-vs-c48-s$s.json"
    done ;;
  ak2)
    "$py" campaigns/atomgrid-affinity/series_rank.py \
      --models c48=$x/c48-s10-final-v34.pt,$x/c48-s11-final-v34.pt \
               series=runs/atomgrid/v34/series-s10/final/model.pt,runs/atomgrid/v34/series-s11/final/model.pt \
               pose=$x/pose-clean-c48-final-v34.pt \
      --json "$R/atomgrid_series-v34-heldout-series-vs-c48.json" ;;
  aj2)
    "$py" campaigns/atomgrid-affinity/specificity.py --sources isomers \
      --from c48=$R/atomgrid_specificity-v34-isomers-iso-vs-c48.json \
      --models series=runs/atomgrid/v34/series-s10/final/model.pt,runs/atomgrid/v34/series-s11/final/model.pt \
      --json "$R/atomgrid_specificity-v34-isomers-series-vs-c48.json" ;;
  *) echo "usage: $0 lanes|compare|ak2|aj2" >&2; exit 2 ;;
esac
