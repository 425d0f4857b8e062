//! Rules from `ANNOTATION.md` applied to the model's decoded entities (`--decode rules`, the
//! default), where the annotation draws a line that a model trained on 135 letters draws badly:
//!
//! - a guideline page citation has one fixed form (`Page(s): 74-96`, `pages 7 and 8`,
//!   `pg. 607`): the citation pattern's matches are the `GUIDELINE_PAGE` spans, and the model's
//!   own page spans are kept only where the pattern found nothing;
//! - a `QUANTITY` runs "from the count through its unit word (words between included)": a
//!   count of sessions, visits, treatments or injections is taken from the count (`12`,
//!   `twelve (12)`, `8-10`, `#6`) through the unit word (`12 additional PT sessions`), unless it
//!   is a frequency (`3 visits per week`); count markers `#90` (`#60 grams`), `quantity of 60`
//!   and `times 6` (but not the frequency code `1 times 8`) are spans of their own. The model
//!   keeps its quantity spans where no such form is found (`240gm`, `x1`, `60 count`);
//! - a drug name in the drug lexicon gets a bonus for `DRUG` before decoding
//!   (`DRUG_LEXICON_PRIOR`);
//! - no span crosses a sentence end or holds an unmatched bracket (none in the gold does);
//! - a `DRUG` keeps "a release modifier that is part of the name" (`Tramadol ER`,
//!   `Venlafaxine HCL ER`, `Pantoprazole sodium`: 28 gold spans have one, none leaves one out),
//!   and a trademark sign is not part of the name (`Voltaren®` is `Voltaren`);
//! - a `DIAGNOSIS` is a condition: bare `pain` with only severity or time words (`chronic pain`,
//!   `acute pain`), and a body part or side alone (`left`, `cervical`, `left shoulder`), are not
//!   ones. The model emits such spans mostly as fragments of a longer diagnosis it split: a
//!   fragment next to a diagnosis, with only joining words between, is joined to it
//!   (`acute` + `carpal tunnel syndrome`); one that stands alone is dropped.
//!
//! Measured against the gold of `data/` (test `rules_agree_with_the_gold`): no gold
//! `DIAGNOSIS` is of either kind; the page pattern finds every gold `GUIDELINE_PAGE` exactly;
//! the quantity forms find 489 of the 515 gold `QUANTITY` spans exactly, and 2 spans that are
//! not gold. The rules were written with all of `data/` in view, so cross-validation cannot
//! tell how they carry over to unseen letters: README reports the decodings with and without.

use std::sync::LazyLock;

use regex::Regex;

use crate::annotation::{EntitySpan, Label};
use crate::letter::CharIndex;

/// How a word counts when deciding whether a span names a condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WordKind {
    /// `pain`, `pains`.
    Pain,
    /// Severity, certainty and time words: `chronic`, `severe`, `possible`, `intermittent`.
    Qualifier,
    /// A side, a direction or a body part: `left`, `upper`, `shoulder`, `lumbar`.
    Place,
    /// `and`, `of`, `the` ...
    Connective,
    /// Anything else: the word could name a condition.
    Other,
}

const PAIN: &[&str] = &["pain", "pains"];
/// Wider than `encode::EDGE_WORDS`' severity words on purpose: time words (`acute`, `chronic`)
/// may begin a diagnosis (`acute carpal tunnel syndrome`), but do not make one on their own.
const QUALIFIERS: &[&str] = &[
    "acute",
    "chronic",
    "constant",
    "continued",
    "current",
    "diffuse",
    "generalized",
    "intermittent",
    "likely",
    "mild",
    "moderate",
    "ongoing",
    "persistent",
    "possible",
    "probable",
    "recurrent",
    "residual",
    "severe",
    "significant",
    "subacute",
    "suspected",
    "worsening",
];
const PLACES: &[&str] = &[
    "abdomen",
    "ankle",
    "ankles",
    "anterior",
    "arm",
    "arms",
    "artery",
    "back",
    "bilateral",
    "bilaterally",
    "biceps",
    "body",
    "both",
    "buttock",
    "buttocks",
    "cardiac",
    "cervical",
    "chest",
    "coronary",
    "disc",
    "discs",
    "distal",
    "elbow",
    "elbows",
    "extremities",
    "extremity",
    "facet",
    "facets",
    "feet",
    "finger",
    "fingers",
    "foot",
    "forearm",
    "groin",
    "hand",
    "hands",
    "head",
    "heel",
    "hip",
    "hips",
    "index",
    "jaw",
    "joint",
    "joints",
    "knee",
    "knees",
    "l",
    "lateral",
    "left",
    "leg",
    "legs",
    "low",
    "lower",
    "lumbar",
    "lumbosacral",
    "medial",
    "mid",
    "middle",
    "muscle",
    "muscles",
    "neck",
    "nerve",
    "nerves",
    "paraspinal",
    "peripheral",
    "post",
    "posterior",
    "pre",
    "proximal",
    "r",
    "right",
    "sacroiliac",
    "shoulder",
    "shoulders",
    "spine",
    "tendon",
    "tendons",
    "thoracic",
    "thumb",
    "toe",
    "toes",
    "trapezius",
    "triceps",
    "upper",
    "wrist",
    "wrists",
];
const CONNECTIVES: &[&str] = &["a", "and", "in", "of", "on", "or", "the", "to"];

