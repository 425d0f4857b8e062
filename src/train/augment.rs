//! Training letters with their gold mentions replaced (mention replacement): a drug by another
//! name of the drug lexicon, a diagnosis by an ICD-10-CM phrase, a strength or a count by
//! another of the forms `data/ANNOTATION.md` gives for its label, each in a case a letter may
//! write it in. Every later span is shifted by the change in length, so that each span's text
//! is its replacement. The network then meets thousands of names and forms that no training
//! letter has, instead of a list of them being written into rules.
//!
//! The same text is replaced the same way throughout a letter (a drug named five times stays
//! one drug). A variant whose items no longer parse as the original's (count or stated
//! decisions) is not used.

use std::collections::HashMap;

use rand::seq::IndexedRandom;
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::annotation::corpus::LabelledLetter;
use crate::annotation::{EntitySpan, Label};
use crate::encode::lexicon::Lexicon;
use crate::Letter;

/// The names mentions are replaced by: drug names and diagnosis phrases of the lexicon that
/// read like a letter's (words of letters, digits and hyphens; diagnoses that do not open
/// with `other` or `unspecified`, as ICD titles of residual classes do).
pub struct Replacements {
    drugs: Vec<String>,
    diagnoses: Vec<String>,
}

impl Replacements {
    pub fn from_lexicon(lexicon: &Lexicon) -> Self {
        let plain = |p: &str| {
            p.split(' ').all(|w| {
                w.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                    && w.chars().any(|c| c.is_ascii_alphabetic())
            })
        };
        let drugs = lexicon
            .drug_names()
            .into_iter()
            .filter(|d| plain(d) && d.split(' ').count() <= 2 && (4..=24).contains(&d.len()))
            .map(str::to_owned)
            .collect();
        let diagnoses = lexicon
            .diagnosis_phrases()
            .into_iter()
            .filter(|d| {
                plain(d)
                    && !d.starts_with("other ")
                    && !d.starts_with("unspecified ")
                    && d.len() <= 60
            })
            .map(str::to_owned)
            .collect();
        Replacements { drugs, diagnoses }
    }

    pub fn is_empty(&self) -> bool {
        self.drugs.is_empty() || self.diagnoses.is_empty()
    }
}

/// Writes `name` (lower-case) in the case of `like`: all capitals, capitalised, or as is.
fn in_case_of(name: &str, like: &str, rng: &mut ChaCha8Rng) -> String {
    let letters: Vec<char> = like.chars().filter(|c| c.is_alphabetic()).collect();
    let upper = letters.len() > 1 && letters.iter().all(|c| c.is_uppercase());
    let capital = letters.first().is_some_and(|c| c.is_uppercase());
    // Now and then another case than the original's: letters write names every way.
    match (upper, capital, rng.random_range(0..6)) {
        (_, _, 0) => name.to_uppercase(),
        (_, _, 1) => name.to_string(),
        (true, _, _) => name.to_uppercase(),
        (_, true, _) => capitalise(name),
        _ => name.to_string(),
    }
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// A number as letters write strengths and counts: whole, or with one or two decimals.
fn number(rng: &mut ChaCha8Rng, decimals: bool) -> String {
    const WHOLE: [u32; 16] = [
        1, 2, 4, 5, 10, 12, 20, 25, 30, 50, 60, 90, 100, 120, 240, 500,
    ];
    let n = *WHOLE.choose(rng).expect("non-empty");
    match (decimals, rng.random_range(0..4)) {
        (true, 0) => format!("{}.{}", rng.random_range(0..10), rng.random_range(1..10)),
        (true, 1) => format!("{n}.{:02}", rng.random_range(1..100)),
        _ => n.to_string(),
    }
}

/// Every run of digits in `text` given another number (a decimal now and then), so that the
/// form stays and the figures change: `#90` -> `#120`, `12 sessions` -> `8 sessions`.
fn renumber(text: &str, rng: &mut ChaCha8Rng) -> String {
    let mut out = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c.is_ascii_digit() {
            let mut run = String::from(c);
            while let Some(&d) = chars.peek() {
                if d.is_ascii_digit() || (d == '.' && !run.contains('.')) {
                    run.push(d);
                    chars.next();
                } else {
                    break;
                }
            }
            out.push_str(&number(rng, run.contains('.')));
        } else {
            out.push(c);
        }
    }
    out
}

