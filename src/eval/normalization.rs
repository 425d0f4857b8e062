//! Normalisation scored against the hand gold of `data/normalization/` (its SOURCE.md says how
//! it was made): every distinct `DRUG` string of the entity gold with its generic name, and
//! 300 `DIAGNOSIS` mentions drawn at random with the ICD-10-CM codes that fit them.
//!
//! The diagnosis threshold is chosen on the mentions of half the letters ("read") and the
//! accuracy is reported on both halves, so that the figure on the other half ("sealed") did
//! not choose it.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::normalize::{drug, Normalizer};

/// One row of `drugs.tsv`: a mention (lower case) and its generic names (alternatives).
#[derive(Debug, Clone)]
pub struct DrugGold {
    pub mention: String,
    pub generics: Vec<String>,
}

/// One row of `diagnoses.tsv`; `codes` is empty when no code fits the mention's words.
#[derive(Debug, Clone)]
pub struct DiagnosisGold {
    pub letter: String,
    pub mention: String,
    pub codes: Vec<String>,
}

fn read_tsv(path: &Path, columns: usize) -> Result<Vec<Vec<String>>> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate().skip(1) {
        if line.trim().is_empty() {
            continue;
        }
        let cols: Vec<String> = line.split('\t').map(str::to_string).collect();
        if cols.len() != columns {
            return Err(Error::Format {
                path: path.into(),
                message: format!(
                    "line {}: {} columns where {columns} were expected",
                    i + 1,
                    cols.len()
                ),
            });
        }
        rows.push(cols);
    }
    Ok(rows)
}

fn alternatives(s: &str) -> Vec<String> {
    s.split('|')
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && a != "-")
        .collect()
}

pub fn read_drug_gold(path: &Path) -> Result<Vec<DrugGold>> {
    Ok(read_tsv(path, 2)?
        .into_iter()
        .map(|c| DrugGold {
            mention: c[0].clone(),
            generics: alternatives(&c[1]),
        })
        .collect())
}

pub fn read_diagnosis_gold(path: &Path) -> Result<Vec<DiagnosisGold>> {
    Ok(read_tsv(path, 5)?
        .into_iter()
        .map(|c| DiagnosisGold {
            letter: c[0].clone(),
            mention: c[3].clone(),
            codes: alternatives(&c[4]),
        })
        .collect())
}

/// Two generic names are the same drug when they name the same ingredients, in any order.
fn same_drug(a: &str, b: &str) -> bool {
    let set = |s: &str| -> BTreeSet<String> {
        s.split('/')
            .map(drug::key)
            .filter(|p| !p.is_empty())
            .collect()
    };
    set(a) == set(b)
}

#[derive(Debug, Clone, Serialize)]
pub struct DrugScores {
    pub mentions: usize,
    /// Mentions given a generic name.
    pub normalized: usize,
    /// Mentions given the right one.
    pub correct: usize,
    /// `correct / mentions`.
    pub accuracy: f64,
    /// `correct / normalized`.
    pub precision: f64,
    /// The mentions given a wrong name or none, with what they were given.
    pub errors: Vec<(String, Option<String>)>,
}

