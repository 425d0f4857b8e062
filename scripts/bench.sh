#!/usr/bin/env bash
# Benchmarks imr on this machine with the shipped model and the letters in data/:
#   scripts/bench.sh [--train] [--out reports/bench.json]
# - predict throughput (words/s, letters/s) on the 130 DWC letters as text, and as PDF;
# - peak resident memory (/usr/bin/time -v) for 130 letters and for 10x as many (1,300 inputs):
#   memory must stay flat however many letters go in;
# - single-letter latency, start-up and model load included (median of 5);
# - one very long letter (a sample letter with the text of all 130 letters, three times, in its
#   case summary: about 340,000 words): its rate must stay that of many short letters, since
#   nothing in decoding and the rules may grow faster than the text;
# - the pipeline's stages timed on their own (examples/bench_stages.rs), among them the pure
#   forward-pass rate that predict is compared against;
# - training time per epoch and in all, read from the shipped model's train_log.jsonl, or
#   measured afresh with --train (trains the default model into a temporary directory, ~11 min);
# - model size on disk.
# Prints a table and writes the figures as JSON so runs can be compared. Run it on an idle
# machine: the figures are wall-clock times.
set -euo pipefail
cd "$(dirname "$0")/.."
train=0
out=reports/bench.json
while [ $# -gt 0 ]; do
  case "$1" in
    --train) train=1 ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--train] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet --bin imr --example bench_stages
bin=target/release/imr
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# One timed run: wall seconds and peak RSS (kB) into $tmp/$name.time.
timed() {
  local name=$1; shift
  /usr/bin/time -v -o "$tmp/$name.time" "$@" > "$tmp/$name.out"
}
field() { # field NAME "label in time -v output"
  grep -F "$2" "$tmp/$1.time" | awk -F': ' '{print $NF}'
}
wall() { # elapsed as seconds
  field "$1" "Elapsed (wall clock)" | awk -F: '{ if (NF==3) print $1*3600+$2*60+$3; else print $1*60+$2 }'
}

