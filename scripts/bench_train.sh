#!/usr/bin/env bash
# Training speed, side by side with an earlier binary:
#   scripts/bench_train.sh [--base BIN] [--epochs N] [--runs R] [--out reports/bench_train.json]
# Trains the default configuration on data/ for N epochs (default 2) into temporary directories,
# R times (default 2) with this build and, with --base, as often with BIN, the runs interleaved,
# and reads each epoch's seconds from the run's train_log.jsonl. Prints the seconds per epoch of
# each and their ratio, the paired figure to quote (the machine's speed drifts by a third in a
# day), and whether the two trainings' losses agree. Run it on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
base=""
epochs=2
runs=2
out=reports/bench_train.json
while [ $# -gt 0 ]; do
  case "$1" in
    --base) base="$2"; shift ;;
    --epochs) epochs="$2"; shift ;;
    --runs) runs="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--base BIN] [--epochs N] [--runs R] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet --bin imr
bin=target/release/imr
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

train() { # train NAME BIN
  "$2" train --data data/dwc-letters data/seeds --lexicons data --seed 13 --epochs "$epochs" \
    --out "$tmp/$1" 2> "$tmp/$1.log"
}
for i in $(seq "$runs"); do
  train "head$i" "$bin"
  [ -z "$base" ] || train "base$i" "$base"
done

python3 - "$tmp" "$out" "$runs" "$base" "$epochs" <<'PY'
import json, statistics, subprocess, sys
tmp, out, runs, base, epochs = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], int(sys.argv[5])
def log(name):
    return [json.loads(l) for l in open(f"{tmp}/{name}/train_log.jsonl")]
def per_epoch(prefix):
    return [round(statistics.mean(e["seconds"] for e in log(f"{prefix}{i}")), 2) for i in range(1, runs + 1)]
commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
r = {"epochs": epochs, "runs": runs, "commit": commit,
     "head_seconds_per_epoch": per_epoch("head")}
print(f"training, {epochs} epochs on data/, seconds per epoch (each run's mean):")
print(f"  this build ({commit}): {r['head_seconds_per_epoch']}")
if base:
    r["base"] = base
    r["base_seconds_per_epoch"] = per_epoch("base")
    ratios = [b / h for h, b in zip(r["head_seconds_per_epoch"], r["base_seconds_per_epoch"])]
    r["speedup_paired"] = [round(x, 2) for x in ratios]
    r["speedup_median"] = round(statistics.median(ratios), 2)
    keys = ["tag_loss", "lstm_tag_loss", "decision_loss"]
    a, b = log("head1"), log("base1")
    r["largest_loss_difference"] = max(abs(x.get(k, 0) - y.get(k, 0)) for x, y in zip(a, b) for k in keys)
    print(f"  {base}: {r['base_seconds_per_epoch']}")
    print(f"  speed-up, paired runs: {r['speedup_paired']} (median {r['speedup_median']}x)")
    print(f"  largest difference of an epoch's tag or decision loss: {r['largest_loss_difference']:.2e}")
json.dump(r, open(out, "w"), indent=2)
print(f"wrote {out}")
PY
