#!/usr/bin/env bash
# Rule AH (campaigns/atomgrid-affinity/README.md): the contact trees on contacts-v3 (rule AA's counts and Vina's terms), judged as the
# pK column they would make (V2 = V + the CNN pair) against the shipped column (T2 = the rule-AA trees + the pair):
#   campaigns/atomgrid-affinity/rule_ah.sh train | eval | compare | casf
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
run=runs/atomgrid/contacts-gbt-v3-rec
. "$(dirname "$0")/affinity_sets.sh"
pair() { echo $R/atomgrid_evaluate-$1-rot16-pose-rec-s0.json $R/atomgrid_evaluate-$1-rot16-pose-rec-s1.json; }
case ${1:-} in
  train) "$bin" contacts-train --features contacts-v3 -o $run/model.pt --name ag-contacts-gbt-v3-rec \
           --json $R/atomgrid_contacts_train-gbt-v3-rec.json ;;
  eval) eval_sets $run/model.pt contacts-gbt-v3-rec ;;
  compare) for set in valaffinity activesprotocol; do
             "$bin" compare $R/atomgrid_evaluate-$set-rot16-contacts-gbt-v3-rec.json $(pair $set) \
               --vs $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec.json $(pair $set) \
               --json $R/atomgrid_compare-$set-contacts-gbt-v3-pair-vs-gbt-pair.json
           done ;;
  casf) "$bin" evaluate --model $run/model.pt --set casf2016 --rotations 16 --no-baseline --threads 1 \
          --json $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-v3-rec.json
        "$bin" compare $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-v3-rec.json $(pair casf2016) \
          --vs $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-rec.json $(pair casf2016) \
          --json $R/atomgrid_compare-casf2016-contacts-gbt-v3-pair-vs-gbt-pair.json ;;
  *) echo "usage: $0 train | eval | compare | casf" >&2; exit 2 ;;
esac
