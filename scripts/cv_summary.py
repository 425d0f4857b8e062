#!/usr/bin/env python3
"""Summarises an `imr eval --cv --format json` report (reports/cv.json) as plain text."""
import json
import sys

r = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "reports/cv.json"))
print(f"{r['k']}-fold cross-validation, {r['letters']} letters, seed {r['seed']}\n")
for k, v in r["mean"].items():
    print(f"{k:<44} {v:.3f} +/- {r['std'][k]:.3f}")
sealed = r.get("sealed_folds")
if sealed:
    print(f"\nerrors are read on folds {r['read_folds']} only; folds {sealed} are sealed")
print("\nentity decoding (same models): strict / lenient micro-F1, mean +/- std over folds"
      + ("; strict on the folds read / sealed" if sealed else ""))
for name, d in r["decodings"].items():
    s, l = d["strict_micro_f1"], d["lenient_micro_f1"]
    line = f"  {name:<12} {s['mean']:.3f} +/- {s['std']:.3f}   {l['mean']:.3f} +/- {l['std']:.3f}"
    if sealed:
        line += f"   {d['strict_read']['mean']:.3f} / {d['strict_sealed']['mean']:.3f}"
    print(line)
if r.get("rules_off"):
    print("\neach rule switched off alone (same models): strict micro-F1, and the rule's gain,")
    print("mean +/- std over folds (a gain under its std is noise)"
          + ("; the gain on the folds read / sealed" if sealed else ""))
    for name, p in sorted(r["rules_off"].items(), key=lambda kv: -kv[1]["gain"]["mean"]):
        f, g = p["strict_micro_f1"], p["gain"]
        line = f"  {name:<15} {f['mean']:.3f} +/- {f['std']:.3f}   {g['mean']:+.4f} +/- {g['std']:.4f}"
        if sealed:
            line += f"   {p['gain_read']['mean']:+.4f} / {p['gain_sealed']['mean']:+.4f}"
        print(line)
keys = ["entities.strict.micro.f1", "entities.lenient.micro.f1", "entities.strict.DRUG.f1",
        "entities.strict.DOSE.f1", "entities.strict.QUANTITY.f1",
        "entities.strict.GUIDELINE_PAGE.f1", "entities.strict.DIAGNOSIS.f1",
        "entities.lenient.DIAGNOSIS.f1", "decisions.accuracy", "decisions.macro_f1",
        "decisions.Overturned.recall", "decisions.roc_auc"]
cols = [("model", r)] + list(r.get("comparisons", {}).items())
print("\non the same folds, mean +/- std:")
print(f"  {'':<36}" + "".join(f"{name:>30}" for name, _ in cols))
for k in keys:
    cells = []
    for name, c in cols:
        if "masked" in name and k.startswith("entities"):
            cells.append("")
        elif k in c["mean"]:
            cells.append(f"{c['mean'][k]:.3f} +/- {c['std'][k]:.3f}")
        else:
            cells.append("")
    print(f"  {k:<36}" + "".join(f"{x:>30}" for x in cells))
