#!/usr/bin/env bash
# Measurement AF (campaigns/atomgrid-affinity/README.md): seeds 1 and 2 of the rule-AA trees, alone and with the pair.
#   campaigns/atomgrid-affinity/rule_af.sh      (train, evaluate and compare both seeds; ~3 minutes)
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
. "$(dirname "$0")/affinity_sets.sh"
for s in 1 2; do
  run=runs/atomgrid/contacts-gbt-rec-s$s
  "$bin" contacts-train --seed $s -o $run/model.pt --name ag-contacts-gbt-rec-s$s --json $R/atomgrid_contacts_train-gbt-rec-s$s.json
  eval_sets $run/model.pt contacts-gbt-rec-s$s
  for set in "${affinity_sets[@]}"; do
    "$bin" compare $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec-s$s.json $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
      --vs $R/atomgrid_evaluate-$set-rot16-contacts-gbt-rec.json $R/atomgrid_evaluate-$set-rot16-pose-rec-s{0,1}.json \
      --json $R/atomgrid_compare-$set-contacts-gbt-s$s-pair-vs-gbt-pair.json
  done
done