/// A strength of one of ANNOTATION.md's forms (`10/325mg`, `7.5mg`, `5 mg`, `75mcg`, `20%`,
/// `300mg/g`, `5 mg/5 ml`, `20mg/ml`).
fn strength(rng: &mut ChaCha8Rng) -> String {
    let sp = if rng.random_bool(0.4) { " " } else { "" };
    let unit = *["mg", "mg", "mg", "mcg", "g", "MG"]
        .choose(rng)
        .expect("non-empty");
    let (a, b) = (number(rng, true), number(rng, false));
    match rng.random_range(0..7) {
        0 => format!("{a}/{b}{sp}{unit}"),
        1 => format!("{a}%"),
        2 => format!("{a}{sp}mg/{b}{sp}ml"),
        3 => format!("{a}{sp}mg/ml"),
        4 => format!("{a}{sp}mg/g"),
        _ => format!("{a}{sp}{unit}"),
    }
}

/// A count of one of ANNOTATION.md's forms (`#90`, `# 60`, `60 count`, `quantity 60`,
/// `30-tablet`, `12 sessions`, `x1`, `240gm`, `120 ml`, `2 braces`).
fn count(rng: &mut ChaCha8Rng) -> String {
    let n = number(rng, false);
    let unit = *[
        "tablets",
        "capsules",
        "sessions",
        "visits",
        "patches",
        "injections",
        "units",
    ]
    .choose(rng)
    .expect("non-empty");
    match rng.random_range(0..9) {
        0 | 1 => format!("#{n}"),
        2 => format!("# {n}"),
        3 => format!("{n} count"),
        4 => format!("quantity {n}"),
        5 => format!("x{n}"),
        6 => format!(
            "{}{}",
            number(rng, true),
            ["gm", "g", " ml", "ml"].choose(rng).expect("non-empty")
        ),
        7 => format!("{n}-{}", unit.trim_end_matches('s')),
        _ => format!("{n} {unit}"),
    }
}

/// What a mention of `label` with text `text` becomes.
fn replacement(label: Label, text: &str, with: &Replacements, rng: &mut ChaCha8Rng) -> String {
    match label {
        Label::Drug => in_case_of(with.drugs.choose(rng).expect("checked"), text, rng),
        Label::Diagnosis => in_case_of(with.diagnoses.choose(rng).expect("checked"), text, rng),
        Label::Dose if rng.random_bool(0.5) => renumber(text, rng),
        Label::Dose => strength(rng),
        Label::Quantity if rng.random_bool(0.5) => renumber(text, rng),
        Label::Quantity => count(rng),
        Label::GuidelinePage => text.to_string(),
    }
}

