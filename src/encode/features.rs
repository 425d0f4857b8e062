//! Per-token input features beside the token embedding: word shape, lexicon matches and which
//! part of the letter the token is in. They carry what 135 letters cannot teach: drug names and
//! diagnoses the training letters never mention, and units, counts and page words by their form.

use crate::words::Words;
use std::sync::LazyLock;

use regex::Regex;

use crate::encode::lexicon::Matches;
use crate::letter::{CharIndex, Letter, Span};
use crate::tokenize::Tokens;

/// Parts of a letter a token can be in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Other = 0,
    CaseSummary,
    Statement,
    ClaimsGuideline,
    MaximusGuideline,
    Rationale,
}

const NUM_PARTS: usize = 6;
const SHAPE: usize = 16;
const LEXICON: usize = 4;
/// Page-citation, strength and count patterns, each as B/I.
const PATTERNS: usize = 6;
/// Negation cue, necessity cue, first sentence of its part, last sentence of its part.
const CUES: usize = 4;

/// Columns of the feature vector that mark a drug-lexicon match's first token and the rest,
/// then a diagnosis-lexicon match's.
pub const DRUG_LEXICON_B: usize = SHAPE;
pub const DRUG_LEXICON_I: usize = SHAPE + 1;
pub const DIAGNOSIS_LEXICON_B: usize = SHAPE + 2;
pub const DIAGNOSIS_LEXICON_I: usize = SHAPE + 3;

/// Width of the feature vector of one token.
pub const FEATURE_DIM: usize = SHAPE + LEXICON + NUM_PARTS + PATTERNS + CUES;

/// A token's features, one bit per column (they are all 0 or 1): 8 bytes a token instead of
/// `FEATURE_DIM` floats, so that a long letter's features take 8 MB, not 70.
pub type FeatureBits = u64;
const _: () = assert!(FEATURE_DIM <= FeatureBits::BITS as usize);

/// Whether column `col` is set in a token's features.
pub fn has(bits: FeatureBits, col: usize) -> bool {
    bits >> col & 1 == 1
}

/// A token's features as the floats the network reads.
pub fn unpack(bits: FeatureBits, row: &mut [f32]) {
    for (col, v) in row.iter_mut().enumerate().take(FEATURE_DIM) {
        *v = f32::from(u8::from(has(bits, col)));
    }
}

fn re(p: &str) -> Regex {
    Regex::new(p).expect("static pattern")
}

/// Where a guideline page citation reads like one: `Page(s): 74-96`, `pages 7 and 8`, `pg. 607`.
static PAGE_CITATION: LazyLock<Regex> = LazyLock::new(|| {
    re(r"(?i)\b(?:page\s*\(\s*s\s*\)|pages?|pgs?\.?)\s*:?\s*\d+(?:\s*(?:-|,|and|&)\s*\d+)*")
});
/// A strength: number(s) with a unit, `10/325mg`, `7.5 mg`, `0.025%`, `75mcg`.
static STRENGTH: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)\b\d+(?:\.\d+)?(?:\s*[/-]\s*\d+(?:\.\d+)?)*\s*(?:mg|mcg|gm?|ml|cc|meq|iu|units?)\b|\b\d+(?:\.\d+)?\s*%",
    )
});
/// A count: `#90`, `# 60`, `quantity 60`, `x1`, `12 sessions`, `60 count`, `30-tablet`.
static COUNT: LazyLock<Regex> = LazyLock::new(|| {
    re(
        r"(?i)#\s*\d+|\b(?:quantity|qty)\s*:?\s*\d+|\bx\s?\d+\b|\b\d+\s*-?\s*(?:count|tablets?|tabs?|capsules?|caps|pills?|sessions?|visits?|treatments?|injections?|patches|units|boxes|bottles)\b",
    )
});
static NEGATIONS: Words = Words("NEGATIONS");
static NECESSITY: Words = Words("NECESSITY");

/// Character ranges of every match of `re` in `text`.
fn pattern_ranges(re: &Regex, text: &str, chars: &CharIndex) -> Vec<(usize, usize)> {
    re.find_iter(text)
        .map(|m| (chars.to_char(m.start()), chars.to_char(m.end())))
        .collect()
}

/// Pattern matches of a letter (character ranges), computed once per letter.
#[derive(Debug, Clone, Default)]
pub struct PatternMatches {
    pub pages: Vec<(usize, usize)>,
    pub strengths: Vec<(usize, usize)>,
    pub counts: Vec<(usize, usize)>,
    /// Character offsets of sentence ends (`. ` followed by a capital, or a blank line).
    pub sentence_ends: Vec<usize>,
}

pub fn pattern_matches(text: &str, chars: &CharIndex) -> PatternMatches {
    static SENTENCE_END: LazyLock<Regex> =
        LazyLock::new(|| re(r"[.?!][\)\x22']?\s+[A-Z0-9\x22]|\n\s*\n"));
    PatternMatches {
        pages: pattern_ranges(&PAGE_CITATION, text, chars),
        strengths: pattern_ranges(&STRENGTH, text, chars),
        counts: pattern_ranges(&COUNT, text, chars),
        sentence_ends: SENTENCE_END
            .find_iter(text)
            .map(|m| chars.to_char(m.start() + 1))
            .collect(),
    }
}

static UNITS: Words = Words("UNITS");
static COUNTS: Words = Words("COUNTS");

