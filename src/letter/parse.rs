//! Finding the structure of a letter in its text.
//!
//! The letters are PDF text: line breaks fall anywhere, page breaks add blank lines, and the 2015
//! letters have a blank line after every line. So nothing here relies on paragraphs; items are
//! anchored on `Decision rationale:` and an item's statement is found by sentences: the sentence
//! that ends in `: Upheld` / `is: Overturned`, plus the partial-authorisation sentences before it.

use crate::words::Words;
use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use super::{
    fold_whitespace, CharIndex, Decision, DisputedItem, Field, Header, Letter, SourceKind,
};
use crate::error::{Error, Result};

fn re(pattern: &str) -> Regex {
    Regex::new(pattern).expect("static pattern")
}

static ITEMS_SECTION: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)IMR\s+ISSUES\s*,?\s+DECISIONS\s+AND\s+RATIONALES"));
static SET_FORTH: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)set\s+forth\s+below\s*:"));
static RATIONALE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)Decision\s+rationale\s*:"));
static CA_GUIDELINE: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)Claims\s+Administrator\s+guideline\s*:"));
static MAXIMUS_GUIDELINE: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)MAXIMUS\s+guideline\s*:"));
static DECISION_COLON: LazyLock<Regex> = LazyLock::new(|| re(r":\s*(Upheld|Overturned)\b"));
static DECISION_WORD: LazyLock<Regex> = LazyLock::new(|| re(r"\b(Upheld|Overturned)\b"));
static PREAMBLE: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)was\s+the\s+original\s+request|authorized\s+by\s+the\s+Claims\s+Administrator|leaving\s+the\s+original\s+request|IMR\s+eligible",
    )
});
static ORIGINAL_REQUEST: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?is)^(.*?)\s+was\s+the\s+original\s+request\s*\."));
static PORTION_OF_REQUEST: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:the\s+)?original\s+request\s*,\s*"));
static TRAILING_IS: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)[\s,]+is\s*$"));
static CASE_SUMMARY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)CLINICAL\s+CASE\s+SUMMARY"));
static SUMMARY_BOILERPLATE: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?is)^\s*The\s+expert\s+reviewer\s+developed\s+the\s+following.{0,200}?records\s*:")
});
static HEADER_END: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)HOW\s+THE\s+IMR\s+FINAL\s+DETERMINATION"));

const DATE: &str = r"(\d{1,2}/\d{1,2}/\d{2,4})";

static CASE_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)Case\s+Number\s*:\s*([A-Z]{2}\d{2}-\d+)"));
static DATE_ASSIGNED: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)Date\s+Assigned\s*:\s*{DATE}")));
static DATE_OF_INJURY: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)Date\s+of\s+Injury\s*:\s*{DATE}")));
static DECISION_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)Decision\s+Date\s*:\s*{DATE}")));
static UR_DENIAL_DATE: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)UR\s+Denial\s+Date\s*:\s*{DATE}")));
static APPLICATION_RECEIVED: LazyLock<Regex> =
    LazyLock::new(|| re(&format!(r"(?i)Application\s+Received\s*:\s*{DATE}")));
static PRIORITY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)Priority\s*:\s*([A-Za-z]+)"));
static SPECIALTY: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)Certification\(s\)\s*/\s*Specialty\s*:[ \t]*([^\r\n]*)"));