/// `l` with each distinct mention text of a drug, diagnosis, strength or count replaced with
/// probability `share` (`replacement`), every span shifted; None when nothing was replaced, the
/// spans overlap, or the new letter's items differ from the original's.
pub fn augment(
    l: &LabelledLetter,
    with: &Replacements,
    share: f64,
    rng: &mut ChaCha8Rng,
) -> Option<LabelledLetter> {
    if with.is_empty() {
        return None;
    }
    let chars: Vec<char> = l.letter.text.chars().collect();
    let mut spans = l.entities.clone();
    spans.sort_by_key(|e| (e.start, e.end));
    if spans.windows(2).any(|w| w[0].end > w[1].start) || spans.iter().any(|e| e.end > chars.len())
    {
        return None;
    }
    let mut chosen: HashMap<(Label, String), Option<String>> = HashMap::new();
    let mut text = String::with_capacity(l.letter.text.len());
    let mut entities = Vec::with_capacity(spans.len());
    let (mut at, mut len, mut replaced) = (0usize, 0usize, 0usize);
    for e in &spans {
        let before: String = chars[at..e.start].iter().collect();
        len += before.chars().count();
        text.push_str(&before);
        let original: String = chars[e.start..e.end].iter().collect();
        let key = (e.label, original.to_lowercase());
        let new = chosen
            .entry(key)
            .or_insert_with(|| {
                rng.random_bool(share)
                    .then(|| replacement(e.label, &original, with, rng))
            })
            .clone();
        let piece = match new {
            Some(n) if !n.is_empty() => {
                replaced += 1;
                n
            }
            _ => original,
        };
        let n = piece.chars().count();
        entities.push(EntitySpan {
            start: len,
            end: len + n,
            label: e.label,
        });
        text.push_str(&piece);
        len += n;
        at = e.end;
    }
    text.extend(&chars[at..]);
    if replaced == 0 {
        return None;
    }
    let letter = Letter::from_text(l.letter.path.clone(), text).ok()?;
    let same_items = letter.items.len() == l.letter.items.len()
        && letter
            .items
            .iter()
            .zip(&l.letter.items)
            .all(|(a, b)| a.stated_decision == b.stated_decision);
    same_items.then_some(LabelledLetter { letter, entities })
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn sample() -> LabelledLetter {
        let txt = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data/dwc-letters/CM17-0013716.txt");
        LabelledLetter::read(&txt).unwrap()
    }

    fn replacements() -> Replacements {
        let lex = Lexicon::from_entries(
            ["tramadol", "oxycodone hcl", "terocin", "x&y"],
            [
                "lumbar radiculopathy",
                "other disorders of bone",
                "carpal tunnel syndrome",
            ],
        );
        Replacements::from_lexicon(&lex)
    }

    #[test]
    fn every_span_is_its_replacement_and_nothing_overlaps() {
        let l = sample();
        let with = replacements();
        assert_eq!(with.drugs, ["oxycodone hcl", "terocin", "tramadol"]);
        assert_eq!(
            with.diagnoses,
            ["carpal tunnel syndrome", "lumbar radiculopathy"]
        );
        let mut changed = 0;
        for seed in 0..20 {
            let mut rng = ChaCha8Rng::seed_from_u64(seed);
            let Some(a) = augment(&l, &with, 0.5, &mut rng) else {
                continue;
            };
            changed += 1;
            assert_eq!(a.entities.len(), l.entities.len());
            let chars: Vec<char> = a.letter.text.chars().collect();
            for (new, old) in a.entities.iter().zip(&l.entities) {
                assert_eq!(new.label, old.label);
                assert!(new.start < new.end && new.end <= chars.len());
                let t: String = chars[new.start..new.end].iter().collect();
                let was = l.letter.slice(crate::letter::Span {
                    start: old.start,
                    end: old.end,
                });
                if t != was {
                    match new.label {
                        Label::Drug => {
                            assert!(with.drugs.contains(&t.to_lowercase()), "{t}")
                        }
                        Label::Diagnosis => {
                            assert!(with.diagnoses.contains(&t.to_lowercase()), "{t}")
                        }
                        Label::Dose | Label::Quantity => {
                            assert!(t.chars().any(|c| c.is_ascii_digit()), "{t}")
                        }
                        Label::GuidelinePage => panic!("a page citation changed: {t}"),
                    }
                }
            }
            assert!(a.entities.windows(2).all(|w| w[0].end <= w[1].start));
            assert_eq!(a.letter.items.len(), l.letter.items.len());
        }
        assert!(changed >= 15, "{changed} of 20 seeds gave a variant");
    }

    #[test]
    fn one_text_is_replaced_one_way_and_the_same_seed_gives_the_same_letter() {
        let l = sample();
        let with = replacements();
        let run = |seed| augment(&l, &with, 1.0, &mut ChaCha8Rng::seed_from_u64(seed)).unwrap();
        let a = run(3);
        assert_eq!(a.letter.text, run(3).letter.text);
        let mut seen: HashMap<String, String> = HashMap::new();
        for (new, old) in a.entities.iter().zip(&l.entities) {
            let was = l.letter.slice(crate::letter::Span {
                start: old.start,
                end: old.end,
            });
            let now = a.letter.slice(crate::letter::Span {
                start: new.start,
                end: new.end,
            });
            if new.label == Label::Drug {
                let prev = seen.entry(was.to_lowercase()).or_insert(now.to_lowercase());
                assert_eq!(*prev, now.to_lowercase(), "{was}");
            }
        }
    }
}
