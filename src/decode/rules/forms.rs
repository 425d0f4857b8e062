//! The quantity forms: counts through their unit word, count markers, packages, and the
//! durations and frequency codes that are not quantities.

use super::*;

pub(crate) const NUMBER_WORDS: &str =
    "one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|\
    thirteen|fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|twenty-four|thirty|\
    forty|fifty|sixty";

/// Words that cannot sit between a count and its unit word: `12 sessions of physical therapy`
/// is `12 sessions`, and `3 times a week for 6 visits` is `6 visits`.
pub(crate) static NOT_BETWEEN: Words = Words("NOT_BETWEEN");

/// A count through its unit word: `12 sessions`, `twelve (12) physical therapy sessions`,
/// `8-10 visits`, `#6 sessions`, `3 to 6 treatments`, `8-visit`. Up to four words between.
pub(crate) static COUNT_THROUGH_UNIT: LazyLock<Regex> = LazyLock::new(|| {
    let count = format!(
        r"(?:#\s*)?(?:\d{{1,3}}(?:\s*-\s*\d{{1,3}}|\s+to\s+\d{{1,3}})?|(?:{NUMBER_WORDS}))(?:\s*\(\d+\))?"
    );
    Regex::new(&format!(
        r"(?i){count}((?:\s+[A-Za-z][A-Za-z/-]*){{0,4}}?)\s*-?\s*(?:sessions?|visits?|treatments?|injections?)\b"
    ))
    .expect("static pattern")
});
/// `3 visits per week` is a frequency, not a quantity.
pub(crate) static FREQUENCY_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s+(?:per|a|each)\s+(?:week|month|day)").expect("static pattern")
});
/// A count marker, with the unit of a dispensed amount: `#90`, `# 60`, `#60 grams`, `#1 box`.
pub(crate) static COUNT_MARKER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)#\s*\d+(?:\.\d+)?(?:\s*(?:grams|gm|g|box(?:es)?|tubes?|bottles?|containers?)\b)?",
    )
    .expect("static pattern")
});
/// A count of packages or units dispensed: `1 container`, `One box`, `5 capsules`,
/// `30-tablet`; not a dose to take (`one tablet twice daily`, `DOSING_AFTER`).
pub(crate) static COUNT_PACKAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)\b(?:\d{{1,3}}|{NUMBER_WORDS})(?:\s*\(\d+\))?\s*-?\s*(?:containers?|box(?:es)?|tubes?|bottles?|kits?|capsules?|tablets?)\b"
    ))
    .expect("static pattern")
});
pub(crate) static DOSING_AFTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s+(?:once|twice|three|four|daily|a\s+day|per\s+day|every|at\s+bedtime|as\s+needed|by\s+mouth|orally|po|bid|tid|qid|prn|q\d)\b",
    )
    .expect("static pattern")
});
/// `quantity 60`, `quantity of 60`, `qty: 60`.
pub(crate) static QUANTITY_OF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:quantity|qty)(?:\s+of|\s*:)?\s*\d+\b").expect("static pattern")
});
/// `times 6`, unless a count comes before (`1 times 8`, a frequency-by-duration code) or a
/// duration after (`times 2 weeks`).
pub(crate) static TIMES_N: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)\btimes\s+\d+\b").expect("static pattern"));
pub(crate) static COUNT_BEFORE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(r"(?i)(?:\d|\b(?:{NUMBER_WORDS}))\s+$")).expect("static pattern")
});
pub(crate) static DURATION_AFTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^\s*(?:weeks?|days?|months?)\b").expect("static pattern"));

/// A duration word right after a count, with a range between or not (` to eight weeks`,
/// ` hours`).
pub(crate) static DURATION_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(&format!(
        r"(?i)^\s*(?:(?:to|-)\s*(?:\d+|{NUMBER_WORDS})\s+)?(?:hours?|days?|weeks?|months?|years?)\b"
    ))
    .expect("static pattern")
});
pub(crate) static DURATION_END: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\b(?:hours?|days?|weeks?|months?|years?)$").expect("static pattern")
});

