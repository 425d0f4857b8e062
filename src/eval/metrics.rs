//! Scores: entity precision/recall/F1 (strict: same span and label; lenient: overlapping span,
//! same label) and decision metrics (accuracy, per-class P/R/F1, macro-F1, ROC-AUC, confusion,
//! Brier score).

use std::collections::BTreeMap;

use serde::Serialize;

use crate::annotation::{EntitySpan, Label};
use crate::Decision;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub tp: usize,
    pub fp: usize,
    pub fn_: usize,
}

impl Counts {
    pub fn add(&mut self, o: Counts) {
        self.tp += o.tp;
        self.fp += o.fp;
        self.fn_ += o.fn_;
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Prf {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Gold items of the class.
    pub support: usize,
    /// Predicted items of the class.
    pub predicted: usize,
}

impl Prf {
    /// With no gold and no prediction the scores are undefined (reported as 0).
    pub fn is_defined(&self) -> bool {
        self.support > 0 || self.predicted > 0
    }
}

/// P/R/F1 from counts; a ratio with a zero denominator is 0 (sklearn's `zero_division=0`).
pub fn prf(c: Counts) -> Prf {
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let precision = ratio(c.tp, c.tp + c.fp);
    let recall = ratio(c.tp, c.tp + c.fn_);
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    Prf {
        precision,
        recall,
        f1,
        support: c.tp + c.fn_,
        predicted: c.tp + c.fp,
    }
}

/// Per-label counts of one letter, strict and lenient.
///
/// Lenient: a predicted span is correct if it overlaps a gold span of its label, and a gold
/// span is found if a predicted span of its label overlaps it.
pub fn entity_counts(gold: &[EntitySpan], pred: &[EntitySpan]) -> ([Counts; 5], [Counts; 5]) {
    let mut strict = [Counts::default(); 5];
    let mut lenient = [Counts::default(); 5];
    for p in pred {
        let l = p.label.index();
        if gold.contains(p) {
            strict[l].tp += 1;
        } else {
            strict[l].fp += 1;
        }
        if gold
            .iter()
            .any(|g| g.label == p.label && g.span().overlaps(&p.span()))
        {
            lenient[l].tp += 1;
        } else {
            lenient[l].fp += 1;
        }
    }
    for g in gold {
        let l = g.label.index();
        if !pred.contains(g) {
            strict[l].fn_ += 1;
        }
        if !pred
            .iter()
            .any(|p| p.label == g.label && g.span().overlaps(&p.span()))
        {
            lenient[l].fn_ += 1;
        }
    }
    (strict, lenient)
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityScores {
    pub micro: Prf,
    pub per_label: BTreeMap<String, Prf>,
}

pub fn entity_scores(counts: &[Counts; 5]) -> EntityScores {
    let mut total = Counts::default();
    let mut per_label = BTreeMap::new();
    for l in Label::ALL {
        total.add(counts[l.index()]);
        per_label.insert(l.to_string(), prf(counts[l.index()]));
    }
    EntityScores {
        micro: prf(total),
        per_label,
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionScores {
    pub n: usize,
    pub accuracy: f64,
    pub macro_f1: f64,
    /// `None` when only one class is present.
    pub roc_auc: Option<f64>,
    pub brier: f64,
    pub per_class: BTreeMap<String, Prf>,
    /// `confusion[stated][predicted]`.
    pub confusion: BTreeMap<String, BTreeMap<String, usize>>,
}

/// Scores decisions from (stated, P(Overturned)) pairs, predicting as `decode::decision`.
pub fn decision_scores(pairs: &[(Decision, f64)]) -> DecisionScores {
    let predicted: Vec<Decision> = pairs
        .iter()
        .map(|&(_, p)| crate::decode::decision(p))
        .collect();
    let stated: Vec<Decision> = pairs.iter().map(|p| p.0).collect();
    let mut s = classification_scores(&stated, &predicted);
    let scores: Vec<f64> = pairs.iter().map(|p| p.1).collect();
    let positive: Vec<bool> = stated.iter().map(|&d| d == Decision::Overturned).collect();
    s.roc_auc = roc_auc(&scores, &positive);
    s.brier = if pairs.is_empty() {
        0.0
    } else {
        pairs
            .iter()
            .map(|&(d, p)| (p - f64::from(u8::from(d == Decision::Overturned))).powi(2))
            .sum::<f64>()
            / pairs.len() as f64
    };
    s
}

/// Accuracy, per-class P/R/F1, macro-F1 and confusion of hard predictions.
pub fn classification_scores(stated: &[Decision], predicted: &[Decision]) -> DecisionScores {
    let mut confusion: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for a in Decision::ALL {
        let row = confusion.entry(a.to_string()).or_default();
        for b in Decision::ALL {
            row.insert(b.to_string(), 0);
        }
    }
    let mut correct = 0;
    for (&s, &p) in stated.iter().zip(predicted) {
        *confusion
            .get_mut(s.as_str())
            .unwrap()
            .get_mut(p.as_str())
            .unwrap() += 1;
        correct += usize::from(s == p);
    }
    let mut per_class = BTreeMap::new();
    for c in Decision::ALL {
        let mut k = Counts::default();
        for (&s, &p) in stated.iter().zip(predicted) {
            match (s == c, p == c) {
                (true, true) => k.tp += 1,
                (false, true) => k.fp += 1,
                (true, false) => k.fn_ += 1,
                _ => {}
            }
        }
        per_class.insert(c.to_string(), prf(k));
    }
    let macro_f1 = per_class.values().map(|p| p.f1).sum::<f64>() / per_class.len() as f64;
    DecisionScores {
        n: stated.len(),
        accuracy: if stated.is_empty() {
            0.0
        } else {
            correct as f64 / stated.len() as f64
        },
        macro_f1,
        roc_auc: None,
        brier: 0.0,
        per_class,
        confusion,
    }
}

/// Area under the ROC curve as the Mann-Whitney statistic: the chance that a random positive
/// scores above a random negative, ties counting one half (average ranks). `None` without
/// both classes.
pub fn roc_auc(scores: &[f64], positive: &[bool]) -> Option<f64> {
    let n_pos = positive.iter().filter(|&&p| p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        // Ranks i+1 ..= j+1 share their average.
        let avg = (i + j + 2) as f64 / 2.0;
        for &k in &order[i..=j] {
            if positive[k] {
                rank_sum_pos += avg;
            }
        }
        i = j + 1;
    }
    let u = rank_sum_pos - (n_pos * (n_pos + 1)) as f64 / 2.0;
    Some(u / (n_pos * n_neg) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(s: usize, e: usize, label: Label) -> EntitySpan {
        EntitySpan {
            start: s,
            end: e,
            label,
        }
    }

    #[test]
    fn strict_and_lenient_by_hand() {
        let gold = [
            span(0, 5, Label::Drug),
            span(10, 20, Label::Diagnosis),
            span(30, 33, Label::Quantity),
        ];
        // exact drug, diagnosis off by a word, a quantity with the wrong label, one spurious dose.
        let pred = [
            span(0, 5, Label::Drug),
            span(10, 15, Label::Diagnosis),
            span(30, 33, Label::Dose),
            span(40, 42, Label::Dose),
        ];
        let (strict, lenient) = entity_counts(&gold, &pred);
        assert_eq!(
            strict[Label::Drug.index()],
            Counts {
                tp: 1,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            strict[Label::Diagnosis.index()],
            Counts {
                tp: 0,
                fp: 1,
                fn_: 1
            }
        );
        assert_eq!(
            lenient[Label::Diagnosis.index()],
            Counts {
                tp: 1,
                fp: 0,
                fn_: 0
            }
        );
        assert_eq!(
            strict[Label::Dose.index()],
            Counts {
                tp: 0,
                fp: 2,
                fn_: 0
            }
        );
        assert_eq!(
            strict[Label::Quantity.index()],
            Counts {
                tp: 0,
                fp: 0,
                fn_: 1
            }
        );
        let s = entity_scores(&strict);
        // micro: tp 1, fp 3, fn 2 -> P 0.25, R 1/3, F1 2/7.
        assert!((s.micro.precision - 0.25).abs() < 1e-12);
        assert!((s.micro.recall - 1.0 / 3.0).abs() < 1e-12);
        assert!((s.micro.f1 - 2.0 / 7.0).abs() < 1e-12);
        // A label with no gold and no predictions scores 0 with support 0, and is undefined.
        assert_eq!(s.per_label["GUIDELINE_PAGE"].support, 0);
        assert_eq!(s.per_label["GUIDELINE_PAGE"].f1, 0.0);
        assert!(!s.per_label["GUIDELINE_PAGE"].is_defined());
        // DOSE has no gold but two predictions: defined, and plainly wrong.
        assert!(s.per_label["DOSE"].is_defined());
        assert_eq!(s.per_label["DOSE"].predicted, 2);
    }

    #[test]
    fn roc_auc_with_ties_matches_hand_count() {
        // Positives 0.8, 0.4; negatives 0.4, 0.2, 0.1. Pairs: (0.8 beats all 3) + (0.4 ties one,
        // beats two = 2.5) -> 5.5 / 6.
        let auc = roc_auc(
            &[0.8, 0.4, 0.4, 0.2, 0.1],
            &[true, true, false, false, false],
        )
        .unwrap();
        assert!((auc - 5.5 / 6.0).abs() < 1e-12);
        // All scores tied: 0.5.
        assert_eq!(roc_auc(&[0.3; 4], &[true, false, true, false]), Some(0.5));
        // One class only: undefined.
        assert_eq!(roc_auc(&[0.1, 0.9], &[false, false]), None);
    }

    #[test]
    fn decisions_and_a_class_with_no_support() {
        use Decision::*;
        // Majority baseline on 9 Upheld + 1 Overturned: accuracy 0.9, Overturned F1 0,
        // Upheld P 0.9 R 1 F1 18/19, macro (18/19)/2.
        let pairs: Vec<(Decision, f64)> = (0..9)
            .map(|_| (Upheld, 0.0))
            .chain([(Overturned, 0.0)])
            .collect();
        let s = decision_scores(&pairs);
        assert!((s.accuracy - 0.9).abs() < 1e-12);
        assert_eq!(s.per_class["Overturned"].f1, 0.0);
        assert!((s.macro_f1 - (18.0 / 19.0) / 2.0).abs() < 1e-12);
        assert_eq!(s.confusion["Overturned"]["Upheld"], 1);
        assert_eq!(s.roc_auc, Some(0.5));
        assert!((s.brier - 0.1).abs() < 1e-12);
        // No Overturned at all: its support is 0 and AUC is undefined.
        let s = decision_scores(&[(Upheld, 0.2), (Upheld, 0.7)]);
        assert_eq!(s.per_class["Overturned"].support, 0);
        assert_eq!(s.roc_auc, None);
        assert_eq!(s.confusion["Upheld"]["Overturned"], 1);
    }
}