pub fn word_kind(lower: &str) -> WordKind {
    if PAIN.contains(&lower) {
        WordKind::Pain
    } else if QUALIFIERS.contains(&lower) {
        WordKind::Qualifier
    } else if PLACES.contains(&lower) {
        WordKind::Place
    } else if CONNECTIVES.contains(&lower) {
        WordKind::Connective
    } else {
        WordKind::Other
    }
}

const NUMBER_WORDS: &str = "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\
    thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|twenty-four|thirty|\
    forty|fifty|sixty";

/// Words that cannot sit between a count and its unit word: `12 sessions of physical therapy`
/// is `12 sessions`, and `3 times a week for 6 visits` is `6 visits`.
const NOT_BETWEEN: &[&str] = &[
    "a", "an", "and", "are", "at", "be", "been", "by", "each", "every", "for", "from", "had",
    "has", "have", "her", "his", "in", "is", "month", "months", "no", "not", "of", "on", "or",
    "over", "per", "than", "that", "the", "their", "these", "this", "those", "times", "to",
    "total", "was", "week", "weeks", "were", "which", "with", "x", "day", "days",
];

/// A count through its unit word: `12 sessions`, `twelve (12) physical therapy sessions`,
/// `8-10 visits`, `#6 sessions`, `3 to 6 treatments`, `8-visit`. Up to four words between.
static COUNT_THROUGH_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    let count = format!(
        r"(?:#\s*)?(?:\d{{1,3}}(?:\s*-\s*\d{{1,3}}|\s+to\s+\d{{1,3}})?|(?:{NUMBER_WORDS}))(?:\s*\(\d+\))?"
    );
    Regex::new(&format!(
        r"(?i){count}((?:\s+[A-Za-z][A-Za-z/-]*){{0,4}}?)\s*-?\s*(?:sessions?|visits?|treatments?|injections?)\b"
    ))
    .expect("static pattern")
});
/// `3 visits per week` is a frequency, not a quantity.
static FREQUENCY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s+(?:per|a|each)\s+(?:week|month|day)").expect("static pattern")
});
/// A count marker, with the unit of a dispensed amount: `#90`, `# 60`, `#60 grams`, `#1 box`.
static COUNT_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)#\s*\d+(?:\.\d+)?(?:\s*(?:grams|gm|g|box(?:es)?|tubes?|bottles?|containers?)\b)?",
    )
    .expect("static pattern")
});
/// `quantity 60`, `quantity of 60`, `qty: 60`.
static QUANTITY_OF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:quantity|qty)(?:\s+of|\s*:)?\s*\d+\b").expect("static pattern")
});
/// `times 6`, unless a count comes before (`1 times 8`, a frequency-by-duration code) or a
/// duration after (`times 2 weeks`).
static TIMES_N: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\btimes\s+\d+\b").expect("static pattern"));
static COUNT_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(?:\d|\b(?:{NUMBER_WORDS}))\s+$")).expect("static pattern")
});
static DURATION_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:weeks?|days?|months?)\b").expect("static pattern"));

/// The text before byte `at`, at most `n` bytes of it (on a char boundary).
fn before(text: &str, at: usize, n: usize) -> &str {
    let mut from = at.saturating_sub(n);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..at]
}

