#!/usr/bin/env bash
# A feature-set rule for the contact trees (rules AC, AH in README.md): the trees on FEATURES, judged as the pK column
# they would make (the trees + the CNN pair, a third each) against the shipped column (the rule-AA trees + the pair):
#   contact_rule.sh FEATURES TAG train | eval | compare | casf
# e.g. contact_rule.sh contacts-v3 gbt-v3 train: runs/atomgrid/contacts-gbt-v3-rec/model.pt, results named *-gbt-v3-*.
set -euo pipefail
[ $# -ge 3 ] || { echo "usage: $0 FEATURES TAG train | eval | compare | casf" >&2; exit 2; }
features=$1 tag=$2 step=$3
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
run=runs/atomgrid/contacts-$tag-rec
. "$(dirname "$0")/affinity_sets.sh"
pair() { echo $R/atomgrid_evaluate-$1-rot16-pose-rec-s0.json $R/atomgrid_evaluate-$1-rot16-pose-rec-s1.json; }
case $step in
  train) "$bin" contacts-train --features "$features" -o $run/model.pt --name ag-contacts-$tag-rec \
           --json $R/atomgrid_contacts_train-$tag-rec.json ;;
  eval) eval_sets $run/model.pt contacts-$tag-rec ;;
  compare) for set in valaffinity activesprotocol; do
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-contacts-$tag-rec.json $(pair $set) \
               --vs $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec.json $(pair $set) \
               --json $R/atomgrid_compare-$set-contacts-$tag-pair-vs-gbt-pair.json
           done ;;
  casf) "$bin" evaluate --model $run/model.pt --set casf2016 --rotations 16 --no-baseline --threads 1 \
          --json $R/atomgrid_evaluate-casf2016-rot16-contacts-$tag-rec.json
        "$bin" compare $R/atomgrid_evaluate-casf2016-rot16-contacts-$tag-rec.json $(pair casf2016) \
          --vs $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-rec.json $(pair casf2016) \
          --json $R/atomgrid_compare-casf2016-contacts-$tag-pair-vs-gbt-pair.json ;;
  *) echo "usage: $0 FEATURES TAG train | eval | compare | casf" >&2; exit 2 ;;
esac
