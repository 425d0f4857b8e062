#!/usr/bin/env bash
# `imr summarize` on 100,000 records: the predictions of data/dwc-letters + data/seeds (265
# records, text and PDF copies of the letters), repeated to 100,000 lines in a temporary folder.
# Prints the seconds and the peak memory (GNU time), and the same for the 265 records alone.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --quiet
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
./target/release/imr predict data/dwc-letters data/seeds -o "$tmp/data.jsonl" 2>/dev/null
python3 - "$tmp/data.jsonl" "$tmp/100k.jsonl" <<'PY'
import sys
lines = open(sys.argv[1]).read().splitlines()
with open(sys.argv[2], "w") as out:
    for i in range(100_000):
        out.write(lines[i % len(lines)] + "\n")
PY
for f in data.jsonl 100k.jsonl; do
  lines=$(wc -l < "$tmp/$f")
  /usr/bin/time -f "%e s, %M KB peak" ./target/release/imr summarize "$tmp/$f" --format json \
    > /dev/null 2> "$tmp/time.txt"
  echo "$lines records ($(du -h "$tmp/$f" | cut -f1)): $(tail -1 "$tmp/time.txt")"
done