/// The `QUANTITY` spans of the forms above, in characters, in order, without overlaps.
pub fn quantity_spans(text: &str, chars: &CharIndex) -> Vec<(usize, usize)> {
    let mut found: Vec<(usize, usize)> = Vec::new();
    // Counts through their unit word. A match is refused when a word that cannot stand between
    // count and unit is between them, or when the count is part of a date, a fraction or a
    // decimal; the search then goes on from the next character, not past the match.
    let mut at = 0;
    while let Some(c) = COUNT_THROUGH_UNIT.captures_at(text, at) {
        let m = c.get(0).expect("whole match");
        let between = c.get(1).map_or("", |g| g.as_str());
        let glued = before(text, m.start(), 4)
            .chars()
            .last()
            .is_some_and(|ch| matches!(ch, '-' | '/' | '.' | '#') || ch.is_alphanumeric());
        let ok = !glued
            && !between
                .split_whitespace()
                .any(|w| NOT_BETWEEN.contains(&w.to_ascii_lowercase().as_str()))
            && !FREQUENCY_AFTER.is_match(&text[m.end()..]);
        if ok {
            found.push((m.start(), m.end()));
            at = m.end();
        } else {
            at = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let taken = |found: &[(usize, usize)], s: usize, e: usize| {
        found.iter().any(|&(fs, fe)| fs < e && s < fe)
    };
    for m in COUNT_MARKER.find_iter(text) {
        // `Tylenol #3` names a product.
        let product = before(text, m.start(), 8)
            .trim_end()
            .to_ascii_lowercase()
            .ends_with("tylenol");
        if !product && !taken(&found, m.start(), m.end()) {
            found.push((m.start(), m.end()));
        }
    }
    for m in QUANTITY_OF.find_iter(text) {
        if !taken(&found, m.start(), m.end()) {
            found.push((m.start(), m.end()));
        }
    }
    for m in TIMES_N.find_iter(text) {
        let frequency = COUNT_BEFORE.is_match(before(text, m.start(), 16))
            || DURATION_AFTER.is_match(&text[m.end()..]);
        if !frequency && !taken(&found, m.start(), m.end()) {
            found.push((m.start(), m.end()));
        }
    }
    found.sort_unstable();
    found
        .into_iter()
        .map(|(s, e)| (chars.to_char(s), chars.to_char(e)))
        .collect()
}

static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9']+").expect("static pattern"));

/// Every word of `text` that is not `Other`, as (start, end, kind) in characters, in order.
pub fn vague_words(text: &str, chars: &CharIndex) -> Vec<(usize, usize, WordKind)> {
    WORD.find_iter(text)
        .filter_map(|m| {
            let kind = word_kind(&m.as_str().to_ascii_lowercase());
            (kind != WordKind::Other)
                .then(|| (chars.to_char(m.start()), chars.to_char(m.end()), kind))
        })
        .collect()
}

/// Whether the words of `span` (all of them vague, given how many words it has) name no
/// condition: only pain and qualifiers, or only places, qualifiers and connectives.
fn names_no_condition(span: &EntitySpan, words: usize, vague: &[(usize, usize, WordKind)]) -> bool {
    let from = vague.partition_point(|w| w.0 < span.start);
    let inside: Vec<WordKind> = vague[from..]
        .iter()
        .take_while(|w| w.1 <= span.end)
        .map(|w| w.2)
        .collect();
    if inside.len() != words || words == 0 {
        return false;
    }
    let bare_pain = inside
        .iter()
        .all(|k| matches!(k, WordKind::Pain | WordKind::Qualifier));
    let place_only = inside.iter().all(|k| {
        matches!(
            k,
            WordKind::Place | WordKind::Qualifier | WordKind::Connective
        )
    });
    bare_pain || place_only
}

/// Whether `text[from..to]` only joins two parts of one condition: spaces, `,` `/` `&` `-`,
/// and words that are not `Other` (`and`, `of the`, `left`, `chronic`), at most 40 characters.
fn joins(text: &[char], from: usize, to: usize, vague: &[(usize, usize, WordKind)]) -> bool {
    if from > to || to - from > 40 || to > text.len() {
        return false;
    }
    let mut k = from;
    while k < to {
        let c = text[k];
        if c.is_whitespace() || matches!(c, ',' | '/' | '&' | '-') {
            k += 1;
        } else if c.is_ascii_alphanumeric() || c == '\'' {
            let i = vague.partition_point(|w| w.0 < k);
            match vague.get(i) {
                Some(&(s, e, _)) if s == k && e <= to => k = e,
                _ => return false,
            }
        } else {
            return false;
        }
    }
    true
}

/// Diagnosis fragments (a side, a body part, a qualifier or bare pain) joined to the diagnosis
/// next to them when only joining words lie between (`acute` + `carpal tunnel syndrome`,
/// `lumbar and` + `cervical muscle strain`, `pain in the` + `left shoulder`); the model splits
/// diagnoses this way more often than it adds words to them.
fn join_fragments(
    text: &[char],
    vague: &[(usize, usize, WordKind)],
    entities: Vec<(EntitySpan, f32)>,
) -> Vec<(EntitySpan, f32)> {
    let fragment = |e: &EntitySpan| names_no_condition(e, word_count(text, e), vague);
    let mut out: Vec<(EntitySpan, f32)> = Vec::with_capacity(entities.len());
    for (e, score) in entities {
        if let Some((last, last_score)) = out.last_mut() {
            let both_diagnoses = last.label == Label::Diagnosis && e.label == Label::Diagnosis;
            if both_diagnoses
                && (fragment(last) || fragment(&e))
                && joins(text, last.end, e.start, vague)
            {
                last.end = e.end;
                *last_score = last_score.min(score);
                continue;
            }
        }
        out.push((e, score));
    }
    out
}

/// The words of `text` in `span`.
fn word_count(text: &[char], span: &EntitySpan) -> usize {
    let mut n = 0;
    let mut inside = false;
    for &c in &text[span.start.min(text.len())..span.end.min(text.len())] {
        let w = c.is_ascii_alphanumeric() || c == '\'';
        if w && !inside {
            n += 1;
        }
        inside = w;
    }
    n
}

/// Salt and release words that belong to the drug name before them.
const DRUG_MODIFIERS: &[&str] = &[
    "citrate",
    "cr",
    "dr",
    "ds",
    "ec",
    "er",
    "hcl",
    "odt",
    "potassium",
    "sodium",
    "sr",
    "xl",
    "xr",
];

/// A span cut back to one sentence and to balanced brackets: no gold span of any label crosses
/// a sentence end (`abscess. The abscess`) or holds an unmatched bracket (`Mobic)`,
/// `injury (smashed`). False when nothing is left.
fn tidy(text: &[char], e: &mut EntitySpan) -> bool {
    let end = e.end.min(text.len());
    let mut cut = end;
    let mut open: Vec<usize> = Vec::new();
    for k in e.start..end {
        match text[k] {
            '.' | '?' | '!' => {
                let mut j = k + 1;
                while j < end && text[j].is_whitespace() {
                    j += 1;
                }
                if j > k + 1 && j < end && text[j].is_uppercase() {
                    cut = k;
                    break;
                }
            }
            '(' => open.push(k),
            ')' if open.pop().is_none() => {
                cut = k;
                break;
            }
            _ => {}
        }
    }
    if let Some(&first_unclosed) = open.first() {
        cut = cut.min(first_unclosed);
    }
    while cut > e.start
        && (text[cut - 1].is_whitespace() || matches!(text[cut - 1], ',' | ';' | ':' | '-' | '/'))
    {
        cut -= 1;
    }
    e.end = cut;
    e.end > e.start
}

/// A drug span without a trailing trademark sign and through the modifier words after it.
fn drug_edges(text: &[char], e: &mut EntitySpan) {
    while e.end > e.start + 1 && matches!(text.get(e.end - 1), Some('®' | '™')) {
        e.end -= 1;
    }
    loop {
        let mut k = e.end;
        while k < text.len() && k - e.end < 3 && text[k].is_whitespace() {
            k += 1;
        }
        let word_end = (k..text.len())
            .find(|&i| !text[i].is_ascii_alphabetic())
            .unwrap_or(text.len());
        let word: String = text[k..word_end].iter().collect();
        let whole = text.get(word_end).is_none_or(|c| !c.is_alphanumeric());
        if k > e.end && whole && DRUG_MODIFIERS.contains(&word.to_ascii_lowercase().as_str()) {
            e.end = word_end;
        } else {
            break;
        }
    }
}

/// Log-probability bonus for DRUG on the tokens of a drug-lexicon match (`B-DRUG` on its first,
/// `I-DRUG` on the rest), added before Viterbi: where the model hesitates over a name the
/// lexicon knows (`Fioricet`, `Naprosyn` in a sentence the letters never had), the name tips
/// it. Chosen on the cross-validation (README): 0.5 to 3 all help, 2 most (DRUG strict F1
/// 0.931 -> 0.937); the same bonus for the ICD-10-CM phrases lowered DIAGNOSIS, so there is
/// none.
pub const DRUG_LEXICON_PRIOR: f32 = 2.0;

/// `log_probs` (row-major `(tokens, NUM_TAGS)`) with `DRUG_LEXICON_PRIOR` added where the
/// token `features` mark a drug-lexicon match.
pub fn drug_lexicon_prior(log_probs: &[f32], features: &[f32]) -> Vec<f32> {
    use crate::features::{DRUG_LEXICON_B, DRUG_LEXICON_I, FEATURE_DIM};
    use crate::tokenize::NUM_TAGS;
    let b_drug = 1 + 2 * Label::Drug.index();
    let mut out = log_probs.to_vec();
    for (row, f) in out
        .chunks_exact_mut(NUM_TAGS)
        .zip(features.chunks_exact(FEATURE_DIM))
    {
        if f[DRUG_LEXICON_B] > 0.0 {
            row[b_drug] += DRUG_LEXICON_PRIOR;
        } else if f[DRUG_LEXICON_I] > 0.0 {
            row[b_drug + 1] += DRUG_LEXICON_PRIOR;
        }
    }
    out
}

/// What the rules need of one letter, computed when it is encoded.
#[derive(Debug, Clone, Default)]
pub struct RuleInputs {
    /// Guideline page citations (the feature pattern's matches), in characters.
    pub pages: Vec<(usize, usize)>,
    /// Quantities of the forms above (`quantity_spans`), in characters.
    pub quantities: Vec<(usize, usize)>,
    /// Words that are not `Other`, in order.
    pub vague: Vec<(usize, usize, WordKind)>,
}

impl RuleInputs {
    /// For a letter's text, given its page-citation matches (computed with the features).
    pub fn new(text: &str, chars: &CharIndex, pages: Vec<(usize, usize)>) -> Self {
        RuleInputs {
            pages,
            quantities: quantity_spans(text, chars),
            vague: vague_words(text, chars),
        }
    }
}

/// Applies the rules to decoded `(span, score)` entities of a letter with characters `text`.
/// Spans from the page and quantity forms get score 1 and replace the model's spans they
/// overlap.
pub fn apply(
    text: &[char],
    inputs: &RuleInputs,
    entities: Vec<(EntitySpan, f32)>,
) -> Vec<(EntitySpan, f32)> {
    let span = |label| move |&(start, end): &(usize, usize)| EntitySpan { start, end, label };
    let mut forms: Vec<EntitySpan> = inputs
        .pages
        .iter()
        .filter(|(s, e)| s < e)
        .map(span(Label::GuidelinePage))
        .collect();
    // A page citation wins over a quantity form where both match (`pages 7 and 8 visits` would
    // be odd, but the two must not overlap).
    forms.extend(
        inputs
            .quantities
            .iter()
            .filter(|(s, e)| s < e)
            .map(span(Label::Quantity))
            .filter(|q| !forms.iter().any(|p| p.span().overlaps(&q.span())))
            .collect::<Vec<_>>(),
    );
    let mut entities: Vec<(EntitySpan, f32)> = entities
        .into_iter()
        .filter(|(e, _)| !forms.iter().any(|p| p.span().overlaps(&e.span())))
        .filter_map(|(mut e, score)| tidy(text, &mut e).then_some((e, score)))
        .collect();
    entities.sort_by_key(|(e, _)| (e.start, e.end));
    let mut out: Vec<(EntitySpan, f32)> = join_fragments(text, &inputs.vague, entities)
        .into_iter()
        .filter(|(e, _)| {
            e.label != Label::Diagnosis
                || !names_no_condition(e, word_count(text, e), &inputs.vague)
        })
        .collect();
    for (e, _) in &mut out {
        if e.label == Label::Drug {
            drug_edges(text, e);
        }
    }
    out.extend(forms.into_iter().map(|p| (p, 1.0)));
    // A drug that now reaches over a span the model gave its modifier (`Venlafaxine` +
    // `HCL ER`) takes it: of overlapping spans the one that starts first, then the longer, stays.
    out.sort_by_key(|(e, _)| (e.start, std::cmp::Reverse(e.end)));
    let mut kept: Vec<(EntitySpan, f32)> = Vec::with_capacity(out.len());
    for (e, score) in out {
        if kept.last().is_none_or(|(k, _)| k.end <= e.start) {
            kept.push((e, score));
        }
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::pattern_matches;

    fn run(text: &str, spans: &[(usize, usize, Label)]) -> Vec<String> {
        let chars = CharIndex::new(text);
        let inputs = RuleInputs::new(text, &chars, pattern_matches(text, &chars).pages);
        let cs: Vec<char> = text.chars().collect();
        let entities = spans
            .iter()
            .map(|&(start, end, label)| (EntitySpan { start, end, label }, 0.9))
            .collect();
        apply(&cs, &inputs, entities)
            .into_iter()
            .map(|(e, _)| {
                format!(
                    "{:?} {}",
                    e.label,
                    cs[e.start..e.end].iter().collect::<String>()
                )
            })
            .collect()
    }

    #[test]
    fn drops_bare_pain_and_places_but_keeps_conditions() {
        let text = "chronic pain; left shoulder; low back pain; left; acute carpal tunnel syndrome";
        let find = |s: &str| {
            let b = text.find(s).unwrap();
            (b, b + s.len(), Label::Diagnosis)
        };
        let left = text.find("; left;").unwrap() + 2;
        let got = run(
            text,
            &[
                find("chronic pain"),
                find("left shoulder"),
                find("low back pain"),
                (left, left + 4, Label::Diagnosis),
                find("acute carpal tunnel syndrome"),
            ],
        );
        assert_eq!(
            got,
            vec![
                "Diagnosis low back pain",
                "Diagnosis acute carpal tunnel syndrome"
            ]
        );
    }

    #[test]
    fn spans_stay_in_one_sentence_and_keep_brackets_balanced() {
        let text = "left colon injury and abscess. The abscess; Meloxicam (Mobic) 7.5mg; \
                    thumb injury (smashed by a door)";
        let find = |s: &str, label| {
            let b = text.find(s).unwrap();
            (b, b + s.len(), label)
        };
        let got = run(
            text,
            &[
                find(
                    "left colon injury and abscess. The abscess",
                    Label::Diagnosis,
                ),
                find("Mobic)", Label::Drug),
                find("thumb injury (smashed", Label::Diagnosis),
            ],
        );
        assert_eq!(
            got,
            [
                "Diagnosis left colon injury and abscess",
                "Drug Mobic",
                "Diagnosis thumb injury",
            ]
        );
    }

    #[test]
    fn the_drug_lexicon_tips_only_drug_tags() {
        use crate::features::{DRUG_LEXICON_B, DRUG_LEXICON_I, FEATURE_DIM};
        use crate::tokenize::NUM_TAGS;
        let lp = vec![-1.0; 3 * NUM_TAGS];
        let mut f = vec![0.0; 3 * FEATURE_DIM];
        f[DRUG_LEXICON_B] = 1.0;
        f[FEATURE_DIM + DRUG_LEXICON_I] = 1.0;
        let out = drug_lexicon_prior(&lp, &f);
        let b = 1 + 2 * Label::Drug.index();
        let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != lp[i]).collect();
        assert_eq!(changed, [b, NUM_TAGS + b + 1]);
        assert_eq!(out[b], -1.0 + DRUG_LEXICON_PRIOR);
    }

    #[test]
    fn fragments_join_the_diagnosis_next_to_them() {
        let text = "acute carpal tunnel syndrome; lumbar and cervical muscle strain; \
                    pain in the left shoulder; neck pain, back spasm; right; tear";
        let find = |s: &str| {
            let b = text.find(s).unwrap();
            (b, b + s.len(), Label::Diagnosis)
        };
        let got = run(
            text,
            &[
                find("acute"),
                find("carpal tunnel syndrome"),
                find("lumbar"),
                find("cervical muscle strain"),
                find("pain in"),
                find("left shoulder"),
                find("neck pain"),
                find("back spasm"),
                find("right"),
                find("tear"),
            ],
        );
        assert_eq!(
            got,
            [
                "Diagnosis acute carpal tunnel syndrome",
                "Diagnosis lumbar and cervical muscle strain",
                "Diagnosis pain in the left shoulder",
                "Diagnosis neck pain",
                "Diagnosis back spasm",
                "Diagnosis tear",
            ]
        );
    }

    #[test]
    fn pages_and_counts_come_from_their_patterns() {
        let text = "Guidelines, Page(s): 74-96, and pg. 607. Norco #90";
        let got = run(
            text,
            &[(12, 19, Label::GuidelinePage), (41, 46, Label::Drug)],
        );
        assert_eq!(
            got,
            vec![
                "GuidelinePage Page(s): 74-96",
                "GuidelinePage pg. 607",
                "Drug Norco",
                "Quantity #90"
            ]
        );
    }

    #[test]
    fn drugs_keep_their_release_words_and_lose_trademark_signs() {
        let text = "Venlafaxine HCL ER 37.5mg, Voltaren® Gel, Tramadol\nER, Norco ERx";
        let at = |s: &str, n: usize| (text.find(s).unwrap(), text.find(s).unwrap() + n);
        let idx = CharIndex::new(text);
        let c = |(s, e): (usize, usize)| (idx.to_char(s), idx.to_char(e));
        let (v0, v1) = c(at("Venlafaxine", 11));
        let (h0, h1) = c(at("HCL ER", 6));
        let (t0, t1) = c(at("Voltaren®", "Voltaren®".len()));
        let (r0, r1) = c(at("Tramadol", 8));
        let (n0, n1) = c(at("Norco", 5));
        let got = run(
            text,
            &[
                (v0, v1, Label::Drug),
                (h0, h1, Label::Drug),
                (t0, t1, Label::Drug),
                (r0, r1, Label::Drug),
                (n0, n1, Label::Drug),
            ],
        );
        assert_eq!(
            got,
            [
                "Drug Venlafaxine HCL ER",
                "Drug Voltaren",
                "Drug Tramadol\nER",
                "Drug Norco"
            ]
        );
    }

    fn quantities(text: &str) -> Vec<&str> {
        let chars = CharIndex::new(text);
        quantity_spans(text, &chars)
            .into_iter()
            .map(|(s, e)| &text[chars.to_byte(s)..chars.to_byte(e)])
            .collect()
    }

    #[test]
    fn quantities_run_from_the_count_through_the_unit_word() {
        assert_eq!(
            quantities("12 additional PT sessions"),
            ["12 additional PT sessions"]
        );
        assert_eq!(quantities("up to 10 visits"), ["10 visits"]);
        assert_eq!(
            quantities("twelve (12) physical therapy sessions"),
            ["twelve (12) physical therapy sessions"]
        );
        assert_eq!(
            quantities("12 sessions of physical therapy"),
            ["12 sessions"]
        );
        assert_eq!(quantities("3 times a week for 6 visits"), ["6 visits"]);
        assert_eq!(quantities("8-10 visits over 4 weeks"), ["8-10 visits"]);
        assert_eq!(
            quantities("Norco 10/325mg #90, Lidoderm #1 box"),
            ["#90", "#1 box"]
        );
        assert_eq!(
            quantities("Tramadol 50mg with a quantity of 60"),
            ["quantity of 60"]
        );
        assert_eq!(
            quantities("Ice/Heat pads therapy times 6 is: Upheld"),
            ["times 6"]
        );
    }

    #[test]
    fn frequencies_dates_and_products_are_not_quantities() {
        assert!(quantities("up to 3 visits per week").is_empty());
        assert!(quantities("Spinal manipulation 1 times 8: Upheld").is_empty());
        assert!(quantities("two times a week times 2 weeks").is_empty());
        assert!(quantities("In the 11-03-2016 treatment note").is_empty());
        assert!(quantities("after 4/6 acupuncture treatment").is_empty());
        assert!(quantities("starting Tylenol #3 and").is_empty());
        assert!(quantities("the November 29, 2016 office visit").is_empty());
    }
}
