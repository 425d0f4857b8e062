#!/usr/bin/env bash
# Checks scripts/spark_predict.py for real on this machine, and measures it:
#   scripts/spark_check.sh [--copies 20] [--out reports/spark.json]
# - the 130 letters of data/dwc-letters copied 20 times under new names (2,600 letters), as
#   JSONL lines;
# - a plain `imr predict --input-format jsonl` of those lines (every core), the reference;
# - spark_predict.py in local-cluster mode with 1 executor and with 2 (one core each, one imr
#   process per task with -j 1): every letter must come back exactly once, with the very
#   record the plain run gave it;
# - throughput of each run (wall time of the job, JVM start-up excluded; of the plain run, the
#   whole process), written as JSON.
# Heavy (about 6 minutes), so not part of .ci/run. Installs pyspark and Java if missing.
set -euo pipefail
cd "$(dirname "$0")/.."
copies=20
out=reports/spark.json
while [ $# -gt 0 ]; do
  case "$1" in
    --copies) copies="$2"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: $0 [--copies N] [--out FILE]" >&2; exit 2 ;;
  esac
  shift
done
cargo build --release --quiet --bin imr
bin=target/release/imr
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

python3 - "$tmp/letters.jsonl" "$copies" data/dwc-letters/*.txt <<'PY'
import json, os, sys
out, copies, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
texts = [(os.path.basename(f), open(f, encoding="utf-8").read()) for f in files]
with open(out, "w", encoding="utf-8") as f:
    for k in range(copies):
        for name, text in texts:
            f.write(json.dumps({"file": f"copy{k:02d}-{name}", "text": text}, ensure_ascii=False) + "\n")
PY

start=$(date +%s.%N)
"$bin" predict --input-format jsonl "$tmp/letters.jsonl" > "$tmp/plain.jsonl" 2> /dev/null
plain_s=$(echo "$(date +%s.%N) - $start" | bc)

runs=()
for executors in 1 2; do
  python3 scripts/spark_predict.py "$tmp/letters.jsonl" --out "$tmp/spark$executors" \
    --master "local-cluster[$executors,1,1024]" --partitions $((4 * executors)) --threads 1 \
    2> "$tmp/spark$executors.log" | tail -1 > "$tmp/spark$executors.json"
  runs+=("$executors")
done

python3 - "$tmp" "$out" "$plain_s" "$copies" "${runs[@]}" <<'PY'
import collections, glob, json, os, sys
tmp, out, plain_s, copies, runs = sys.argv[1], sys.argv[2], float(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
lines = [json.loads(l) for l in open(f"{tmp}/letters.jsonl", encoding="utf-8")]
words = sum(len(l["text"].split()) for l in lines)
names = [l["file"] for l in lines]
plain = {}
for line in open(f"{tmp}/plain.jsonl", encoding="utf-8"):
    r = json.loads(line)
    plain[r["file"]] = r
assert sorted(plain) == sorted(names), "the plain run lost letters"
report = {"letters": len(lines), "copies": copies, "words": words,
          "plain_predict": {"threads": os.cpu_count(), "seconds": round(plain_s, 2),
                            "words_per_s": round(words / plain_s)},
          "spark": []}
ok = True
for e in runs:
    summary = json.load(open(f"{tmp}/spark{e}.json"))
    got = collections.Counter()
    same = 0
    for part in sorted(glob.glob(f"{tmp}/spark{e}/part-*")):
        for line in open(part, encoding="utf-8"):
            r = json.loads(line)
            got[r["file"]] += 1
            same += r == plain.get(r["file"])
    once = all(got[n] == 1 for n in names) and sum(got.values()) == len(names)
    ok &= once and same == len(names)
    report["spark"].append({
        "executors": int(e), "cores_per_executor": 1, "partitions": summary["partitions"],
        "seconds": summary["seconds"], "words_per_s": round(words / summary["seconds"]),
        "letters_per_s": summary["letters_per_s"],
        "every_letter_once": once, "records_equal_to_plain": same,
    })
os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
json.dump(report, open(out, "w"), indent=2)
print(f"{len(lines):,} letters ({copies} copies of data/dwc-letters), {words:,} words")
print(f"plain imr predict, {os.cpu_count()} threads: {report['plain_predict']['words_per_s']:,} words/s")
for s in report["spark"]:
    print(f"spark, {s['executors']} executor(s) x 1 core: {s['words_per_s']:,} words/s, "
          f"every letter once: {s['every_letter_once']}, records equal to plain: "
          f"{s['records_equal_to_plain']:,}/{len(lines):,}")
print(f"written to {out}")
sys.exit(0 if ok else 1)
PY
