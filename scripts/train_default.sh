#!/usr/bin/env bash
# Trains the default model shipped in models/default from the letters in data/.
# Reproducible: the same data and seed give a byte-identical model.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
# --force: models/default is replaced; --lexicons data: the lexicon is built from data/, not
# taken from the model being replaced.
./target/release/imr train --data data/dwc-letters data/seeds --lexicons data --out models/default --force --seed 13 "$@"
