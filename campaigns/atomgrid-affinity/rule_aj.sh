#!/usr/bin/env bash
# Rule AJ (README.md): the actives' own positional isomers as decoys, judged on v34 against rule X's c48 seeds.
#   rule_aj.sh data      the isomer cache for the v34 final fold's targets (~8 s a target)
#   rule_aj.sh lanes     both seeds at once, one core each (lane.sh: train, then the v34 crossval at 16 rotations)
#   rule_aj.sh compare   atomgrid compare, seeds averaged, dude:mapk2 out (as rules X and AI), and per seed
#   rule_aj.sh aj2       measurement AJ2: actives against their own isomers on v34, c48 seeds and the candidate's
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
py=${PYTHON:-.venv/bin/python}
cfg=configs/atomgrid/crossval_sf08_wd05_16k_clean_c48_iso.toml
R=benchmarks/results
case ${1:-} in
  data)
    "$bin" screen-data --crossval --crossval-isomer-decoys 40 --validation-group v34 --embed-timeout 30 ;;
  lanes)
    campaigns/atomgrid-affinity/v34_vs_c48.sh lanes iso "$cfg" ;;
  compare)
    campaigns/atomgrid-affinity/v34_vs_c48.sh compare iso ;;
  aj2)
    x=campaigns/atomgrid-affinity/rule-x
    "$py" campaigns/atomgrid-affinity/specificity.py --sources isomers \
      --models c48=$x/c48-s10-final-v34.pt,$x/c48-s11-final-v34.pt \
               iso=runs/atomgrid/v34/iso-s10/final/model.pt,runs/atomgrid/v34/iso-s11/final/model.pt \
      --json "$R/atomgrid_specificity-v34-isomers-iso-vs-c48.json" ;;
  *) echo "usage: $0 data|lanes|compare|aj2" >&2; exit 2 ;;
esac
