#!/usr/bin/env bash
# Measurement AG (campaigns/atomgrid-affinity/README.md): the rule-AA trees trained on the strict split (no CASF-2016
# protein), evaluated on CASF-2016 against the shipped trees. Needs runs/atomgrid/cache_train.pt (atomgrid prepare
# --kind train) and runs/atomgrid/cache_test.pt.
set -euo pipefail
bin=${ATOMGRID:-.venv/bin/atomgrid}
R=benchmarks/results
run=runs/atomgrid/contacts-gbt-strict
"$bin" contacts-train --cache runs/atomgrid/cache_train.pt -o $run/model.pt --name ag-contacts-gbt-strict \
  --json $R/atomgrid_contacts_train-gbt-strict.json
"$bin" evaluate --model $run/model.pt --set casf2016 --rotations 16 --no-baseline --threads 1 \
  --json $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-strict.json
"$bin" compare $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-strict.json \
  --vs $R/atomgrid_evaluate-casf2016-rot16-contacts-gbt-rec.json --json $R/atomgrid_compare-casf2016-contacts-gbt-strict-vs-rec.json
