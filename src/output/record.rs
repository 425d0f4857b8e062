//! The one-line-per-letter JSON record that `parse` prints and `predict` extends.

use serde::Serialize;

use crate::annotation::Label;
use crate::letter::verdict::last_verdict;
use crate::letter::{self, Decision, Field, Letter, SourceKind, Span};
use crate::normalize::guideline::{citations, page_citation};
use crate::normalize::{Citation, CodeLink, DrugName, Normalizer, PageCitation};
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
    /// The letter's text, for the annotation formats (not in the JSON record).
    #[serde(skip)]
    pub text: Option<String>,
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
    /// The guidelines the claims administrator's field names (`normalize::guideline`).
    pub claims_administrator_guidelines: Vec<Citation>,
    /// The guidelines the reviewer's (MAXIMUS) field names: the ones the decision rests on.
    pub guidelines: Vec<Citation>,
    pub rationale_span: Span,
    /// The rationale's last verdict sentence ("... is not medically necessary"), whitespace
    /// folded, and its span.
    pub verdict: Option<String>,
    pub verdict_span: Option<Span>,
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
    /// The generic names of the request's drugs, `; ` between them (`None` when none is known).
    pub generic: Option<String>,
    /// The request's drugs, each with the dose and quantity written after it (before the next
    /// drug); a dose or quantity before any drug makes a medication without one.
    pub medications: Vec<Medication>,
}

/// One drug of a request with its dose and quantity.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Medication {
    pub drug: Option<String>,
    pub generic: Option<String>,
    pub dose: Option<String>,
    pub quantity: Option<String>,
}

/// What an entity names, by label: a drug's generic name, a diagnosis's ICD-10-CM code, a
/// guideline page's pages and guideline.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Normalized {
    Drug(DrugName),
    Diagnosis(CodeLink),
    Page(PageCitation),
}

impl Normalized {
    /// The normal form of an entity of `label` with `text`, `before` being the letter text up
    /// to it (the guideline a page belongs to is named there).
    pub fn of(n: &Normalizer, label: Label, text: &str, before: &str) -> Option<Normalized> {
        match label {
            Label::Drug => n.drug(text).map(Normalized::Drug),
            Label::Diagnosis => n.diagnosis(text).map(Normalized::Diagnosis),
            Label::GuidelinePage => Some(Normalized::Page(page_citation(text, before))),
            Label::Dose | Label::Quantity => None,
        }
    }
}

/// An entity the model found.
#[derive(Debug, Clone, Serialize)]
pub struct EntityRecord {
    pub label: crate::annotation::Label,
    pub start: usize,
    pub end: usize,
    pub text: String,
    pub score: f32,
    /// What it names (`null` for doses and quantities, and for names no table knows).
    pub normalized: Option<Normalized>,
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
                .map(|(index, it)| {
                    let verdict_span = last_verdict(letter, it.rationale);
                    ItemRecord {
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
                        claims_administrator_guidelines: it
                            .claims_administrator_guideline
                            .as_ref()
                            .map_or_else(Vec::new, |f| citations(&f.text)),
                        guidelines: it
                            .maximus_guideline
                            .as_ref()
                            .map_or_else(Vec::new, |f| citations(&f.text)),
                        rationale_span: it.rationale,
                        verdict: verdict_span.map(|s| letter::fold_whitespace(letter.slice(s))),
                        verdict_span,
                        prediction: None,
                    }
                })
                .collect(),
            entities: None,
            error: None,
            meta: None,
            text: None,
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
            text: None,
        }
    }

    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("records always serialize")
    }
}

