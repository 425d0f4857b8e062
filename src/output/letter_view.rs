//! `predict --format html`: the letters as one self-contained page, their entities highlighted
//! by label (the way displaCy shows spaCy's), each disputed item with its stated and predicted
//! decision and probability, and what each entity was normalised to on hover.

use std::fmt::Write as _;

use super::record::{EntityRecord, LetterRecord, Normalized};
use super::report::esc;
use crate::annotation::Label;

/// A label's colour.
fn colour(label: Label) -> &'static str {
    match label {
        Label::Drug => "#aa9cfc",
        Label::Dose => "#7aecec",
        Label::Quantity => "#bfeeb7",
        Label::Diagnosis => "#feca74",
        Label::GuidelinePage => "#ff9561",
    }
}

/// The page's head: styles and the legend.
pub fn start(title: &str) -> String {
    let mut s = format!(
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title><style>\
         body{{font-family:sans-serif;margin:2em;max-width:70em}}\
         .text{{white-space:pre-wrap;line-height:2.2;font-family:serif;border:1px solid #ddd;padding:1em}}\
         mark{{padding:0.2em 0.35em;border-radius:0.35em}}\
         mark .label{{font-size:0.65em;font-weight:bold;font-family:sans-serif;margin-left:0.4em;\
         vertical-align:middle}}\
         table{{border-collapse:collapse;margin:0.5em 0}}td,th{{padding:2px 8px;\
         border-bottom:1px solid #ddd;text-align:left}}.Overturned{{color:#b00;font-weight:bold}}\
         .disagrees{{background:#fee}}</style></head><body><h1>{t}</h1><p>",
        t = esc(title)
    );
    for label in Label::ALL {
        let _ = write!(
            s,
            "<mark style=\"background:{}\">{}</mark> ",
            colour(label),
            label
        );
    }
    s.push_str(
        "Hover over an entity for its score and normal form. A row in red: the prediction \
         contradicts the letter's stated decision.</p>\n",
    );
    s
}

pub fn end() -> &'static str {
    "</body></html>\n"
}

fn hover(e: &EntityRecord) -> String {
    let mut t = format!("{} score {:.3}", e.label, e.score);
    match &e.normalized {
        Some(Normalized::Drug(d)) => {
            let _ = write!(t, "; generic: {}", d.generic);
        }
        Some(Normalized::Diagnosis(c)) => {
            let _ = write!(t, "; ICD-10-CM {} {} ({:.2})", c.code, c.title, c.score);
        }
        Some(Normalized::Page(p)) => {
            let pages: Vec<String> = p.pages.iter().map(u32::to_string).collect();
            let _ = write!(t, "; pages {}", pages.join(", "));
            if let Some(g) = p.guideline {
                let _ = write!(t, " of {g}");
            }
        }
        None => {}
    }
    t
}

/// One letter's section: its items, then its text with the entities marked. A failed input
/// gets its error.
pub fn letter(r: &LetterRecord) -> String {
    let mut s = format!("<h2>{}</h2>", esc(&r.file));
    if let Some(e) = &r.error {
        let _ = write!(s, "<p class=\"Overturned\">{}</p>", esc(e));
        return s;
    }
    s.push_str(
        "<table><tr><th>#</th><th>request</th><th>stated</th><th>predicted</th>\
         <th>P(Overturned)</th><th>guidelines</th></tr>",
    );
    for item in &r.items {
        let p = item.prediction.as_ref();
        let disagrees = p.and_then(|p| p.agrees) == Some(false);
        let stated = item
            .stated_decision
            .map(|d| d.to_string())
            .unwrap_or_default();
        let predicted = p
            .map(|p| p.predicted_decision.to_string())
            .unwrap_or_default();
        let guidelines: Vec<String> = item
            .guidelines
            .iter()
            .map(|c| c.guideline.to_string())
            .collect();
        let _ = write!(
            s,
            "<tr{}><td>{}</td><td>{}</td><td class=\"{stated}\">{stated}</td>\
             <td class=\"{predicted}\">{predicted}</td><td>{}</td><td>{}</td></tr>",
            if disagrees {
                " class=\"disagrees\""
            } else {
                ""
            },
            item.index + 1,
            esc(&item.request),
            p.map(|p| format!("{:.3}", p.p_overturned))
                .unwrap_or_default(),
            esc(&guidelines.join(", ")),
        );
    }
    s.push_str("</table><div class=\"text\">");
    let text: Vec<char> = r.text.as_deref().unwrap_or("").chars().collect();
    let mut at = 0;
    let piece = |a: usize, b: usize| esc(&text[a..b].iter().collect::<String>());
    for e in r.entities.as_deref().unwrap_or(&[]) {
        if e.start < at || e.end > text.len() {
            continue; // entities are in order and apart; this guards the page, not the data
        }
        s.push_str(&piece(at, e.start));
        let _ = write!(
            s,
            "<mark style=\"background:{}\" title=\"{}\">{}<span class=\"label\">{}</span></mark>",
            colour(e.label),
            esc(&hover(e)),
            piece(e.start, e.end),
            e.label
        );
        at = e.end;
    }
    s.push_str(&piece(at, text.len()));
    s.push_str("</div>\n");
    s
}
