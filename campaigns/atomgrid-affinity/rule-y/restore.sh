#!/usr/bin/env bash
# Put rule Y's five CV40 fold models back where `rule_y_cv40.sh C` reads them (runs/ does not survive every session).
set -euo pipefail
D=campaigns/atomgrid-affinity/rule-y
for f in 0 1 2 3 4; do
  r=runs/atomgrid/recipe-c48-cv/fold$f
  mkdir -p "$r"
  [ -f "$r/model.pt" ] || cp "$D/c48-cv-fold$f.pt" "$r/model.pt"
done
echo "restored: the five c48 CV40 fold models in runs/atomgrid/recipe-c48-cv/fold0..fold4"