/// The character ranges of each part of a parsed letter, in order.
pub fn letter_parts(letter: &Letter) -> Vec<(Span, Part)> {
    let mut parts = Vec::new();
    if let Some(s) = letter.case_summary {
        parts.push((s, Part::CaseSummary));
    }
    for item in &letter.items {
        parts.push((item.statement, Part::Statement));
        if let Some(g) = &item.claims_administrator_guideline {
            parts.push((g.span, Part::ClaimsGuideline));
        }
        if let Some(g) = &item.maximus_guideline {
            parts.push((g.span, Part::MaximusGuideline));
        }
        parts.push((item.rationale, Part::Rationale));
    }
    parts.sort_by_key(|p| p.0.start);
    parts
}

/// Marks each token covered by a range: 1 at its first token (B), 2 inside (I).
fn mark(tokens: &Tokens, ranges: &[(usize, usize)], out: &mut [u8]) {
    let mut t = 0;
    for &(s, e) in ranges {
        while t < tokens.len() && tokens.offsets[t].1 <= s {
            t += 1;
        }
        let mut k = t;
        while k < tokens.len() && tokens.offsets[k].0 < e {
            out[k] = if k == t { 1 } else { 2 };
            k += 1;
        }
    }
}

/// Features of every token of `text`, one `FeatureBits` per token.
pub fn token_features(
    text_chars: &[char],
    tokens: &Tokens,
    matches: &Matches,
    patterns: &PatternMatches,
    parts: &[(Span, Part)],
) -> Vec<FeatureBits> {
    let n = tokens.len();
    let mut out: Vec<FeatureBits> = vec![0; n];
    let mut drug = vec![0u8; n];
    let mut dx = vec![0u8; n];
    mark(tokens, &matches.drugs, &mut drug);
    mark(tokens, &matches.diagnoses, &mut dx);
    let mut pat = [vec![0u8; n], vec![0u8; n], vec![0u8; n]];
    mark(tokens, &patterns.pages, &mut pat[0]);
    mark(tokens, &patterns.strengths, &mut pat[1]);
    mark(tokens, &patterns.counts, &mut pat[2]);
    let mut p = 0;
    let mut lower = String::new();
    for (k, &(s, e)) in tokens.offsets.iter().enumerate() {
        let mut bits: FeatureBits = 0;
        let mut set = |col: usize, on: bool| bits |= FeatureBits::from(on) << col;
        let piece = &text_chars[s.min(text_chars.len())..e.min(text_chars.len())];
        lower.clear();
        lower.extend(piece.iter().map(|c| c.to_ascii_lowercase()));
        let first = piece.first().copied().unwrap_or(' ');
        let alpha = piece.iter().any(|c| c.is_alphabetic());
        let prev_end = if k > 0 {
            tokens.offsets[k - 1].1
        } else {
            usize::MAX
        };
        let glued = prev_end == s;
        let before = if s > 0 { text_chars[s - 1] } else { '\n' };
        let flags = [
            first.is_uppercase(),
            alpha && piece.len() > 1 && piece.iter().all(|c| !c.is_lowercase()),
            !piece.is_empty() && piece.iter().all(|c| c.is_ascii_digit()),
            piece.iter().any(|c| c.is_ascii_digit()),
            !piece.is_empty() && piece.iter().all(|c| c.is_ascii_punctuation()),
            lower == "#",
            lower == "/",
            lower == "%",
            lower == "." || lower == ",",
            lower == "-" || lower == "(" || lower == ")",
            UNITS.contains(&lower.as_str()),
            COUNTS.contains(&lower.as_str()),
            lower == "page" || lower == "pages" || lower == "pg",
            glued,
            before == '\n',
            lower.len() > 7,
        ];
        for (i, f) in flags.into_iter().enumerate() {
            set(i, f);
        }
        set(DRUG_LEXICON_B, drug[k] == 1);
        set(DRUG_LEXICON_I, drug[k] == 2);
        set(DIAGNOSIS_LEXICON_B, dx[k] == 1);
        set(DIAGNOSIS_LEXICON_I, dx[k] == 2);
        while p < parts.len() && parts[p].0.end <= s {
            p += 1;
        }
        let part = match parts.get(p) {
            Some((span, part)) if span.start <= s => *part,
            _ => Part::Other,
        };
        set(SHAPE + LEXICON + part as usize, true);
        let base = SHAPE + LEXICON + NUM_PARTS;
        for (i, marks) in pat.iter().enumerate() {
            set(base + 2 * i, marks[k] == 1);
            set(base + 2 * i + 1, marks[k] == 2);
        }
        let cue = base + PATTERNS;
        set(cue, NEGATIONS.contains(&lower.as_str()));
        set(cue + 1, NECESSITY.contains(&lower.as_str()));
        // Verdicts open or close a rationale: is the token in its part's first or last sentence?
        if let Some((span, _)) = parts.get(p).filter(|(span, _)| span.start <= s) {
            let ends = &patterns.sentence_ends;
            let before = ends.partition_point(|&e| e <= s);
            let first = before == 0 || ends[before - 1] <= span.start;
            let last = ends
                .get(before)
                .is_none_or(|&e| e >= span.end.saturating_sub(1));
            set(cue + 2, first);
            set(cue + 3, last);
        }
        out[k] = bits;
    }
    out
}
