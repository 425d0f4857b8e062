//! One CSV row per disputed item, for spreadsheets: the letter's dates and reviewer, the item's
//! medications (drug, generic, dose and quantity paired in the same order, `; ` between),
//! the case's diagnoses and their codes, the guidelines and pages cited, the stated and
//! predicted decisions and the verdict sentence. Text cells have their line breaks and runs of
//! spaces folded; spans stay in characters of the letter text.

use std::io::Write;

use super::record::{EntityRecord, ItemRecord, LetterRecord, Normalized};
use crate::annotation::Label;
use crate::letter::fold_whitespace;
use crate::normalize::Citation;

/// The columns, in order.
pub const CSV_HEADER: [&str; 25] = [
    "file",
    "case_number",
    "date_assigned",
    "date_of_injury",
    "decision_date",
    "ur_denial_date",
    "reviewer_specialty",
    "item",
    "request",
    "drug",
    "generic",
    "dose",
    "quantity",
    "diagnoses",
    "diagnosis_codes",
    "guidelines",
    "guideline_chapters",
    "pages",
    "stated_decision",
    "predicted_decision",
    "p_overturned",
    "agrees",
    "verdict",
    "rationale_span",
    "error",
];

fn column(name: &str) -> usize {
    CSV_HEADER
        .iter()
        .position(|c| *c == name)
        .expect("a column of CSV_HEADER")
}

/// Distinct values in their first order, `; ` between.
fn distinct(values: impl IntoIterator<Item = String>) -> String {
    let mut seen: Vec<String> = Vec::new();
    for v in values {
        if !v.is_empty() && !seen.iter().any(|s| s.eq_ignore_ascii_case(&v)) {
            seen.push(v);
        }
    }
    seen.join("; ")
}

/// A citation as one cell entry: `MTUS Low Back Complaints 2004 (Summary)`.
fn chapter(c: &Citation) -> String {
    let mut s = c.guideline.to_string();
    if let Some(ch) = &c.chapter {
        s.push(' ');
        s.push_str(ch);
    }
    if let Some(y) = c.year {
        s.push_str(&format!(" {y}"));
    }
    if !c.sections.is_empty() {
        s.push_str(&format!(" ({})", c.sections.join("; ")));
    }
    s
}

fn pages_cell(item: &ItemRecord, entities: &[EntityRecord]) -> String {
    let numbers = |pages: &[u32]| {
        pages
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from_citations = item
        .guidelines
        .iter()
        .filter(|c| !c.pages.is_empty())
        .map(|c| format!("{} p. {}", c.guideline, numbers(&c.pages)));
    let from_rationale = entities
        .iter()
        .filter(|e| {
            e.label == Label::GuidelinePage
                && item
                    .rationale_span
                    .contains(&crate::Span::new(e.start, e.end))
        })
        .filter_map(|e| match &e.normalized {
            Some(Normalized::Page(p)) if !p.pages.is_empty() => Some(match p.guideline {
                Some(g) => format!("{g} p. {}", numbers(&p.pages)),
                None => format!("p. {}", numbers(&p.pages)),
            }),
            _ => None,
        });
    distinct(from_citations.chain(from_rationale))
}

/// The letter's diagnoses (every `DIAGNOSIS` entity, distinct) and their distinct codes.
fn diagnoses(entities: &[EntityRecord]) -> (String, String) {
    let dx: Vec<&EntityRecord> = entities
        .iter()
        .filter(|e| e.label == Label::Diagnosis)
        .collect();
    let names = distinct(dx.iter().map(|e| fold_whitespace(&e.text)));
    let codes = distinct(dx.iter().filter_map(|e| match &e.normalized {
        Some(Normalized::Diagnosis(c)) => Some(c.code.clone()),
        _ => None,
    }));
    (names, codes)
}

pub fn write_rows<W: Write>(w: &mut csv::Writer<W>, r: &LetterRecord) -> csv::Result<()> {
    let opt = |s: &Option<String>| s.as_deref().map(fold_whitespace).unwrap_or_default();
    let mut letter_row = vec![String::new(); CSV_HEADER.len()];
    letter_row[column("file")] = r.file.clone();
    letter_row[column("case_number")] = opt(&r.case_number);
    letter_row[column("date_assigned")] = opt(&r.date_assigned);
    letter_row[column("date_of_injury")] = opt(&r.date_of_injury);
    letter_row[column("decision_date")] = opt(&r.decision_date);
    letter_row[column("ur_denial_date")] = opt(&r.ur_denial_date);
    letter_row[column("reviewer_specialty")] = opt(&r.reviewer_specialty);
    if r.error.is_some() || r.items.is_empty() {
        letter_row[column("error")] = opt(&r.error);
        return w.write_record(&letter_row);
    }
    let entities = r.entities.as_deref().unwrap_or(&[]);
    let (dx_names, dx_codes) = diagnoses(entities);
    for item in &r.items {
        let mut row = letter_row.clone();
        let mut set = |name: &str, v: String| row[column(name)] = v;
        set("item", (item.index + 1).to_string());
        set("request", fold_whitespace(&item.request));
        set("diagnoses", dx_names.clone());
        set("diagnosis_codes", dx_codes.clone());
        set(
            "guidelines",
            distinct(item.guidelines.iter().map(|c| c.guideline.to_string())),
        );
        set(
            "guideline_chapters",
            distinct(item.guidelines.iter().map(chapter)),
        );
        set("pages", pages_cell(item, entities));
        set(
            "stated_decision",
            item.stated_decision
                .map(|d| d.to_string())
                .unwrap_or_default(),
        );
        set("verdict", opt(&item.verdict));
        set(
            "rationale_span",
            format!("{}-{}", item.rationale_span.start, item.rationale_span.end),
        );
        if let Some(p) = &item.prediction {
            // Paired: the i-th dose and quantity are the i-th drug's (empty when it has none).
            let slot = |f: fn(&super::record::Medication) -> &Option<String>| {
                if p.medications.is_empty() {
                    return String::new();
                }
                p.medications
                    .iter()
                    .map(|m| f(m).clone().unwrap_or_default())
                    .collect::<Vec<_>>()
                    .join("; ")
            };
            set("drug", slot(|m| &m.drug));
            set("generic", slot(|m| &m.generic));
            set("dose", slot(|m| &m.dose));
            set("quantity", slot(|m| &m.quantity));
            set("predicted_decision", p.predicted_decision.to_string());
            set("p_overturned", format!("{:.4}", p.p_overturned));
            set(
                "agrees",
                p.agrees.map(|a| a.to_string()).unwrap_or_default(),
            );
        }
        w.write_record(&row)?;
    }
    Ok(())
}