txt=(data/dwc-letters/*.txt)
pdf=(data/dwc-letters/*.pdf)
"$bin" predict "${txt[@]}" > /dev/null   # warm the page cache
for i in 1 2 3; do timed "text$i" "$bin" predict "${txt[@]}"; done
for i in 1 2 3; do timed "pdf$i" "$bin" predict "${pdf[@]}"; done
many=()
for _ in $(seq 10); do many+=("${txt[@]}"); done
timed many "$bin" predict "${many[@]}"
for i in 1 2 3 4 5; do timed "one$i" "$bin" predict data/samples/CM17-0013716.txt; done
python3 - "$tmp/long.txt" "${txt[@]}" <<'PY'
import sys
out, files = sys.argv[1], sys.argv[2:]
sample = open("data/samples/CM17-0013716.txt", encoding="utf-8").read()
at = sample.index("IMR ISSUES, DECISIONS AND RATIONALES")
body = "\n\n".join(open(f, encoding="utf-8").read() for f in files)
# The inserted letters' own issue headings would start the issues section early.
body = body.replace("IMR ISSUES, DECISIONS AND RATIONALES", "IMR issues")
open(out, "w", encoding="utf-8").write(sample[:at] + body * 3 + "\n\n" + sample[at:])
PY
timed long "$bin" predict "$tmp/long.txt"
cargo run --release --quiet --example bench_stages > "$tmp/stages.json"

if [ "$train" = 1 ]; then
  start=$(date +%s.%N)
  "$bin" train --data data/dwc-letters data/seeds --out "$tmp/model" --seed 13 2> /dev/null
  end=$(date +%s.%N)
  train_log="$tmp/model/train_log.jsonl"
  train_total=$(echo "$end - $start" | bc)
  train_source="measured by this run (--train)"
else
  train_log=models/default/train_log.jsonl
  train_total=""
  train_source="models/default/train_log.jsonl (recorded when the shipped model was trained)"
fi

{
  for run in text1 text2 text3 pdf1 pdf2 pdf3 many one1 one2 one3 one4 one5 long; do
    echo "$run $(wall $run) $(field $run 'Maximum resident set size')"
  done
} > "$tmp/runs.txt"

python3 - "$tmp" "$out" "$train_log" "$train_total" "$train_source" <<'PY'
import json, os, statistics, subprocess, sys
tmp, out, train_log, train_total, train_source = sys.argv[1:]
runs = {}
for line in open(f"{tmp}/runs.txt"):
    name, secs, rss = line.split()
    runs[name] = (float(secs), int(rss) / 1024)
words = sum(len(open(f"data/dwc-letters/{f}", encoding="utf-8").read().split())
            for f in os.listdir("data/dwc-letters") if f.endswith(".txt"))
letters = len([f for f in os.listdir("data/dwc-letters") if f.endswith(".txt")])
long_words = len(open(f"{tmp}/long.txt", encoding="utf-8").read().split())
med = lambda names: statistics.median(runs[n][0] for n in names)
text_s = med(["text1", "text2", "text3"])
pdf_s = med(["pdf1", "pdf2", "pdf3"])
stages = json.load(open(f"{tmp}/stages.json"))
epochs = [json.loads(l) for l in open(train_log)]
size = {f: os.path.getsize(f"models/default/{f}") for f in sorted(os.listdir("models/default"))}
forward_2 = stages["stages_words_per_s"]["forward (tagger + decision), 2 cores"]
cpu = subprocess.run(["sh", "-c", "grep -m1 'model name' /proc/cpuinfo | cut -d: -f2"],
                     capture_output=True, text=True).stdout.strip()
r = {
    "machine": {"cpus": os.cpu_count(), "cpu": cpu},
    "corpus": {"letters": letters, "words": words},
    "predict_text": {"seconds": text_s, "words_per_s": round(words / text_s),
                     "letters_per_s": round(letters / text_s, 1),
                     "peak_rss_mb": round(max(runs[n][1] for n in ["text1", "text2", "text3"]), 1)},
    "predict_pdf": {"seconds": pdf_s, "words_per_s": round(words / pdf_s),
                    "letters_per_s": round(letters / pdf_s, 1),
                    "peak_rss_mb": round(max(runs[n][1] for n in ["pdf1", "pdf2", "pdf3"]), 1)},
    "predict_text_10x": {"inputs": 10 * letters, "seconds": runs["many"][0],
                         "words_per_s": round(10 * words / runs["many"][0]),
                         "peak_rss_mb": round(runs["many"][1], 1)},
    "single_letter_latency_s": med([f"one{i}" for i in range(1, 6)]),
    "predict_long_letter": {"words": long_words, "seconds": runs["long"][0],
                            "words_per_s": round(long_words / runs["long"][0]),
                            "peak_rss_mb": round(runs["long"][1], 1)},
    "stages": stages,
    "predict_vs_forward": round(forward_2 / (words / text_s), 2),
    "training": {"source": train_source, "epochs": len(epochs),
                 "seconds_per_epoch": round(statistics.mean(e["seconds"] for e in epochs), 1),
                 "seconds_total": float(train_total) if train_total else round(sum(e["seconds"] for e in epochs), 1)},
    "model_bytes": {"total": sum(size.values()), "files": size},
}
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
json.dump(r, open(out, "w"), indent=2)
row = lambda k, v: print(f"{k:<52} {v}")
print(f"imr benchmark: {letters} letters, {words:,} words, {os.cpu_count()} cores ({cpu})")
row("predict, text: words/s", f"{r['predict_text']['words_per_s']:,}")
row("predict, text: letters/s", r["predict_text"]["letters_per_s"])
row("predict, PDF: words/s", f"{r['predict_pdf']['words_per_s']:,}")
row("predict, PDF: letters/s", r["predict_pdf"]["letters_per_s"])
row("peak RSS, 130 letters (MB)", r["predict_text"]["peak_rss_mb"])
row("peak RSS, 1,300 inputs (MB)", r["predict_text_10x"]["peak_rss_mb"])
row("single letter, start-up included (s)", r["single_letter_latency_s"])
row(f"one long letter ({long_words:,} words): words/s", f"{r['predict_long_letter']['words_per_s']:,}")
row("one long letter: peak RSS (MB)", r["predict_long_letter"]["peak_rss_mb"])
for k, v in stages["stages_words_per_s"].items():
    row(f"stage words/s: {k}", f"{v:,.0f}")
row("forward-pass rate / predict rate", r["predict_vs_forward"])
row(f"training: s/epoch ({r['training']['epochs']} epochs)", r["training"]["seconds_per_epoch"])
row("training: total (s)", r["training"]["seconds_total"])
row("model size on disk (bytes)", f"{r['model_bytes']['total']:,}")
print(f"\nwritten to {out}")
PY
