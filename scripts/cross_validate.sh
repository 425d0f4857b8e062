#!/usr/bin/env bash
# The k-fold figures in docs/EXPERIMENTS.md: 5 folds over all labelled letters in data/, seed 13, with the
# baselines and the masked-verdict comparison on the same folds; each fold trains on all its
# letters (--dev-fraction 0), as the shipped model does.
# Writes reports/cv.json (every fold, the pooled out-of-fold figures, every decoding and
# comparison), reports/cv.html (the page: tables, charts, every error) and reports/cv.txt.
# Extra arguments go to `imr eval`: `--fold-models target/cv-folds` keeps the fold models and
# reuses them on the next run, to compare decodings without retraining (22 s instead of 36 min).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
mkdir -p reports
./target/release/imr eval --cv 5 --seed 13 --mask-conclusion --report reports/cv.html --lexicons data --data data/dwc-letters data/seeds --format json --dev-fraction 0 "$@" > reports/cv.json
python3 scripts/cv_summary.py reports/cv.json > reports/cv.txt
cat reports/cv.txt
