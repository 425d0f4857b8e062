#!/usr/bin/env bash
# The k-fold figures in README.md: 5 folds over all labelled letters in data/, seed 13.
# Writes reports/cv.json (every fold and the pooled out-of-fold figures) and reports/cv.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p reports
./target/release/imr eval --cv 5 --seed 13 --data data/dwc-letters data/seeds --format json "$@" > reports/cv.json
python3 - <<'PY' > reports/cv.txt
import json
r = json.load(open("reports/cv.json"))
print(f"{r['k']}-fold cross-validation, {r['letters']} letters, seed {r['seed']}")
for k, v in r["mean"].items():
    print(f"{k:<44} {v:.3f} +/- {r['std'][k]:.3f}")
PY
cat reports/cv.txt
