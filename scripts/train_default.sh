#!/usr/bin/env bash
# Trains the default model shipped in models/default from the letters in data/.
# Reproducible: the same data and seed give a byte-identical model.safetensors.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
./target/release/imr train --data data/dwc-letters data/seeds --out models/default --seed 13 "$@"