pub fn score_drugs(n: &Normalizer, gold: &[DrugGold]) -> DrugScores {
    let mut normalized = 0;
    let mut correct = 0;
    let mut errors = Vec::new();
    for g in gold {
        let got = n.drug(&g.mention).map(|d| d.generic);
        if got.is_some() {
            normalized += 1;
        }
        match &got {
            Some(x) if g.generics.iter().any(|want| same_drug(x, want)) => correct += 1,
            _ => errors.push((g.mention.clone(), got)),
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    DrugScores {
        mentions: gold.len(),
        normalized,
        correct,
        accuracy: ratio(correct, gold.len()),
        precision: ratio(correct, normalized),
        errors,
    }
}

/// Which half of the diagnosis gold a letter's mentions are in: the read half chooses the
/// threshold. A fixed split by the letter's name (FNV-1a, even = read).
pub fn is_read(letter: &str) -> bool {
    let mut h: u64 = 0xcbf29ce484222325;
    for b in letter.bytes() {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h.is_multiple_of(2)
}

#[derive(Debug, Clone, Serialize)]
pub struct CodeScores {
    pub mentions: usize,
    /// The linked code is one the gold allows, or both say none.
    pub accuracy: f64,
    /// The same at the level of the category (the code's first three characters).
    pub category_accuracy: f64,
    /// Of the mentions given a code, the share given a right one.
    pub precision: f64,
    /// Of the mentions the gold codes, the share given a right one.
    pub recall: f64,
}

/// What the linker gave a mention: the code and its similarity, or none.
pub type Link = Option<(String, f32)>;

/// What the linker gave each mention.
pub fn link_all(n: &Normalizer, gold: &[DiagnosisGold]) -> Vec<Link> {
    gold.iter()
        .map(|g| {
            n.codes
                .normalize(&g.mention, 0.0)
                .map(|l| (l.code, l.score))
        })
        .collect()
}

/// Scores links (as [`link_all`] gives them, at threshold 0) at `threshold`.
pub fn score_codes(gold: &[&DiagnosisGold], links: &[&Link], threshold: f32) -> CodeScores {
    let (mut right, mut right_cat, mut given, mut given_right, mut coded, mut coded_right) =
        (0, 0, 0, 0, 0, 0);
    let category = |c: &str| c.chars().take(3).collect::<String>();
    for (g, l) in gold.iter().zip(links) {
        let got = l.as_ref().filter(|(_, s)| *s >= threshold).map(|(c, _)| c);
        let ok = match got {
            Some(c) => g.codes.iter().any(|w| w == c),
            None => g.codes.is_empty(),
        };
        let ok_cat = match got {
            Some(c) => g.codes.iter().any(|w| category(w) == category(c)),
            None => g.codes.is_empty(),
        };
        right += ok as usize;
        right_cat += ok_cat as usize;
        if got.is_some() {
            given += 1;
            given_right += ok as usize;
        }
        if !g.codes.is_empty() {
            coded += 1;
            coded_right += (ok && got.is_some()) as usize;
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    CodeScores {
        mentions: gold.len(),
        accuracy: ratio(right, gold.len()),
        category_accuracy: ratio(right_cat, gold.len()),
        precision: ratio(given_right, given),
        recall: ratio(coded_right, coded),
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct NormalizationReport {
    pub drugs: DrugScores,
    /// The threshold the shipped normaliser uses.
    pub threshold: f32,
    /// The threshold of best accuracy on the read half (ties: the lowest).
    pub best_read_threshold: f32,
    pub diagnoses_read: CodeScores,
    pub diagnoses_sealed: CodeScores,
    pub diagnoses_all: CodeScores,
}

/// Scores `n` on the gold under `gold_dir` (`drugs.tsv`, `diagnoses.tsv`).
pub fn evaluate(n: &Normalizer, gold_dir: &Path) -> Result<NormalizationReport> {
    let drugs = read_drug_gold(&gold_dir.join("drugs.tsv"))?;
    let dx = read_diagnosis_gold(&gold_dir.join("diagnoses.tsv"))?;
    let links = link_all(n, &dx);
    let part = |read: Option<bool>| -> (Vec<&DiagnosisGold>, Vec<&Link>) {
        dx.iter()
            .zip(&links)
            .filter(|(g, _)| read.is_none_or(|r| is_read(&g.letter) == r))
            .unzip()
    };
    let (read_gold, read_links) = part(Some(true));
    let (sealed_gold, sealed_links) = part(Some(false));
    let (all_gold, all_links) = part(None);
    let mut best = (f64::NEG_INFINITY, 0.0f32);
    for step in 0..=40 {
        let t = step as f32 * 0.025;
        let a = score_codes(&read_gold, &read_links, t).accuracy;
        if a > best.0 + 1e-12 {
            best = (a, t);
        }
    }
    Ok(NormalizationReport {
        drugs: score_drugs(n, &drugs),
        threshold: n.threshold,
        best_read_threshold: best.1,
        diagnoses_read: score_codes(&read_gold, &read_links, n.threshold),
        diagnoses_sealed: score_codes(&sealed_gold, &sealed_links, n.threshold),
        diagnoses_all: score_codes(&all_gold, &all_links, n.threshold),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ingredients_in_any_order_are_the_same_drug() {
        assert!(same_drug(
            "hydrocodone / acetaminophen",
            "acetaminophen/hydrocodone"
        ));
        assert!(!same_drug("hydrocodone", "hydrocodone / acetaminophen"));
    }

    #[test]
    fn codes_are_scored_with_alternatives_and_none() {
        let g = |codes: &[&str]| DiagnosisGold {
            letter: "a".into(),
            mention: "m".into(),
            codes: codes.iter().map(|c| c.to_string()).collect(),
        };
        let gold = [
            g(&["M54.50", "G89.29"]),
            g(&[]),
            g(&["M54.16"]),
            g(&["S16.1"]),
        ];
        let links = [
            Some(("G89.29".to_string(), 0.9)),
            Some(("R52".to_string(), 0.4)), // under 0.5: none, as the gold says
            Some(("M54.12".to_string(), 0.8)), // wrong code, right category
            None,
        ];
        let s = score_codes(
            &gold.iter().collect::<Vec<_>>(),
            &links.iter().collect::<Vec<_>>(),
            0.5,
        );
        assert_eq!(s.mentions, 4);
        assert!((s.accuracy - 0.5).abs() < 1e-9);
        assert!((s.category_accuracy - 0.75).abs() < 1e-9);
        assert!((s.precision - 0.5).abs() < 1e-9);
        assert!((s.recall - 1.0 / 3.0).abs() < 1e-9);
    }
}
