#!/usr/bin/env python3
"""Predicts IMR letters on Spark: the letters as an RDD of JSONL lines, each partition piped
through one `imr predict --input-format jsonl -` process, the records written as JSONL
partitions (part-00000, part-00001, ...) under a new folder.

  scripts/spark_predict.py INPUT... --out DIR [--master local[2]] [--partitions N]
                           [--imr PATH] [--threads N]

INPUT: JSONL files of {"file": NAME, "text": TEXT} lines (read by Spark as text, a line per
letter), or `.txt` letters and folders of them (read on the executors into such lines, the
file name as NAME). One record per letter comes back, a failed letter's with its "error".

On this machine Spark runs in local mode (`--master local[N]`: one executor with N task
slots; `local-cluster[E,C,MB]`: E executors of C cores, each a JVM of its own). PyPI's
`pyspark` and a Java runtime (Debian's `default-jre-headless`) are installed if missing.
`--out` must not exist: nothing is overwritten.
"""
import argparse
import importlib
import json
import os
import shutil
import subprocess
import sys
import time


def ensure_dependencies():
    """pyspark from PyPI, and java from Debian, if they are not already there."""
    try:
        importlib.import_module("pyspark")
    except ImportError:
        print("spark_predict: installing pyspark (PyPI)", file=sys.stderr)
        subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "pyspark"], check=True)
    if shutil.which("java") is None:
        print("spark_predict: installing default-jre-headless (Debian)", file=sys.stderr)
        apt = ["apt-get"] if os.geteuid() == 0 else ["sudo", "apt-get"]
        subprocess.run(apt + ["update", "-qq"], check=True)
        subprocess.run(apt + ["install", "-y", "-qq", "default-jre-headless"], check=True)


def letter_line(path):
    """One letter file as the JSONL line `imr predict --input-format jsonl` reads."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = f.read()
    return json.dumps({"file": os.path.basename(path), "text": text}, ensure_ascii=False)


def split_inputs(inputs):
    """(JSONL files, letter files) among the inputs; folders are searched for `.txt`."""
    jsonl, letters = [], []
    for p in inputs:
        if os.path.isdir(p):
            for root, _, files in os.walk(p):
                letters += sorted(os.path.join(root, f) for f in files if f.endswith(".txt"))
        elif p.endswith(".jsonl"):
            jsonl.append(os.path.abspath(p))
        elif os.path.isfile(p):
            letters.append(p)
        else:
            sys.exit(f"spark_predict: {p}: no such file or folder")
    return jsonl, [os.path.abspath(p) for p in letters]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inputs", nargs="+")
    ap.add_argument("--out", required=True, help="a new folder for the JSONL partitions")
    ap.add_argument("--master", default="local[*]")
    ap.add_argument("--partitions", type=int, default=0,
                    help="default: 2 per task slot (each runs one imr process)")
    ap.add_argument("--imr", default=None, help="the imr binary (default: target/release/imr)")
    ap.add_argument("--threads", type=int, default=1,
                    help="threads of each imr process (-j); task slots times this should "
                         "not exceed the cores")
    args = ap.parse_args()
    if os.path.exists(args.out):
        sys.exit(f"spark_predict: {args.out} exists; give a new folder")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    imr = os.path.abspath(args.imr or os.path.join(repo, "target/release/imr"))
    if not os.access(imr, os.X_OK):
        sys.exit(f"spark_predict: {imr}: not an executable imr (cargo build --release)")
    jsonl, letters = split_inputs(args.inputs)
    if not jsonl and not letters:
        sys.exit("spark_predict: no letters in the inputs")

    ensure_dependencies()
    from pyspark import SparkConf, SparkContext

    conf = (SparkConf().setMaster(args.master).setAppName("imr predict")
            .set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.driver.memory", "1g"))
    sc = SparkContext(conf=conf)
    sc.setLogLevel("ERROR")
    try:
        slots = sc.defaultParallelism
        partitions = args.partitions or 2 * slots
        rdds = []
        if jsonl:
            rdds.append(sc.textFile(",".join(jsonl), minPartitions=partitions))
        if letters:
            rdds.append(sc.parallelize(letters, partitions).map(letter_line))
        lines = rdds[0] if len(rdds) == 1 else sc.union(rdds)
        lines = lines.filter(lambda line: line.strip() != "")
        if lines.getNumPartitions() < partitions:
            lines = lines.repartition(partitions)
        # Exit code 1 means some letters failed, each with an error record: not a failure of
        # the task. Exit code 2 (no model, bad usage) leaves the partition without records,
        # which the count below reports.
        command = f"{imr} predict --input-format jsonl -j {args.threads} -"
        started = time.time()
        records = lines.pipe(command)
        records.saveAsTextFile(args.out)
        seconds = time.time() - started
    finally:
        sc.stop()

    n, failed = 0, 0
    for part in sorted(os.listdir(args.out)):
        if part.startswith("part-"):
            with open(os.path.join(args.out, part), encoding="utf-8") as f:
                for line in f:
                    n += 1
                    failed += json.loads(line).get("error") is not None
    summary = {"master": args.master, "task_slots": slots, "partitions": partitions,
               "records": n, "failed": failed, "seconds": round(seconds, 2),
               "letters_per_s": round(n / seconds, 1)}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
