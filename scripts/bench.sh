#!/usr/bin/env bash
# Benchmarks imr on this machine with the shipped model and the letters in data/:
#   scripts/bench.sh [--train] [--base BIN] [--out reports/bench.json]
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
# - model size on disk;
# - predict on 1 and on 2 threads (-j), three runs each, interleaved: the scaling;
# - with --base BIN (an earlier imr binary), the same text, 1-thread and long-letter runs of
#   BIN interleaved with this build's, side by side: the speed-up as a ratio measured in one
#   run (the machine's speed drifts by a third in a day; ratios are what to quote).
# Prints a table and writes the figures as JSON so runs can be compared. Run it on an idle
# machine: the figures are wall-clock times.
set -euo pipefail
cd "$(dirname "$0")/.."
train=0
base=""
out=reports/bench.json
while [ $# -gt 0 ]; do
  case "$1" in
    --train) train=1 ;;
    --out) out="$2"; shift ;;
    --base) base="$2"; shift ;;
    *) echo "usage: $0 [--train] [--base BIN] [--out FILE]" >&2; exit 2 ;;
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
for i in 1 2 3; do
  timed "text$i" "$bin" predict "${txt[@]}"
  [ -z "$base" ] || timed "base_text$i" "$base" predict "${txt[@]}"
done
# Threads: candle's products and rayon's pool both read RAYON_NUM_THREADS, which an earlier
# binary without -j also obeys.
for i in 1 2 3; do
  for j in 1 2; do
    RAYON_NUM_THREADS=$j timed "j${j}_$i" "$bin" predict "${txt[@]}"
    [ -z "$base" ] || RAYON_NUM_THREADS=$j timed "base_j${j}_$i" "$base" predict "${txt[@]}"
  done
done
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
[ -z "$base" ] || timed base_long "$base" predict "$tmp/long.txt"
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
  for f in "$tmp"/*.time; do
    run=$(basename "$f" .time)
    echo "$run $(wall $run) $(field $run 'Maximum resident set size') $(field $run 'User time (seconds)') $(field $run 'System time (seconds)')"
  done
} > "$tmp/runs.txt"

python3 - "$tmp" "$out" "$train_log" "$train_total" "$train_source" "$base" <<'PY'
import json, os, statistics, subprocess, sys
tmp, out, train_log, train_total, train_source, base = sys.argv[1:]
runs, cpu_s = {}, {}
for line in open(f"{tmp}/runs.txt"):
    name, secs, rss, user, system = line.split()
    runs[name] = (float(secs), int(rss) / 1024)
    cpu_s[name] = float(user) + float(system)
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
forward_2 = stages["stages_words_per_s"]["forward (tagger + decision), 2 threads"]
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
threads = {}
for j in (1, 2):
    s_ = med([f"j{j}_{i}" for i in (1, 2, 3)])
    threads[f"{j}_thread{'s' if j > 1 else ''}"] = {
        "seconds": s_, "words_per_s": round(words / s_),
        "peak_rss_mb": round(max(runs[f"j{j}_{i}"][1] for i in (1, 2, 3)), 1)}
threads["scaling_2_over_1"] = round(threads["1_thread"]["seconds"] / threads["2_threads"]["seconds"], 2)
r["threads"] = threads
if base:
    b_text = med(["base_text1", "base_text2", "base_text3"])
    b1 = med([f"base_j1_{i}" for i in (1, 2, 3)])
    r["versus_base"] = {
        "base": base,
        "text_seconds": {"this": text_s, "base": b_text},
        "speedup_text": round(b_text / text_s, 2),
        "speedup_text_cpu": round(statistics.median(cpu_s[f"base_text{i}"] for i in (1, 2, 3))
                                  / statistics.median(cpu_s[f"text{i}"] for i in (1, 2, 3)), 2),
        "speedup_1_thread": round(b1 / threads["1_thread"]["seconds"], 2),
        "peak_rss_mb_text": {"this": r["predict_text"]["peak_rss_mb"],
                             "base": round(max(runs[f"base_text{i}"][1] for i in (1, 2, 3)), 1)},
        "long_letter": {"this_seconds": runs["long"][0], "base_seconds": runs["base_long"][0],
                        "this_peak_rss_mb": round(runs["long"][1], 1),
                        "base_peak_rss_mb": round(runs["base_long"][1], 1)},
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
row("predict, 1 thread: words/s", f"{threads['1_thread']['words_per_s']:,}")
row("predict, 2 threads: words/s", f"{threads['2_threads']['words_per_s']:,}")
row("scaling, 2 threads over 1", threads["scaling_2_over_1"])
if base:
    v = r["versus_base"]
    row(f"speed-up over {base}, text (wall)", v["speedup_text"])
    row(f"speed-up over {base}, text (CPU)", v["speedup_text_cpu"])
    row(f"speed-up over {base}, 1 thread", v["speedup_1_thread"])
    row("peak RSS, 130 letters, this / base (MB)", f"{v['peak_rss_mb_text']['this']} / {v['peak_rss_mb_text']['base']}")
    row("long letter: s, this / base", f"{v['long_letter']['this_seconds']} / {v['long_letter']['base_seconds']}")
    row("long letter: peak RSS, this / base (MB)", f"{v['long_letter']['this_peak_rss_mb']} / {v['long_letter']['base_peak_rss_mb']}")
print(f"\nwritten to {out}")
PY