/// Parses a letter's text into its structure.
pub fn parse_letter(path: &Path, text: String, source: SourceKind) -> Result<Letter> {
    let chars = CharIndex::new(&text);
    let section = ITEMS_SECTION
        .find(&text)
        .ok_or_else(|| Error::NoItemsSection { path: path.into() })?;

    let header = parse_header(&text, &chars, section.start());
    let case_summary = CASE_SUMMARY.find(&text[..section.start()]).and_then(|m| {
        let mut start = m.end();
        if let Some(b) = SUMMARY_BOILERPLATE.find(&text[start..section.start()]) {
            start += b.end();
        }
        trimmed(&text, start, section.start()).map(|(s, e)| chars.span(s, e))
    });

    let body = match SET_FORTH.find(&text[section.end()..]) {
        Some(m) if m.start() < 400 => section.end() + m.end(),
        _ => section.end(),
    };
    let rationales: Vec<(usize, usize)> = RATIONALE
        .find_iter(&text[body..])
        .map(|m| (body + m.start(), body + m.end()))
        .collect();
    if rationales.is_empty() {
        return Err(Error::NoItems { path: path.into() });
    }

    // First pass: each item's head (statement + guidelines) lies between the previous
    // rationale's label and this one's.
    let mut heads = Vec::with_capacity(rationales.len());
    for (k, &(label_start, _)) in rationales.iter().enumerate() {
        let lo = if k == 0 { body } else { rationales[k - 1].1 };
        heads.push(parse_head(&text, &chars, lo, label_start));
    }

    let mut items = Vec::with_capacity(rationales.len());
    for (k, head) in heads.iter().enumerate() {
        let rationale_start = rationales[k].1;
        let rationale_end = heads.get(k + 1).map_or(text.len(), |h| h.statement.0);
        let (rs, re) = trimmed(&text, rationale_start, rationale_end)
            .unwrap_or((rationale_start, rationale_start));
        items.push(DisputedItem {
            statement: chars.span(head.statement.0, head.statement.1),
            request: head.request.clone(),
            original_request: head.original_request.clone(),
            stated_decision: head.decision.map(|(d, _)| d),
            decision_span: head.decision.map(|(_, (s, e))| chars.span(s, e)),
            claims_administrator_guideline: head.ca_guideline.clone(),
            maximus_guideline: head.maximus_guideline.clone(),
            rationale: chars.span(rs, re),
        });
    }

    Ok(Letter {
        path: path.into(),
        source,
        text,
        chars,
        header,
        case_summary,
        items,
    })
}

/// What precedes one `Decision rationale:` label.
struct Head {
    /// Byte range of the item statement.
    statement: (usize, usize),
    request: Field,
    original_request: Option<Field>,
    decision: Option<(Decision, (usize, usize))>,
    ca_guideline: Option<Field>,
    maximus_guideline: Option<Field>,
}

/// Parses the stretch `[lo, label)`: the tail of the previous rationale, then this item's
/// statement, its guideline citations, up to its `Decision rationale:` label.
fn parse_head(text: &str, chars: &CharIndex, lo: usize, label: usize) -> Head {
    let last_in = |re: &Regex| {
        re.find_iter(&text[lo..label])
            .last()
            .map(|m| (lo + m.start(), lo + m.end()))
    };
    let ca = last_in(&CA_GUIDELINE);
    let maximus = last_in(&MAXIMUS_GUIDELINE);
    let head_end = [ca.map(|c| c.0), maximus.map(|m| m.0), Some(label)]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(label);

    let field = |s: usize, e: usize| -> Option<Field> {
        trimmed(text, s, e).map(|(s, e)| Field {
            text: fold_whitespace(&text[s..e]),
            span: chars.span(s, e),
        })
    };
    let ca_guideline = ca.and_then(|(_, e)| field(e, maximus.map_or(label, |m| m.0).max(e)));
    let maximus_guideline = maximus.and_then(|(_, e)| field(e, label));

    let region = &text[lo..head_end];
    let decision_match = DECISION_COLON
        .captures_iter(region)
        .last()
        .map(|c| (c.get(0).unwrap().start(), c.get(1).unwrap()))
        .or_else(|| {
            DECISION_WORD
                .captures_iter(region)
                .last()
                .map(|c| (c.get(1).unwrap().start(), c.get(1).unwrap()))
        });

    // `request_end` is where the item text stops (the colon); `statement_end` after the verdict.
    let (request_end, statement_end, decision) = match decision_match {
        Some((colon, word)) => {
            let d = if word.as_str() == "Upheld" {
                Decision::Upheld
            } else {
                Decision::Overturned
            };
            (
                lo + colon,
                lo + word.end(),
                Some((d, (lo + word.start(), lo + word.end()))),
            )
        }
        None => {
            let end = trimmed(text, lo, head_end).map_or(lo, |(_, e)| e);
            (end, end, None)
        }
    };

    // The statement opens with the sentence that carries the verdict, extended back over the
    // partial-authorisation sentences ("X was the original request. Y was authorized by ...").
    let decision_sentence = sentence_start(text, lo, request_end);
    let mut statement_start = decision_sentence;
    while statement_start > lo {
        let prev = sentence_start(text, lo, prev_non_space(text, lo, statement_start));
        let sentence = &text[prev..statement_start];
        if prev < statement_start
            && PREAMBLE.is_match(sentence)
            && !sentence
                .to_ascii_lowercase()
                .contains("medically necessary")
        {
            statement_start = prev;
        } else {
            break;
        }
    }

    // The request: after "original request," where the verdict sentence names the remaining
    // portion, else the verdict sentence itself; without a trailing " is".
    let mut request_start = decision_sentence;
    if let Some(m) = PORTION_OF_REQUEST
        .find_iter(&text[decision_sentence..request_end])
        .last()
    {
        request_start = decision_sentence + m.end();
    }
    let mut req_end = request_end;
    if let Some(m) = TRAILING_IS.find(&text[request_start..req_end]) {
        req_end = request_start + m.start();
    }
    let request = field(request_start, req_end).unwrap_or(Field {
        text: String::new(),
        span: chars.span(request_start, request_start),
    });
    let original_request = ORIGINAL_REQUEST
        .captures(&text[statement_start..decision_sentence])
        .and_then(|c| {
            let g = c.get(1).unwrap();
            field(statement_start + g.start(), statement_start + g.end())
        });

    Head {
        statement: (statement_start, statement_end),
        request,
        original_request,
        decision,
        ca_guideline,
        maximus_guideline,
    }
}

