//! The drug and number rules: drug classes, product numbers and release words, numbers kept
//! whole with their units, and the drug-lexicon prior before Viterbi.

use super::*;

/// Salt and release words that belong to the drug name before them.
pub(crate) static DRUG_MODIFIERS: Words = Words("DRUG_MODIFIERS");

pub(crate) static DOSE_UNITS: Words = Words("DOSE_UNITS");

/// A strength or count keeps its number whole and a strength its unit: no gold `DOSE` or
/// `QUANTITY` edge falls at a decimal point (`1` of `1.3%`), and every gold `DOSE` ends on its
/// unit, none right before one (`550` + ` mg`).
pub(crate) fn number_edges(text: &[char], e: &mut EntitySpan) {
    let digit = |k: usize| text.get(k).is_some_and(char::is_ascii_digit);
    while e.start >= 2 && text[e.start - 1] == '.' && digit(e.start - 2) && digit(e.start) {
        e.start -= 2;
        while e.start > 0 && digit(e.start - 1) {
            e.start -= 1;
        }
    }
    while text.get(e.end) == Some(&'.') && digit(e.end + 1) && digit(e.end - 1) {
        e.end += 2;
        while digit(e.end) {
            e.end += 1;
        }
    }
    if e.label != Label::Dose || !digit(e.end - 1) {
        return;
    }
    if text.get(e.end) == Some(&'%') {
        e.end += 1;
        return;
    }
    let gap = usize::from(text.get(e.end) == Some(&' '));
    let unit: String = text[(e.end + gap).min(text.len())..]
        .iter()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    if DOSE_UNITS.contains(&unit.to_ascii_lowercase().as_str()) {
        e.end += gap + unit.chars().count();
    }
}

/// Words of drug classes, which ANNOTATION.md does not tag as `DRUG` (`opioids`, `NSAIDs`,
/// `muscle relaxants`, `anticonvulsants`), singular and plural.
pub(crate) static DRUG_CLASS_WORDS: Words = Words("DRUG_CLASS_WORDS");

/// Whether `text[start..end]` names only a drug class (`Benzodiazepines`, `Muscle Relaxants`).
pub(crate) fn drug_class(text: &[char], start: usize, end: usize) -> bool {
    let words = span_tokens(text, start, end.min(text.len()));
    !words.is_empty()
        && words
            .iter()
            .all(|w| DRUG_CLASS_WORDS.contains(&w.2.as_str()) || w.2 == ",")
}

/// A drug span without a trailing trademark sign and through the modifier words after it.
pub(crate) fn drug_edges(text: &[char], e: &mut EntitySpan) {
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
    // `Tylenol #3`, `Tylenol No. 3`: the number names the product (with codeine), and the
    // quantity forms leave it alone.
    let name: String = text[e.start..e.end].iter().collect();
    if name.to_ascii_lowercase().ends_with("tylenol") {
        let rest: String = text[e.end..(e.end + 8).min(text.len())].iter().collect();
        if let Some(m) = PRODUCT_NUMBER.find(&rest) {
            e.end += rest[..m.end()].chars().count();
        }
    }
}

pub(crate) static PRODUCT_NUMBER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^ (?:#\s?|No\. ?)\d\b").expect("static pattern"));

/// Log-probability bonus for DRUG on the tokens of a drug-lexicon match (`B-DRUG` on its first,
/// `I-DRUG` on the rest), added before Viterbi: where the model hesitates over a name the
/// lexicon knows (`Fioricet`, `Naprosyn` in a sentence the letters never had), the name tips
/// it. Chosen on the cross-validation (docs/EXPERIMENTS.md): 0.5 to 3 all help, 2 most (DRUG strict F1
/// 0.931 -> 0.937); the same bonus for the ICD-10-CM phrases lowered DIAGNOSIS, so there is
/// none.
pub const DRUG_LEXICON_PRIOR: f32 = 2.0;

/// Adds `DRUG_LEXICON_PRIOR` to `log_probs` (row-major `(tokens, NUM_TAGS)`) where the token
/// `features` mark a drug-lexicon match: to B-DRUG on its first token, I-DRUG on the rest.
pub fn drug_lexicon_prior(log_probs: &mut [f32], features: &[FeatureBits], changed: &mut Changed) {
    use crate::annotation::tags::NUM_TAGS;
    use crate::encode::features::{has, DRUG_LEXICON_B, DRUG_LEXICON_I};
    let b_drug = 1 + 2 * Label::Drug.index();
    for (k, (row, &f)) in log_probs
        .chunks_exact_mut(NUM_TAGS)
        .zip(features)
        .enumerate()
    {
        let tag = if has(f, DRUG_LEXICON_B) {
            b_drug
        } else if has(f, DRUG_LEXICON_I) {
            b_drug + 1
        } else {
            continue;
        };
        changed.push((k * NUM_TAGS + tag, row[tag]));
        row[tag] += DRUG_LEXICON_PRIOR;
    }
}
