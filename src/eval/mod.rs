//! Evaluation: a model run on labelled letters, scored against their gold entities and stated
//! decisions, beside the majority-class baseline.

pub mod baselines;
pub mod metrics;
pub mod normalization;

use serde::Serialize;

use crate::annotation::corpus::LabelledLetter;
use crate::error::Result;
use crate::predict::{Inference, LetterPrediction};
use crate::Decision;
use metrics::{
    decision_scores, entity_counts, entity_scores, Counts, DecisionScores, EntityScores,
};

#[derive(Debug, Clone, Serialize)]
pub struct ItemCounts {
    /// `Decision rationale:` labels in the letters (counted on the raw text).
    pub expected: usize,
    /// Items the reader found.
    pub found: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EntityReport {
    pub strict: EntityScores,
    pub lenient: EntityScores,
}

impl EntityReport {
    /// The rows of an entity table: each label's strict and lenient scores, then `micro`.
    pub fn rows(&self) -> impl Iterator<Item = (&str, &metrics::Prf, &metrics::Prf)> {
        self.strict
            .per_label
            .iter()
            .map(|(l, st)| (l.as_str(), st, &self.lenient.per_label[l]))
            .chain(std::iter::once((
                "micro",
                &self.strict.micro,
                &self.lenient.micro,
            )))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DecisionReport {
    #[serde(flatten)]
    pub model: DecisionScores,
    /// Always answering the majority class (Upheld).
    pub majority_baseline: DecisionScores,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvalReport {
    pub letters: usize,
    pub items: ItemCounts,
    pub entities: EntityReport,
    pub decisions: DecisionReport,
    /// Decisions with the rationales' verdict sentences blanked out (`--mask-conclusion`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub masked_conclusion: Option<DecisionScores>,
}

/// One letter's gold and prediction, kept for error listings.
pub struct Scored<'a> {
    pub letter: &'a LabelledLetter,
    pub prediction: LetterPrediction,
}

/// Runs the model on `letters` and scores it.
pub fn evaluate<'a>(
    inference: &Inference,
    letters: &'a [LabelledLetter],
) -> Result<(EvalReport, Vec<Scored<'a>>)> {
    let mut scored = Vec::with_capacity(letters.len());
    for chunk in letters.chunks(32) {
        let refs: Vec<&crate::Letter> = chunk.iter().map(|l| &l.letter).collect();
        for (l, p) in chunk.iter().zip(inference.predict_on_cores(&refs)) {
            scored.push(Scored {
                letter: l,
                prediction: p.map_err(|e| crate::Error::Model {
                    path: l.letter.path.clone(),
                    message: e.to_string(),
                })?,
            });
        }
    }
    Ok((report(&scored), scored))
}

pub fn report(scored: &[Scored]) -> EvalReport {
    let mut strict = [Counts::default(); 5];
    let mut lenient = [Counts::default(); 5];
    let mut pairs = Vec::new();
    let (mut expected, mut found) = (0, 0);
    for s in scored {
        let pred: Vec<_> = s.prediction.entities.iter().map(|e| e.0).collect();
        let (a, b) = entity_counts(&s.letter.entities, &pred);
        for i in 0..5 {
            strict[i].add(a[i]);
            lenient[i].add(b[i]);
        }
        let letter = &s.letter.letter;
        expected += letter.text.matches("Decision rationale:").count();
        found += letter.items.len();
        for (item, &p) in letter.items.iter().zip(&s.prediction.p_overturned) {
            if let Some(d) = item.stated_decision {
                pairs.push((d, f64::from(p)));
            }
        }
    }
    let baseline: Vec<(Decision, f64)> = pairs.iter().map(|&(d, _)| (d, 0.0)).collect();
    EvalReport {
        letters: scored.len(),
        items: ItemCounts { expected, found },
        entities: EntityReport {
            strict: entity_scores(&strict),
            lenient: entity_scores(&lenient),
        },
        decisions: DecisionReport {
            model: decision_scores(&pairs),
            majority_baseline: decision_scores(&baseline),
        },
        masked_conclusion: None,
    }
}