/// Words whose trailing period does not end a sentence.
static ABBREVIATIONS: Words = Words("ABBREVIATIONS");

/// Start (byte) of the sentence that contains the text just before `end`, not before `lo`.
///
/// A sentence ends at `.`, `?` or `!` (optionally followed by a closing quote or parenthesis)
/// followed by whitespace and a capital letter or digit, unless the period ends an abbreviation.
fn sentence_start(text: &str, lo: usize, end: usize) -> usize {
    let bytes = text.as_bytes();
    let mut i = end;
    while i > lo {
        i -= 1;
        let b = bytes[i];
        if !matches!(b, b'.' | b'?' | b'!') {
            continue;
        }
        let mut j = i + 1;
        while j < end && matches!(bytes[j], b'"' | b')' | b'\'') {
            j += 1;
        }
        let ws_start = j;
        while j < end && bytes[j].is_ascii_whitespace() {
            j += 1;
        }
        if j == ws_start || j >= end {
            continue;
        }
        let next = bytes[j];
        if !(next.is_ascii_uppercase() || next.is_ascii_digit() || next == b'"') {
            continue;
        }
        if b == b'.' && ends_with_abbreviation(&text[lo..i]) {
            continue;
        }
        return j;
    }
    next_non_space(text, lo, end)
}

fn ends_with_abbreviation(before: &str) -> bool {
    let word = before
        .rsplit(|c: char| c.is_whitespace() || c == '(')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    ABBREVIATIONS.contains(&word.as_str())
}

fn next_non_space(text: &str, from: usize, end: usize) -> usize {
    text[from..end]
        .find(|c: char| !c.is_whitespace())
        .map_or(end, |i| from + i)
}

fn prev_non_space(text: &str, lo: usize, end: usize) -> usize {
    text[lo..end]
        .rfind(|c: char| !c.is_whitespace())
        .map_or(lo, |i| lo + i)
}

/// `[s, e)` without surrounding whitespace, or `None` if nothing is left.
fn trimmed(text: &str, s: usize, e: usize) -> Option<(usize, usize)> {
    if s >= e {
        return None;
    }
    let piece = &text[s..e];
    let start = s + (piece.len() - piece.trim_start().len());
    let end = s + piece.trim_end().len();
    (start < end).then_some((start, end))
}

/// The largest character boundary of `text` at or before byte `i`.
fn floor_char_boundary(text: &str, mut i: usize) -> usize {
    while !text.is_char_boundary(i) {
        i -= 1;
    }
    i
}