impl LetterRecord {
    /// The record of a letter with its predictions, its entities normalised with `n`.
    pub fn predicted(
        name: &str,
        letter: &Letter,
        p: &LetterPrediction,
        n: &Normalizer,
    ) -> LetterRecord {
        let mut r = LetterRecord::from_letter(name, letter);
        let entities: Vec<EntityRecord> = p
            .entities
            .iter()
            .map(|(e, score)| {
                let text = letter.slice(e.span()).to_string();
                let before = letter.slice(Span::new(e.start.saturating_sub(400), e.start));
                EntityRecord {
                    label: e.label,
                    start: e.start,
                    end: e.end,
                    normalized: Normalized::of(n, e.label, &text, before),
                    text,
                    score: (score * 1e4).round() / 1e4,
                }
            })
            .collect();
        let decided = p.p_overturned.iter().zip(&p.decisions);
        for ((item, rec), (&prob, &predicted)) in letter.items.iter().zip(&mut r.items).zip(decided)
        {
            let inside: Vec<&EntityRecord> = entities
                .iter()
                .filter(|e| item.request.span.contains(&Span::new(e.start, e.end)))
                .collect();
            let joined = |label: Label| -> Option<String> {
                let found: Vec<String> = inside
                    .iter()
                    .filter(|e| e.label == label)
                    .map(|e| letter::fold_whitespace(&e.text))
                    .collect();
                (!found.is_empty()).then(|| found.join("; "))
            };
            let medications = medications(&inside);
            let generics: Vec<String> = medications
                .iter()
                .filter_map(|m| m.generic.clone())
                .collect();
            rec.prediction = Some(ItemPrediction {
                predicted_decision: predicted,
                p_overturned: (prob * 1e4).round() / 1e4,
                agrees: item.stated_decision.map(|d| d == predicted),
                drug: joined(Label::Drug),
                dose: joined(Label::Dose),
                quantity: joined(Label::Quantity),
                generic: (!generics.is_empty()).then(|| generics.join("; ")),
                medications,
            });
        }
        r.entities = Some(entities);
        r.text = Some(letter.text.clone());
        r
    }
}

/// The medications of a request from its entities in text order: a drug opens one; a dose
/// or a quantity goes to the open one (a second one joins the first with `, `: a compound's
/// `120grams #1`), or opens one without a drug when none is open.
fn medications(entities: &[&EntityRecord]) -> Vec<Medication> {
    let mut out: Vec<Medication> = Vec::new();
    for e in entities {
        let text = letter::fold_whitespace(&e.text);
        if e.label == Label::Drug {
            out.push(Medication {
                drug: Some(text),
                generic: match &e.normalized {
                    Some(Normalized::Drug(d)) => Some(d.generic.clone()),
                    _ => None,
                },
                ..Medication::default()
            });
            continue;
        }
        if !matches!(e.label, Label::Dose | Label::Quantity) {
            continue;
        }
        if out.is_empty() {
            out.push(Medication::default());
        }
        let m = out.last_mut().expect("one is open");
        let slot = if e.label == Label::Dose {
            &mut m.dose
        } else {
            &mut m.quantity
        };
        match slot {
            Some(s) => {
                s.push_str(", ");
                s.push_str(&text);
            }
            None => *slot = Some(text),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entity(label: Label, text: &str) -> EntityRecord {
        EntityRecord {
            label,
            start: 0,
            end: 0,
            text: text.into(),
            score: 1.0,
            normalized: None,
        }
    }

    #[test]
    fn medications_pair_each_drug_with_its_dose_and_quantity() {
        let es = [
            entity(Label::Drug, "Norco"),
            entity(Label::Dose, "10/325mg"),
            entity(Label::Quantity, "#90"),
            entity(Label::Drug, "Flexeril"),
            entity(Label::Quantity, "#60"),
        ];
        let m = medications(&es.iter().collect::<Vec<_>>());
        let row = |m: &Medication| (m.drug.clone(), m.dose.clone(), m.quantity.clone());
        let s = |x: &str| Some(x.to_string());
        assert_eq!(
            m.iter().map(row).collect::<Vec<_>>(),
            vec![
                (s("Norco"), s("10/325mg"), s("#90")),
                (s("Flexeril"), None, s("#60")),
            ]
        );
        // A compound's two quantities stay together; a quantity before any drug has none.
        let es = [
            entity(Label::Quantity, "#2"),
            entity(Label::Drug, "Lidocaine"),
            entity(Label::Quantity, "120grams"),
            entity(Label::Quantity, "#1"),
        ];
        let m = medications(&es.iter().collect::<Vec<_>>());
        assert_eq!(m.len(), 2);
        assert_eq!((m[0].drug.clone(), m[0].quantity.clone()), (None, s("#2")));
        assert_eq!(m[1].quantity, s("120grams, #1"));
    }
}
