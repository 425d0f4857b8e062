//! After the model: tag log-probabilities become entity spans (Viterbi under the decoding's
//! constraints, then the annotation's rules and the memory), and decision logits become
//! calibrated probabilities and decisions.

pub mod memory;
pub mod phrases;
pub mod rules;
pub mod viterbi;

use serde::{Deserialize, Serialize};

use crate::encode::EncodedLetter;
use viterbi::Constraints;

/// Platt scaling of the decision logit: `P(Overturned) = sigmoid(a * logit + b)`, fitted on
/// held-out letters after training (the training loss weights the rare class up, which shifts
/// raw logits; this maps them back to probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub a: f32,
    pub b: f32,
}

impl Calibration {
    pub fn identity() -> Self {
        Calibration { a: 1.0, b: 0.0 }
    }

    pub fn probability(&self, logit: f32) -> f32 {
        sigmoid(self.a * logit + self.b)
    }

    /// Fits `a, b` by Newton's method on the log loss, with Platt's smoothed targets and a ridge
    /// pulling `a` towards 1, so that a small held-out set that happens to be perfectly
    /// separable cannot send the slope to infinity.
    pub fn fit(logits: &[f32], positive: &[bool]) -> Self {
        let n_pos = positive.iter().filter(|&&p| p).count() as f64;
        let n_neg = positive.len() as f64 - n_pos;
        if n_pos == 0.0 || n_neg == 0.0 {
            return Calibration::identity();
        }
        let t_pos = (n_pos + 1.0) / (n_pos + 2.0);
        let t_neg = 1.0 / (n_neg + 2.0);
        // Ridge terms keep the optimum finite and the Hessian invertible when the held-out
        // logits separate the classes perfectly; steps are clamped because a saturated sigmoid
        // has a nearly flat Hessian and an undamped Newton step would overshoot by millions.
        const RIDGE_A: f64 = 1.0;
        const RIDGE_B: f64 = 0.01;
        const MAX_STEP: f64 = 1.0;
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..500 {
            let (mut ga, mut gb) = (RIDGE_A * (a - 1.0), RIDGE_B * b);
            let (mut haa, mut hab, mut hbb) = (RIDGE_A, 0.0, RIDGE_B);
            for (&z, &y) in logits.iter().zip(positive) {
                let z = f64::from(z);
                let t = if y { t_pos } else { t_neg };
                let p = 1.0 / (1.0 + (-(a * z + b)).exp());
                let d = p - t;
                ga += d * z;
                gb += d;
                let w = p * (1.0 - p);
                haa += w * z * z;
                hab += w * z;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-12 {
                break;
            }
            let da = ((hbb * ga - hab * gb) / det).clamp(-MAX_STEP, MAX_STEP);
            let db = ((haa * gb - hab * ga) / det).clamp(-MAX_STEP, MAX_STEP);
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        Calibration {
            a: a as f32,
            b: b as f32,
        }
    }
}

/// The decision at a calibrated P(Overturned): Overturned from 0.5 on. The one place the
/// threshold is written.
pub fn decision(p_overturned: f64) -> crate::Decision {
    if p_overturned >= 0.5 {
        crate::Decision::Overturned
    } else {
        crate::Decision::Upheld
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// How tag probabilities become entity spans. Every variant gives well-formed BIO spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Decoding {
    /// BIO constraints only.
    Bio,
    /// Also keep words whole: no span edge inside a run of letters or of digits.
    WholeWords,
    /// Also never begin or end a span on a function word, severity word or separator.
    Edges,
    /// Both: whole words and clean edges.
    Full,
    /// Full, then the annotation's rules (`--rules-off` lists them): page citations and
    /// quantities from their forms, diagnoses with their location words and no bare pain or
    /// body part alone, lists of conditions cut apart, every mention of a sure drug or
    /// diagnosis tagged, and the phrases the training letters' gold tags (the model's memory)
    /// where the model missed them.
    #[default]
    Rules,
}

impl Decoding {
    pub const ALL: [Decoding; 5] = [
        Decoding::Bio,
        Decoding::WholeWords,
        Decoding::Edges,
        Decoding::Full,
        Decoding::Rules,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Decoding::Bio => "bio",
            Decoding::WholeWords => "whole-words",
            Decoding::Edges => "edges",
            Decoding::Full => "full",
            Decoding::Rules => "rules",
        }
    }

    /// The decoder constraints of this decoding for one encoded letter.
    pub fn constraints(self, enc: &EncodedLetter) -> Constraints<'_> {
        let words = matches!(
            self,
            Decoding::WholeWords | Decoding::Full | Decoding::Rules
        );
        let edges = matches!(self, Decoding::Edges | Decoding::Full | Decoding::Rules);
        Constraints {
            continues: words.then_some(enc.continues_word.as_slice()),
            edge: edges.then_some(enc.edge_word.as_slice()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_fit_recovers_a_known_mapping() {
        // Labels drawn so that P(y|z) = sigmoid(2z - 1) exactly in expectation: for each z, a
        // share of positives equal to that probability.
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in -20..=20 {
            let x = i as f32 / 5.0;
            let p = sigmoid(2.0 * x - 1.0);
            let pos = (p * 1000.0).round() as usize;
            for k in 0..1000 {
                z.push(x);
                y.push(k < pos);
            }
        }
        let c = Calibration::fit(&z, &y);
        assert!(
            (c.a - 2.0).abs() < 0.05 && (c.b + 1.0).abs() < 0.05,
            "{c:?}"
        );
    }

    #[test]
    fn platt_on_separable_logits_stays_finite_and_ordered() {
        // Held-out logits that separate the classes perfectly (as a small dev set often does):
        // the fit must stay finite, keep the order, and give probabilities strictly inside (0, 1).
        let z = [-9.0, -8.5, -7.0, -6.0, -5.5, -5.0, 4.0, 6.0];
        let y = [false, false, false, false, false, false, true, true];
        let c = Calibration::fit(&z, &y);
        assert!(c.a.is_finite() && c.b.is_finite() && c.a > 0.0, "{c:?}");
        let p: Vec<f32> = z.iter().map(|&x| c.probability(x)).collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        assert!(
            p[0] > 0.0 && p[7] < 1.0 && p[5] < 0.5 && p[6] > 0.5,
            "{p:?}"
        );
    }

    #[test]
    fn platt_without_both_classes_is_identity() {
        assert_eq!(
            Calibration::fit(&[1.0, 2.0], &[true, true]),
            Calibration::identity()
        );
    }
}
