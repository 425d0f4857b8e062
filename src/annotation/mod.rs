//! Entity annotations: the five labels of the annotation guideline, character spans, and the two
//! file formats they travel in (BRAT standoff `.ann`, and doccano/Prodigy-style JSONL).

pub mod brat;
pub mod corpus;
pub mod jsonl;
pub mod tags;

use serde::{Deserialize, Serialize};

use crate::letter::Span;

/// An entity label (see `data/ANNOTATION.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Label {
    Drug,
    Dose,
    Quantity,
    Diagnosis,
    GuidelinePage,
}

impl Label {
    pub const ALL: [Label; 5] = [
        Label::Drug,
        Label::Dose,
        Label::Quantity,
        Label::Diagnosis,
        Label::GuidelinePage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Label::Drug => "DRUG",
            Label::Dose => "DOSE",
            Label::Quantity => "QUANTITY",
            Label::Diagnosis => "DIAGNOSIS",
            Label::GuidelinePage => "GUIDELINE_PAGE",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn from_index(i: usize) -> Option<Label> {
        Label::ALL.get(i).copied()
    }
}

impl std::str::FromStr for Label {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Label::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown label {s:?} (expected one of DRUG, DOSE, QUANTITY, DIAGNOSIS, GUIDELINE_PAGE)"))
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One labelled span of a letter's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct EntitySpan {
    pub start: usize,
    pub end: usize,
    pub label: Label,
}

impl EntitySpan {
    pub fn new(label: Label, span: Span) -> Self {
        EntitySpan {
            start: span.start,
            end: span.end,
            label,
        }
    }

    pub fn span(&self) -> Span {
        Span::new(self.start, self.end)
    }
}

/// Checks a set of spans against a text of `char_len` characters: in range, not reversed or
/// empty, not overlapping. Returns the index of the first bad span and why.
pub fn validate_spans(spans: &[EntitySpan], char_len: usize) -> Result<(), (usize, String)> {
    for (i, s) in spans.iter().enumerate() {
        if s.start >= s.end {
            return Err((
                i,
                format!("span {}..{} is empty or reversed", s.start, s.end),
            ));
        }
        if s.end > char_len {
            return Err((
                i,
                format!(
                    "span {}..{} is past the end of the text ({char_len} characters)",
                    s.start, s.end
                ),
            ));
        }
    }
    let mut order: Vec<usize> = (0..spans.len()).collect();
    order.sort_by_key(|&i| (spans[i].start, spans[i].end));
    for w in order.windows(2) {
        let (a, b) = (&spans[w[0]], &spans[w[1]]);
        if a.span().overlaps(&b.span()) {
            return Err((
                w[0].max(w[1]),
                format!(
                    "spans {}..{} and {}..{} overlap",
                    a.start, a.end, b.start, b.end
                ),
            ));
        }
    }
    Ok(())
}
