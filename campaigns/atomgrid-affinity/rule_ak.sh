#!/usr/bin/env bash
# Rule AK (README.md): ranking within FEP series on the screening score, judged on v34 against rule X's c48 seeds.
#   rule_ak.sh lanes     both seeds at once, one core each (lane.sh: train, then the v34 crossval at 16 rotations)
#   rule_ak.sh compare   atomgrid compare, seeds averaged, dude:mapk2 out (as rules X, AI and AJ), and per seed
#   rule_ak.sh ak2       measurement AK2: within-series Spearman on the FEP series the v34 final fold holds out
#   rule_ak.sh aj2       the candidate's actives against their own isomers (measurement AJ2's setting; c48 read back)
set -euo pipefail
py=${PYTHON:-.venv/bin/python}
cfg=configs/atomgrid/crossval_sf08_wd05_16k_clean_c48_series.toml
R=benchmarks/results
x=campaigns/atomgrid-affinity/rule-x
case ${1:-} in
  lanes)
    campaigns/atomgrid-affinity/v34_vs_c48.sh lanes series "$cfg" ;;
  compare)
    campaigns/atomgrid-affinity/v34_vs_c48.sh compare series ;;
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
