#!/usr/bin/env bash
# Rule AC (README.md): the contact trees on contacts-v2 (ECIF-like classes), judged as the pK column they would make
# against the shipped column: rule_ac.sh train | eval | compare | casf
exec "$(dirname "$0")/contact_rule.sh" contacts-v2 gbt-v2 "$@"
