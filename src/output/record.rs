//! The one-line-per-letter JSON record that `parse` prints and `predict` extends.

use serde::Serialize;

use crate::annotation::Label;
use crate::letter::{self, Decision, Field, Letter, SourceKind, Span};
use crate::predict::LetterPrediction;

/// One letter's line of output. `error` is set (and the rest empty) when the input failed.
#[derive(Debug, Clone, Serialize)]
pub struct LetterRecord {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceKind>,
    pub case_number: Option<String>,
    pub date_assigned: Option<String>,
    pub date_of_injury: Option<String>,
    pub decision_date: Option<String>,
    pub ur_denial_date: Option<String>,
    pub application_received: Option<String>,
    pub priority: Option<String>,
    pub reviewer_specialty: Option<String>,
    pub case_summary_span: Option<Span>,
    pub items: Vec<ItemRecord>,
    /// Entities found by the model (`predict` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entities: Option<Vec<EntityRecord>>,
    pub error: Option<String>,
    /// The other fields of the input line, for `predict --input-format jsonl` (absent without).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// One disputed item of a letter.
#[derive(Debug, Clone, Serialize)]
pub struct ItemRecord {
    /// Position of the item in its letter (0-based); kept when items are filtered.
    #[serde(skip)]
    pub index: usize,
    pub request: String,
    pub request_span: Span,
    pub statement_span: Span,
    pub original_request: Option<String>,
    pub stated_decision: Option<Decision>,
    pub decision_span: Option<Span>,
    pub claims_administrator_guideline: Option<String>,
    pub claims_administrator_guideline_span: Option<Span>,
    pub maximus_guideline: Option<String>,
    pub maximus_guideline_span: Option<Span>,
    pub rationale_span: Span,
    /// The model's view of the item (`predict` only).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub prediction: Option<ItemPrediction>,
}

/// What `predict` adds to an item.
#[derive(Debug, Clone, Serialize)]
pub struct ItemPrediction {
    pub predicted_decision: Decision,
    pub p_overturned: f32,
    /// Whether the prediction matches the letter's own stated decision (`None` without one).
    pub agrees: Option<bool>,
    pub drug: Option<String>,
    pub dose: Option<String>,
    pub quantity: Option<String>,
}

/// An entity the model found.
#[derive(Debug, Clone, Serialize)]
pub struct EntityRecord {
    pub label: crate::annotation::Label,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub score: f32,
}

fn text(f: &Option<Field>) -> Option<String> {
    f.as_ref().map(|f| f.text.clone())
}

impl LetterRecord {
    /// The structure of a parsed letter, without predictions.
    pub fn from_letter(file: &str, letter: &Letter) -> Self {
        let h = &letter.header;
        LetterRecord {
            file: file.to_owned(),
            source: Some(letter.source),
            case_number: text(&h.case_number),
            date_assigned: text(&h.date_assigned),
            date_of_injury: text(&h.date_of_injury),
            decision_date: text(&h.decision_date),
            ur_denial_date: text(&h.ur_denial_date),
            application_received: text(&h.application_received),
            priority: text(&h.priority),
            reviewer_specialty: text(&h.reviewer_specialty),
            case_summary_span: letter.case_summary,
            items: letter
                .items
                .iter()
                .enumerate()
                .map(|(index, it)| ItemRecord {
                    index,
                    request: it.request.text.clone(),
                    request_span: it.request.span,
                    statement_span: it.statement,
                    original_request: text(&it.original_request),
                    stated_decision: it.stated_decision,
                    decision_span: it.decision_span,
                    claims_administrator_guideline: text(&it.claims_administrator_guideline),
                    claims_administrator_guideline_span: it
                        .claims_administrator_guideline
                        .as_ref()
                        .map(|f| f.span),
                    maximus_guideline: text(&it.maximus_guideline),
                    maximus_guideline_span: it.maximus_guideline.as_ref().map(|f| f.span),
                    rationale_span: it.rationale,
                    prediction: None,
                })
                .collect(),
            entities: None,
            error: None,
            meta: None,
        }
    }

    /// The line for an input that failed.
    pub fn failed(file: &str, error: String) -> Self {
        LetterRecord {
            file: file.to_owned(),
            source: None,
            case_number: None,
            date_assigned: None,
            date_of_injury: None,
            decision_date: None,
            ur_denial_date: None,
            application_received: None,
            priority: None,
            reviewer_specialty: None,
            case_summary_span: None,
            items: Vec::new(),
            entities: None,
            error: Some(error),
            meta: None,
        }
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("records always serialize")
    }
}

impl LetterRecord {
    /// The record of a letter with its predictions.
    pub fn predicted(name: &str, letter: &Letter, p: &LetterPrediction) -> LetterRecord {
        let mut r = LetterRecord::from_letter(name, letter);
        let entities: Vec<EntityRecord> = p
            .entities
            .iter()
            .map(|(e, score)| EntityRecord {
                label: e.label,
                start: e.start,
                end: e.end,
                text: letter.slice(e.span()).to_string(),
                score: (score * 1e4).round() / 1e4,
            })
            .collect();
        let decided = p.p_overturned.iter().zip(&p.decisions);
        for ((item, rec), (&prob, &predicted)) in letter.items.iter().zip(&mut r.items).zip(decided)
        {
            let inside = |label: Label| -> Option<String> {
                let found: Vec<String> = entities
                    .iter()
                    .filter(|e| {
                        e.label == label
                            && item
                                .request
                                .span
                                .contains(&crate::Span::new(e.start, e.end))
                    })
                    .map(|e| letter::fold_whitespace(&e.text))
                    .collect();
                (!found.is_empty()).then(|| found.join("; "))
            };
            rec.prediction = Some(ItemPrediction {
                predicted_decision: predicted,
                p_overturned: (prob * 1e4).round() / 1e4,
                agrees: item.stated_decision.map(|d| d == predicted),
                drug: inside(Label::Drug),
                dose: inside(Label::Dose),
                quantity: inside(Label::Quantity),
            });
        }
        r.entities = Some(entities);
        r
    }
}
