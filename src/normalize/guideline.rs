//! Guideline citations to which guideline and section: an item's `Claims Administrator
//! guideline:` and `MAXIMUS guideline:` fields, in the form DWC letters write them ("Decision
//! based on MTUS Low Back Complaints 2004, Section(s): Summary, and Chronic Pain Medical
//! Treatment 2016, Section(s): Facet blocks. Decision based on Non-MTUS Citation ACOEM ...,
//! pg. 607."), and a `GUIDELINE_PAGE` mention to its pages and the guideline named before it.

use std::sync::LazyLock;

use regex::Regex;
use serde::{Deserialize, Serialize};

/// The guidelines a letter cites.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Guideline {
    /// California's Medical Treatment Utilization Schedule (its chapters include the ACOEM
    /// chapters it adopted and the Chronic Pain guidelines).
    #[serde(rename = "MTUS")]
    Mtus,
    /// ACOEM's Practice Guidelines cited outside the MTUS.
    #[serde(rename = "ACOEM")]
    Acoem,
    /// The Official Disability Guidelines.
    #[serde(rename = "ODG")]
    Odg,
    #[serde(rename = "other")]
    Other,
}

impl std::fmt::Display for Guideline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Guideline::Mtus => "MTUS",
            Guideline::Acoem => "ACOEM",
            Guideline::Odg => "ODG",
            Guideline::Other => "other",
        })
    }
}

/// One guideline a citation field names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Citation {
    pub guideline: Guideline,
    /// The chapter (`Low Back Complaints`, `Chronic Pain Medical Treatment`), or for a
    /// non-MTUS citation the text after the guideline's name.
    pub chapter: Option<String>,
    pub year: Option<u16>,
    /// The `Section(s):` named.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pages: Vec<u32>,
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static pattern")
}

static BASED_ON: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)Decision\s+based\s+on\s+"));
static NON_MTUS: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)^Non-?\s*MTUS\s+Citations?:?\s*"));
static MTUS: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)^MTUS\b[:,]?\s*"));
static YEAR: LazyLock<Regex> = LazyLock::new(|| {
    re(r"\b((?:19|20)\d\d)\b(?:\s+Guidelines?)?\s*(?:,\s*Section\(s\):\s*|$|[,.]?)")
});
static AND: LazyLock<Regex> = LazyLock::new(|| re(r",?\s+and\s+"));
static ACOEM: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\bACOEM\b(?:\s+Occupational\s+Medicine\s+Practice\s+Guidelines)?|Occupational\s+Medicine\s+Practice\s+Guidelines",
    )
});
static ODG: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)\bODG\b|Official\s+Disability\s+Guidelines?(?:\s*\(ODG\))?"));
/// Page citations in the forms `data/ANNOTATION.md` gives (`page 82`, `pages 89-90`, `pg.
/// 607`, `p. 13`, `pp. 308-310`).
static PAGES: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:pages?|pgs?\.?|pp\.?|p\.)\s*(\d{1,4})(?:\s*(?:-|–|to)\s*(\d{1,4}))?")
});
/// A guideline named in running text, for the page citations of a rationale.
static NAMED: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b(MTUS|Chronic\s+Pain\s+Medical\s+Treatment\s+Guidelines?|ACOEM|ODG|Official\s+Disability\s+Guidelines?)\b",
    )
});

/// The longest page range expanded (`pages 89-90` -> 89, 90); a longer one keeps its ends.
const MAX_RANGE: u32 = 30;