fn parse_header(text: &str, chars: &CharIndex, limit: usize) -> Header {
    // Without a header end marker, the header is looked for in the first 4,000 bytes (rounded
    // down to a character boundary: found by fuzzing).
    let end = HEADER_END
        .find(&text[..limit])
        .map_or_else(|| floor_char_boundary(text, limit.min(4000)), |m| m.start());
    let head = &text[..end];
    let grab = |re: &Regex, within: &str| -> Option<Field> {
        let g = re.captures(within)?.get(1)?;
        let (s, e) = trimmed(text, g.start(), g.end())?;
        Some(Field {
            text: fold_whitespace(&text[s..e]),
            span: chars.span(s, e),
        })
    };
    Header {
        case_number: grab(&CASE_NUMBER, head),
        date_assigned: grab(&DATE_ASSIGNED, head),
        date_of_injury: grab(&DATE_OF_INJURY, head),
        decision_date: grab(&DECISION_DATE, head),
        ur_denial_date: grab(&UR_DENIAL_DATE, head),
        application_received: grab(&APPLICATION_RECEIVED, head),
        priority: grab(&PRIORITY, head),
        // The credentials block follows the header; it ends before the case summary.
        reviewer_specialty: grab(&SPECIALTY, &text[..limit]).filter(|f| !f.text.is_empty()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn letter(body: &str) -> Letter {
        let text = format!(
            "Case Number: CM16-0000001\nDate Assigned: 11/18/2016 Date of Injury:  10/10/2016\n\
             HOW THE IMR FINAL DETERMINATION WAS MADE\nCertification(s)/Specialty: Psychiatry \n\
             CLINICAL CASE SUMMARY\nThe expert reviewer developed the following clinical case \
             summary based on a review of the case file, including all medical records:\n\n\
             The applicant has low back pain.\n\n\
             IMR ISSUES, DECISIONS AND RATIONALES\nThe Final Determination was based on decisions \
             for the disputed items/services set forth below:\n \n{body}"
        );
        parse_letter(Path::new("t.txt"), text, SourceKind::Text).unwrap()
    }

    const GUIDES: &str = "Claims Administrator guideline: Decision based on MTUS.\n\
                          MAXIMUS guideline: Decision based on MTUS, Section(s): Opioids.\n";

    #[test]
    fn simple_items_and_rationales() {
        let body = format!(
            "Norco 10/325mg, #90: Upheld\n \n{GUIDES}Decision rationale: Not necessary. \
             Therefore, the request is not medically necessary.\n \n\
             MRI of the left shoulder:  Overturned\n{GUIDES}Decision rationale: Yes, it is."
        );
        let l = letter(&body);
        assert_eq!(l.header.case_number.as_ref().unwrap().text, "CM16-0000001");
        assert_eq!(l.header.date_of_injury.as_ref().unwrap().text, "10/10/2016");
        assert_eq!(
            l.header.reviewer_specialty.as_ref().unwrap().text,
            "Psychiatry"
        );
        assert_eq!(
            l.slice(l.case_summary.unwrap()),
            "The applicant has low back pain."
        );
        assert_eq!(l.items.len(), 2);
        let (a, b) = (&l.items[0], &l.items[1]);
        assert_eq!(a.request.text, "Norco 10/325mg, #90");
        assert_eq!(l.slice(a.request.span), "Norco 10/325mg, #90");
        assert_eq!(a.stated_decision, Some(Decision::Upheld));
        assert_eq!(
            l.slice(a.rationale),
            "Not necessary. Therefore, the request is not medically necessary."
        );
        assert_eq!(
            a.maximus_guideline.as_ref().unwrap().text,
            "Decision based on MTUS, Section(s): Opioids."
        );
        assert_eq!(b.request.text, "MRI of the left shoulder");
        assert_eq!(b.stated_decision, Some(Decision::Overturned));
        assert_eq!(l.slice(b.rationale), "Yes, it is.");
    }

    #[test]
    fn partial_authorisation_across_a_page_break() {
        let body = format!(
            "Norco #1: Upheld\n{GUIDES}Decision rationale: No. The request is not medically \
             necessary.\n \nPhysical therapy x12 was the original request. Physical therapy \
             x6 was authorized by the Claims Administrator.\n\n The remaining IMR eligible \
             portion of the original request, Physical therapy\n\nx6 is:  Overturned\n{GUIDES}\
             Decision rationale: Yes."
        );
        let l = letter(&body);
        assert_eq!(l.items.len(), 2);
        let item = &l.items[1];
        assert_eq!(item.request.text, "Physical therapy x6");
        assert_eq!(
            item.original_request.as_ref().unwrap().text,
            "Physical therapy x12"
        );
        assert!(l
            .slice(item.statement)
            .starts_with("Physical therapy x12 was the original"));
        assert_eq!(item.stated_decision, Some(Decision::Overturned));
        // The previous rationale stops before the preamble of the next item.
        assert_eq!(
            l.slice(l.items[0].rationale),
            "No. The request is not medically necessary."
        );
    }

    #[test]
    fn missing_section_and_missing_items_are_errors() {
        let e = parse_letter(Path::new("a.txt"), "hello".into(), SourceKind::Text).unwrap_err();
        assert!(matches!(e, Error::NoItemsSection { .. }));
        let e = parse_letter(
            Path::new("b.txt"),
            "IMR ISSUES, DECISIONS AND RATIONALES\nNorco: Upheld".into(),
            SourceKind::Text,
        )
        .unwrap_err();
        assert!(matches!(e, Error::NoItems { .. }));
    }

    #[test]
    fn abbreviations_do_not_end_sentences() {
        let t = "The end. Consult with Dr. Smith: Upheld";
        let colon = t.find(':').unwrap();
        assert_eq!(
            &t[sentence_start(t, 0, colon)..colon],
            "Consult with Dr. Smith"
        );
    }
}
