#!/usr/bin/env bash
# Rule AH (README.md): the contact trees on contacts-v3 (rule AA's counts and Vina's five terms), judged as the pK
# column they would make against the shipped column: rule_ah.sh train | eval | compare | casf
exec "$(dirname "$0")/contact_rule.sh" contacts-v3 gbt-v3 "$@"
