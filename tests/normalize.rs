//! Normalisation on the hand gold of `data/normalization/` (SOURCE.md there says how it was
//! made), against floors a little under what was measured (README, "Normalised entities"),
//! and the gold itself checked against the entity gold and the ICD-10-CM table.

use std::collections::BTreeSet;
use std::path::Path;

use imr::eval::normalization::{evaluate, is_read, read_diagnosis_gold, read_drug_gold};
use imr::normalize::Normalizer;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn gold() -> std::path::PathBuf {
    root().join("data/normalization")
}

#[test]
fn accuracy_holds_its_floors() {
    let r = evaluate(Normalizer::built_in(), &gold()).unwrap();
    // Measured 0.865 / 0.976 on the 141 distinct DRUG strings (2026-12-02).
    assert!(
        r.drugs.accuracy >= 0.85,
        "drug accuracy {}",
        r.drugs.accuracy
    );
    assert!(
        r.drugs.precision >= 0.95,
        "drug precision {}",
        r.drugs.precision
    );
    // Measured 0.574 on the sealed half, 0.630 on all 300 mentions, 0.50 threshold.
    assert!(
        r.diagnoses_sealed.accuracy >= 0.55,
        "sealed diagnosis accuracy {}",
        r.diagnoses_sealed.accuracy
    );
    assert!(
        r.diagnoses_all.accuracy >= 0.60,
        "{}",
        r.diagnoses_all.accuracy
    );
    assert!(r.diagnoses_all.category_accuracy >= r.diagnoses_all.accuracy);
    // The shipped threshold is the one the read half chooses.
    assert!(
        (r.threshold - r.best_read_threshold).abs() < 1e-6,
        "threshold {} but the read half chooses {}",
        r.threshold,
        r.best_read_threshold
    );
}

#[test]
fn the_built_in_tables_are_the_data_folder() {
    let from_data = Normalizer::from_data_dir(&root().join("data")).unwrap();
    let built_in = Normalizer::built_in();
    assert_eq!(from_data.drugs.len(), built_in.drugs.len());
    assert_eq!(from_data.codes.len(), built_in.codes.len());
    for m in ["Ultram", "tramdol", "Norco", "Fioricet"] {
        assert_eq!(from_data.drug(m), built_in.drug(m), "{m}");
    }
}

/// Every distinct `DRUG` string of the entity gold (lower case, spaces folded).
fn gold_drug_strings() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for dir in ["data/dwc-letters", "data/seeds"] {
        for e in std::fs::read_dir(root().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "ann") {
                for line in std::fs::read_to_string(&p).unwrap().lines() {
                    let cols: Vec<&str> = line.split('\t').collect();
                    if cols.len() >= 3 && cols[1].starts_with("DRUG ") {
                        let t = cols[2].split_whitespace().collect::<Vec<_>>().join(" ");
                        out.insert(t.to_lowercase());
                    }
                }
            }
        }
    }
    out
}

#[test]
fn the_drug_gold_covers_every_distinct_drug_string() {
    let gold: BTreeSet<String> = read_drug_gold(&gold().join("drugs.tsv"))
        .unwrap()
        .into_iter()
        .map(|g| g.mention)
        .collect();
    assert_eq!(gold, gold_drug_strings());
}

#[test]
fn the_diagnosis_gold_is_300_real_mentions_with_real_codes() {
    let rows = read_diagnosis_gold(&gold().join("diagnoses.tsv")).unwrap();
    assert_eq!(rows.len(), 300);
    let read = rows.iter().filter(|r| is_read(&r.letter)).count();
    assert!(read >= 100 && rows.len() - read >= 100, "read half {read}");
    let n = Normalizer::built_in();
    let text = std::fs::read_to_string(gold().join("diagnoses.tsv")).unwrap();
    for line in text.lines().skip(1) {
        let c: Vec<&str> = line.split('\t').collect();
        // The mention is the letter's text at its offsets (characters), spaces folded.
        let letter =
            std::fs::read_to_string(root().join("data").join(format!("{}.txt", c[0]))).unwrap();
        let (s, e): (usize, usize) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        let at: String = letter.chars().skip(s).take(e - s).collect();
        assert_eq!(at.split_whitespace().collect::<Vec<_>>().join(" "), c[3]);
        for code in c[4].split('|').filter(|x| *x != "-") {
            assert!(
                n.codes.title(code).is_some(),
                "{code} is not a code ({line})"
            );
        }
    }
}
