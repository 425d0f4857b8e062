//! The verdict sentences of a rationale: those that say the request is or is not medically
//! necessary (appropriate, indicated, reasonable, warranted), or that open with `Yes,` / `No,`.
//! The CSV shows the item's last one; evaluation blanks them all to see whether the decision
//! head reads the reasons or only the verdict.

use std::sync::LazyLock;

use regex::Regex;

use super::{Letter, Span};

static VERDICT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)medically\s+(necessary|appropriate|indicated|reasonable|warranted)|^\s*(yes|no)\s*,",
    )
    .expect("static pattern")
});
static SENTENCE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?s).*?(?:[.?!](?:\s+|$)|\n\s*\n|$)").expect("static pattern"));

/// The verdict sentences of the text `span` of `letter` (a rationale), as character spans of
/// the letter, in order. A blank line ends a sentence here too (what evaluation masks).
pub fn verdict_sentences(letter: &Letter, span: Span) -> Vec<Span> {
    pieces(letter, span)
        .into_iter()
        .filter(|p| p.verdict)
        .map(|p| p.span)
        .collect()
}

/// The rationale's last verdict sentence as a reader sees it: with the pieces before it that
/// a blank line cut off mid-sentence (text extracted from PDFs has blank lines inside
/// sentences), back to the end of the previous sentence.
pub fn last_verdict(letter: &Letter, span: Span) -> Option<Span> {
    let pieces = pieces(letter, span);
    let last = pieces.iter().rposition(|p| p.verdict)?;
    let mut start = last;
    while start > 0 && !pieces[start - 1].ends_sentence {
        start -= 1;
    }
    Some(Span::new(pieces[start].span.start, pieces[last].span.end))
}

struct Piece {
    /// Without the whitespace that ends it.
    span: Span,
    verdict: bool,
    /// It ends with `.`, `?` or `!` (not only at a blank line).
    ends_sentence: bool,
}

fn pieces(letter: &Letter, span: Span) -> Vec<Piece> {
    let text = letter.slice(span);
    let mut out = Vec::new();
    let mut offset = span.start; // in chars
    for m in SENTENCE.find_iter(text) {
        let sentence = m.as_str();
        let len = sentence.chars().count();
        let trimmed = sentence.trim_end();
        if !trimmed.is_empty() {
            let kept = trimmed.chars().count();
            out.push(Piece {
                span: Span::new(offset, offset + kept),
                verdict: VERDICT.is_match(sentence),
                ends_sentence: trimmed.ends_with(['.', '?', '!']),
            });
        }
        offset += len;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verdicts_and_the_last_one_across_a_blank_line() {
        // A seed letter whose extracted text has a blank line after every line.
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/seeds/000_ec6b414565aecb80.txt");
        let letter = Letter::read(&path).unwrap();
        let rationale = letter.items[1].rationale;
        let v = verdict_sentences(&letter, rationale);
        assert_eq!(
            letter.slice(*v.last().unwrap()),
            "7.5mg, #60 is not medically necessary per MTUS guidelines."
        );
        let last = last_verdict(&letter, rationale).unwrap();
        assert_eq!(
            letter.slice(last),
            "The request for Flexeril \n\n7.5mg, #60 is not medically necessary per MTUS guidelines."
        );
        assert!(last.end <= rationale.end && last.start >= rationale.start);
        // A rationale without a verdict sentence has none.
        let first = Span::new(rationale.start, rationale.start + 20);
        assert_eq!(last_verdict(&letter, first), None);
    }
}