/// Whether the model's `QUANTITY` at `start..end` is a duration or a frequency code, which
/// ANNOTATION.md excludes: it ends on a duration word or one follows it (`eight weeks`, `six`
/// in `six to eight weeks`, `twelve` in `twelve hours`), or it is `times N` after a count
/// (`1 times 8`, the form `quantity_spans` refuses).
pub(crate) fn duration_or_frequency(text: &[char], start: usize, end: usize) -> bool {
    let end = end.min(text.len());
    let start = start.min(end);
    let inside: String = text[start..end].iter().collect();
    let after: String = text[end..(end + 24).min(text.len())].iter().collect();
    let before: String = text[start.saturating_sub(16)..start].iter().collect();
    let times = TIMES_N
        .find(&inside)
        .is_some_and(|m| m.start() == 0 && m.end() == inside.len())
        && COUNT_BEFORE.is_match(&before);
    DURATION_END.is_match(&inside) || DURATION_NEXT.is_match(&after) || times
}

/// The text before byte `at`, at most `n` bytes of it (on a char boundary).
pub(crate) fn before(text: &str, at: usize, n: usize) -> &str {
    let mut from = at.saturating_sub(n);
    while !text.is_char_boundary(from) {
        from += 1;
    }
    &text[from..at]
}

/// Whether the count at byte `at` is glued to what is before it (`-`, `/`, `.`, `#` or a letter
/// or digit): part of a date, a fraction, a decimal or a longer token.
pub(crate) fn glued_before(text: &str, at: usize) -> bool {
    before(text, at, 4)
        .chars()
        .last()
        .is_some_and(|ch| matches!(ch, '-' | '/' | '.' | '#') || ch.is_alphanumeric())
}

/// The `QUANTITY` spans of the forms above, in characters, in order, without overlaps.
pub fn quantity_spans(text: &str, chars: &CharIndex) -> Vec<(usize, usize)> {
    // Start -> end of the spans found so far, which never overlap: a new one overlaps one of
    // them only if the last that starts before its end reaches past its start.
    let mut found: std::collections::BTreeMap<usize, usize> = Default::default();
    // Counts through their unit word. A match is refused when a word that cannot stand between
    // count and unit is between them, or when the count is part of a date, a fraction or a
    // decimal; the search then goes on from the next character, not past the match.
    let mut at = 0;
    while let Some(c) = COUNT_THROUGH_UNIT.captures_at(text, at) {
        let m = c.get(0).expect("whole match");
        let between = c.get(1).map_or("", |g| g.as_str());
        let glued = glued_before(text, m.start());
        let ok = !glued
            && !between
                .split_whitespace()
                .any(|w| NOT_BETWEEN.contains(&w.to_ascii_lowercase().as_str()))
            && !FREQUENCY_AFTER.is_match(&text[m.end()..]);
        if ok {
            found.insert(m.start(), m.end());
            at = m.end();
        } else {
            at = m.start() + text[m.start()..].chars().next().map_or(1, char::len_utf8);
        }
    }
    let taken = |found: &std::collections::BTreeMap<usize, usize>, s: usize, e: usize| {
        found.range(..e).next_back().is_some_and(|(_, &fe)| fe > s)
    };
    for m in COUNT_MARKER.find_iter(text) {
        // `Tylenol #3` names a product.
        let product = before(text, m.start(), 8)
            .trim_end()
            .to_ascii_lowercase()
            .ends_with("tylenol");
        if !product && !taken(&found, m.start(), m.end()) {
            found.insert(m.start(), m.end());
        }
    }
    for m in QUANTITY_OF.find_iter(text) {
        if !taken(&found, m.start(), m.end()) {
            found.insert(m.start(), m.end());
        }
    }
    for m in COUNT_PACKAGE.find_iter(text) {
        let glued = glued_before(text, m.start());
        let dosing = DOSING_AFTER.is_match(&text[m.end()..]);
        if !glued && !dosing && !taken(&found, m.start(), m.end()) {
            found.insert(m.start(), m.end());
        }
    }
    for m in TIMES_N.find_iter(text) {
        let frequency = COUNT_BEFORE.is_match(before(text, m.start(), 16))
            || DURATION_AFTER.is_match(&text[m.end()..]);
        if !frequency && !taken(&found, m.start(), m.end()) {
            found.insert(m.start(), m.end());
        }
    }
    found
        .into_iter()
        .map(|(s, e)| (chars.to_char(s), chars.to_char(e)))
        .collect()
}