/// The pages of a citation: single pages and ranges, in order, without repeats.
pub fn pages(text: &str) -> Vec<u32> {
    let mut out: Vec<u32> = Vec::new();
    for c in PAGES.captures_iter(text) {
        let Ok(a) = c[1].parse::<u32>() else { continue };
        let b = c.get(2).and_then(|m| m.as_str().parse::<u32>().ok());
        let range: Vec<u32> = match b {
            Some(b) if b > a && b - a <= MAX_RANGE => (a..=b).collect(),
            Some(b) if b > a => vec![a, b],
            _ => vec![a],
        };
        for p in range {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    out
}

fn clean(s: &str) -> Option<String> {
    let s = crate::letter::fold_whitespace(s);
    let s = s.trim_matches(|c: char| c.is_whitespace() || matches!(c, ',' | '.' | ':' | ';' | '/'));
    (!s.is_empty()).then(|| s.to_string())
}

fn sections(s: &str) -> Vec<String> {
    clean(s).map_or_else(Vec::new, |s| vec![s])
}

/// The chapters of an MTUS citation: each a name and a year, with its sections.
fn mtus(body: &str, out: &mut Vec<Citation>) {
    let mut start = 0;
    let years: Vec<_> = YEAR.captures_iter(body).collect();
    if years.is_empty() {
        out.push(Citation {
            guideline: Guideline::Mtus,
            chapter: clean(body),
            year: None,
            sections: Vec::new(),
            pages: pages(body),
        });
        return;
    }
    for (i, y) in years.iter().enumerate() {
        let whole = y.get(0).expect("a match");
        let year_at = y.get(1).expect("a year");
        let mut name = &body[start..year_at.start()];
        if i > 0 {
            // The previous chapter's sections run up to the `, and` before this chapter.
            if let Some(m) = AND.find(name) {
                if let Some(last) = out.last_mut() {
                    last.sections = sections(&name[..m.start()]);
                }
                name = &name[m.end()..];
            }
        }
        out.push(Citation {
            guideline: Guideline::Mtus,
            chapter: clean(name),
            year: year_at.as_str().parse().ok(),
            sections: Vec::new(),
            pages: Vec::new(),
        });
        start = whole.end();
        if i + 1 == years.len() {
            if let Some(last) = out.last_mut() {
                let rest = &body[start..];
                last.sections = sections(&PAGES.replace_all(rest, ""));
                last.pages = pages(rest);
            }
        }
    }
}

/// A non-MTUS citation: which guideline, and what follows its name.
fn non_mtus(body: &str) -> Citation {
    let (guideline, rest) = if let Some(m) = ODG.find(body) {
        (Guideline::Odg, &body[m.end()..])
    } else if let Some(m) = ACOEM.find(body) {
        (Guideline::Acoem, &body[m.end()..])
    } else {
        (Guideline::Other, body)
    };
    Citation {
        guideline,
        chapter: clean(&PAGES.replace_all(rest, "")),
        year: None,
        sections: Vec::new(),
        pages: pages(body),
    }
}

/// The guidelines a citation field names, in order.
pub fn citations(field: &str) -> Vec<Citation> {
    let field = crate::letter::fold_whitespace(field);
    let field = field.as_str();
    let mut out = Vec::new();
    let starts: Vec<(usize, usize)> = BASED_ON
        .find_iter(field)
        .map(|m| (m.start(), m.end()))
        .collect();
    for (i, &(_, body_start)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(field.len(), |s| s.0);
        let body = field[body_start..end].trim();
        if let Some(m) = NON_MTUS.find(body) {
            out.push(non_mtus(&body[m.end()..]));
        } else if let Some(m) = MTUS.find(body) {
            mtus(body[m.end()..].trim_end_matches(['.', ' ']), &mut out);
        } else {
            out.push(non_mtus(body));
        }
    }
    out
}

/// A `GUIDELINE_PAGE` mention: its pages and the guideline named last before it in the text
/// (`text_before`, the rationale up to the mention).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageCitation {
    pub pages: Vec<u32>,
    pub guideline: Option<Guideline>,
}

pub fn page_citation(mention: &str, text_before: &str) -> PageCitation {
    let guideline = NAMED.find_iter(text_before).last().map(|m| {
        let name = m.as_str();
        if ACOEM.is_match(name) {
            Guideline::Acoem
        } else if ODG.is_match(name) {
            Guideline::Odg
        } else {
            Guideline::Mtus
        }
    });
    PageCitation {
        pages: pages(mention),
        guideline,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cite(g: Guideline, chapter: &str, year: Option<u16>, sections: &[&str]) -> Citation {
        Citation {
            guideline: g,
            chapter: Some(chapter.into()),
            year,
            sections: sections.iter().map(|s| s.to_string()).collect(),
            pages: Vec::new(),
        }
    }

    #[test]
    fn mtus_chapters_with_their_sections_and_a_non_mtus_citation() {
        let field = "Decision based on MTUS Low Back Complaints 2004, Section(s): \n\
                     Summary, and Chronic Pain Medical Treatment 2016, Section(s): Facet blocks.  \
                     Decision based \non Non-MTUS Citation ACOEM Occupational Medicine Practice \
                     Guidelines, 3rd ed., Low Back \nDisorders, pg. 607.";
        let mut acoem = cite(Guideline::Acoem, "3rd ed., Low Back Disorders", None, &[]);
        acoem.pages = vec![607];
        assert_eq!(
            citations(field),
            vec![
                cite(
                    Guideline::Mtus,
                    "Low Back Complaints",
                    Some(2004),
                    &["Summary"]
                ),
                cite(
                    Guideline::Mtus,
                    "Chronic Pain Medical Treatment",
                    Some(2016),
                    &["Facet blocks"]
                ),
                acoem,
            ]
        );
    }

    #[test]
    fn a_chapter_name_with_commas_and_odg_citations() {
        let c = citations(
            "Decision based on MTUS Forearm, Wrist, and Hand Complaints 2004, Section(s): \
             Special Studies. Decision based on Non-MTUS Citation Official Disability \
             Guidelines (ODG) Shoulder, MRI.",
        );
        assert_eq!(
            c,
            vec![
                cite(
                    Guideline::Mtus,
                    "Forearm, Wrist, and Hand Complaints",
                    Some(2004),
                    &["Special Studies"]
                ),
                cite(Guideline::Odg, "Shoulder, MRI", None, &[]),
            ]
        );
        let only = citations(
            "The Expert Reviewer based their decision on recommendation(s) outside of the MTUS \
             Guidelines. Decision based on Non-MTUS Citation Official Disability Guidelines \
             (ODG), Pain.",
        );
        assert_eq!(only, vec![cite(Guideline::Odg, "Pain", None, &[])]);
        // A chapter without a year, and a citation that names no guideline we know.
        assert_eq!(
            citations("Decision based on MTUS Chronic Pain Medical Treatment Guidelines."),
            vec![cite(
                Guideline::Mtus,
                "Chronic Pain Medical Treatment Guidelines",
                None,
                &[]
            )]
        );
        assert_eq!(
            citations("Decision based on Non-MTUS Citation Medscape, knee pain.")[0].guideline,
            Guideline::Other
        );
        assert!(citations("none given").is_empty());
    }

    #[test]
    fn pages_in_every_form() {
        assert_eq!(pages("page 82"), vec![82]);
        assert_eq!(pages("pages 89-90"), vec![89, 90]);
        assert_eq!(pages("pg. 607"), vec![607]);
        assert_eq!(pages("page  48"), vec![48]);
        assert_eq!(pages("pp. 308-310"), vec![308, 309, 310]);
        assert_eq!(pages("p. 13"), vec![13]);
        assert_eq!(pages("pages 1-200"), vec![1, 200]);
        assert_eq!(pages("page 9 and page 9"), vec![9]);
        assert!(pages("no page here").is_empty());
    }

    #[test]
    fn a_page_takes_the_guideline_named_before_it() {
        let before = "Per the ODG, ... The MTUS Chronic Pain Medical Treatment Guidelines, ";
        assert_eq!(
            page_citation("page 82", before),
            PageCitation {
                pages: vec![82],
                guideline: Some(Guideline::Mtus)
            }
        );
        assert_eq!(
            page_citation("pg. 607", "ACOEM, 3rd ed.,").guideline,
            Some(Guideline::Acoem)
        );
        assert_eq!(page_citation("page 1", "nothing named").guideline, None);
    }
}
