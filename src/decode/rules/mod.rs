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
//!   and `times 6` (but not the frequency code `1 times 8`) are spans of their own, and so are
//!   counts of packages dispensed (`1 container`, `30-tablet`; not `one tablet twice daily`).
//!   The model keeps its quantity spans where no such form is found (`240gm`, `x1`, `60
//!   count`), unless they are durations or frequency codes (`six to eight weeks`, `1 times 8`);
//! - a `DOSE` or `QUANTITY` keeps its number whole (`1.3%`, not `1`) and a `DOSE` its unit
//!   (`550 mg`, not `550`): every gold `DOSE` ends on its unit;
//! - a drug name in the drug lexicon gets a bonus for `DRUG` before decoding
//!   (`DRUG_LEXICON_PRIOR`);
//! - no span crosses a sentence end or holds an unmatched bracket (none in the gold does);
//! - a drug class is not a `DRUG` (`Benzodiazepines`, `muscle relaxants`, `narcotic`);
//! - a `DRUG` keeps the number of `Tylenol #3`, and "a release modifier that is part of the
//!   name" (`Tramadol ER`, `Venlafaxine HCL ER`, `Pantoprazole sodium`: 28 gold spans have one,
//!   none leaves one out), and a trademark sign is not part of the name (`Voltaren®` is
//!   `Voltaren`);
//! - a `DIAGNOSIS` is a condition: bare `pain` with only severity or time words (`chronic pain`,
//!   `acute pain`), and a body part or side alone (`left`, `cervical`, `left shoulder`), are not
//!   ones. The model emits such spans mostly as fragments of a longer diagnosis it split: a
//!   fragment next to a diagnosis, with only joining words between, is joined to it
//!   (`acute` + `carpal tunnel syndrome`); one that stands alone is dropped;
//! - a `DIAGNOSIS` carries "the location, side, type and chronicity words attached to it": the
//!   places and `acute`/`chronic` right before it (`left foot` + `fracture`), a location phrase
//!   with `of` right after it (`fracture` + `of the fourth metacarpal`), and a word next to it
//!   that forms a diagnosis phrase of the lexicon with its edge word (`rotator` + `cuff tear`)
//!   are taken in, and so is a condition's head noun right after it (`radicular` + `pain`);
//!   two diagnoses joined by `with`/`without` as ICD-10-CM joins them are one (`low back
//!   pain with radiculopathy`);
//! - "complete conditions listed one after another are separate spans": a `DIAGNOSIS` that
//!   lists conditions with their own head nouns (`neck pain, shoulder pain and elbow pain`,
//!   `strain of neck and strain of lumbar paraspinal muscle`) is cut at the list separators,
//!   while conditions that share a head word stay one (`neck and low back pain`, `cervical
//!   sprain and strain`);
//! - "every mention counts": a `DRUG` or `DIAGNOSIS` the model is sure of is also tagged where
//!   its words stand again in the letter, outside guideline titles (`PROPAGATE_MIN_SCORE`);
//!   and pain at a named body part (`lumbar pain`, `pain of the lumbar spine`) is a
//!   `DIAGNOSIS` where the model tagged nothing.
//!
//! Measured against the gold of `data/` (test `rules_agree_with_the_gold`): no gold
//! `DIAGNOSIS` is bare pain or a place alone, and 6 of 1,656 leave location words outside;
//! the page pattern finds every gold `GUIDELINE_PAGE` exactly; the quantity forms find 496 of
//! the 515 gold `QUANTITY` spans exactly; no gold diagnosis is cut as a list; where no gold
//! span is, the rules add 10 spans (5 of them pains at a body part). The
//! rules were written with all of `data/` in view, so cross-validation cannot tell how they
//! carry over to unseen letters: docs/EXPERIMENTS.md reports the decodings with and without,
//! and every pass can be switched off by name to measure it on letters nobody read.

mod diagnosis;
mod drug;
mod forms;
mod mentions;

use super::phrases::{phrase_key, Phrases};
use diagnosis::*;
pub use diagnosis::{vague_words, word_kind, WordKind};
use drug::*;
pub use drug::{drug_lexicon_prior, DRUG_LEXICON_PRIOR};
pub use forms::quantity_spans;
use forms::*;
pub use mentions::PROPAGATE_MIN_SCORE;
use mentions::*;

use crate::words::Words;
use std::sync::LazyLock;

use regex::Regex;

use crate::annotation::{EntitySpan, Label};
use crate::decode::memory::Recalled;
use crate::encode::features::FeatureBits;
use crate::letter::CharIndex;

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

/// Function words that a diagnosis phrase of the lexicon may hold (`with`, `due to`) but that
/// do not begin or end a diagnosis in a letter.
static LINK_STOP: Words = Words("LINK_STOP");

/// What the rules need of one letter, computed when it is encoded.
#[derive(Debug, Clone, Default)]
pub struct RuleInputs {
    /// Guideline page citations (the feature pattern's matches), in characters.
    pub pages: Vec<(usize, usize)>,
    /// Quantities of the forms above (`quantity_spans`), in characters.
    pub quantities: Vec<(usize, usize)>,
    /// Words that are not `Other`, in order.
    pub vague: Vec<(usize, usize, WordKind)>,
    /// Two words next to each other, as in some diagnosis phrase of the lexicon
    /// (`Matches::diagnosis_links`), where either may be taken into a diagnosis that ends or
    /// begins at the other: neither is a function or severity word.
    pub links: Vec<[(usize, usize); 2]>,
    /// `with`/`without` and the word after it where the two stand so in some diagnosis phrase
    /// of the lexicon (`with radiculopathy`, `without myelopathy`; not `with numbness`), the
    /// word after not a function or severity word (`with mild`).
    pub with_links: Vec<[(usize, usize); 2]>,
}

impl RuleInputs {
    /// For an encoded letter.
    pub fn of(enc: &crate::encode::EncodedLetter) -> Self {
        let text = &enc.text;
        let chars = CharIndex::new(text);
        RuleInputs::new(text, &chars, enc.pages.clone(), enc.diagnosis_links.clone())
    }

    /// For a letter's text, given its page-citation matches (computed with the features) and
    /// its lexicon diagnosis links.
    pub fn new(
        text: &str,
        chars: &CharIndex,
        pages: Vec<(usize, usize)>,
        links: Vec<[(usize, usize); 2]>,
    ) -> Self {
        let vague = vague_words(text, chars);
        let kind_at = |(s, _): (usize, usize)| {
            let i = vague.partition_point(|w| w.0 < s);
            vague.get(i).filter(|w| w.0 == s).map(|w| w.2)
        };
        let word_at = |w: (usize, usize)| {
            chars
                .slice(text, crate::letter::Span::new(w.0, w.1))
                .to_ascii_lowercase()
        };
        let with_links = links
            .iter()
            .filter(|l| {
                matches!(word_at(l[0]).as_str(), "with" | "without")
                    && kind_at(l[1]).is_none()
                    && !LINK_STOP.contains(&word_at(l[1]).as_str())
            })
            .copied()
            .collect();
        let links = links
            .into_iter()
            .filter(|l| {
                l.iter().all(|&w| {
                    let word = chars
                        .slice(text, crate::letter::Span::new(w.0, w.1))
                        .to_ascii_lowercase();
                    let vague =
                        matches!(kind_at(w), Some(WordKind::Connective | WordKind::Qualifier));
                    (!vague || matches!(word.as_str(), "acute" | "chronic"))
                        && !LINK_STOP.contains(&word.as_str())
                })
            })
            .collect();
        RuleInputs {
            pages,
            quantities: quantity_spans(text, chars),
            vague,
            links,
            with_links,
        }
    }
}

/// Whether `start..end` overlaps one of `sorted`, disjoint ranges in order (the last one that
/// starts before `end` is the only one that can reach past `start`).
fn overlaps_sorted(sorted: &[(usize, usize)], start: usize, end: usize) -> bool {
    let i = sorted.partition_point(|r| r.0 < end);
    i > 0 && sorted[i - 1].1 > start
}

/// What every pass reads: the letter's characters, its rule inputs, and the mentions of the
/// model's remembered phrases in it (`Memory::find`).
pub struct Context<'a> {
    pub text: &'a [char],
    pub inputs: &'a RuleInputs,
    pub recalled: &'a [Recalled],
}

/// The spans as the passes hand them on: the model's decoded `(span, score)` entities, in
/// order, and the spans taken from the page and quantity forms, which join them (score 1) at
/// the `overlaps` step.
#[derive(Debug, Clone, Default)]
pub struct Spans {
    pub entities: Vec<(EntitySpan, f32)>,
    pub forms: Vec<(usize, usize, Label)>,
}

/// What a pass works on.
#[derive(Clone, Copy)]
pub enum Run {
    /// The tag log-probabilities (row-major `(tokens, NUM_TAGS)`) before Viterbi, given the
    /// token features: changes them in place, and pushes each changed entry's index and
    /// value before onto the list (`Changed`), so that the change can be undone exactly.
    Scores(fn(&mut [f32], &[FeatureBits], &mut Changed)),
    /// The decoded spans.
    Spans(fn(&Context, &mut Spans)),
}

/// One rule of the `rules` decoding: a name to switch it off by (`--rules-off`), what it
/// does in a line, and its function. `switchable: false` marks a step the others rely on.
#[derive(Clone, Copy)]
pub struct Pass {
    pub name: &'static str,
    pub doc: &'static str,
    pub run: Run,
    pub switchable: bool,
}

const fn pass(name: &'static str, doc: &'static str, run: Run) -> Pass {
    Pass {
        name,
        doc,
        run,
        switchable: true,
    }
}

/// The passes of the `rules` decoding, in the order they run. With every switchable pass off
/// the decoding is `full`'s.
pub const PASSES: [Pass; 17] = [
    pass(
        "drug-prior",
        "a drug-lexicon name gets a bonus for DRUG before Viterbi",
        Run::Scores(drug_lexicon_prior),
    ),
    pass(
        "page-forms",
        "guideline page citations are the page pattern's matches; model spans they overlap go",
        Run::Spans(page_forms),
    ),
    pass(
        "quantity-forms",
        "counts through their unit word, count markers and packages are QUANTITY spans; model spans they overlap go",
        Run::Spans(quantity_forms),
    ),
    pass(
        "durations",
        "a model QUANTITY that is a duration or a frequency code is dropped",
        Run::Spans(durations),
    ),
    pass(
        "drug-classes",
        "a drug class (benzodiazepines, muscle relaxants) is not a DRUG",
        Run::Spans(drug_classes),
    ),
    pass(
        "sentences",
        "a span is cut back to one sentence and balanced brackets",
        Run::Spans(sentences),
    ),
    pass(
        "join-fragments",
        "a fragment next to a diagnosis, with only joining words between, joins it",
        Run::Spans(|cx, s| s.entities = join_fragments(cx.text, &cx.inputs.vague, take(s))),
    ),
    pass(
        "attach-places",
        "a diagnosis takes in the location, side and chronicity words next to it",
        Run::Spans(|cx, s| s.entities = attach_places(cx.text, &cx.inputs.links, take(s))),
    ),
    pass(
        "join-with",
        "two diagnoses joined by with/without as ICD-10-CM joins them are one",
        Run::Spans(|cx, s| s.entities = join_with(cx.text, &cx.inputs.with_links, take(s))),
    ),
    pass(
        "split-lists",
        "a diagnosis listing complete conditions is cut at the list separators",
        Run::Spans(|cx, s| s.entities = split_lists(cx.text, take(s))),
    ),
    pass(
        "no-condition",
        "a DIAGNOSIS that is bare pain or a side or body part alone is dropped",
        Run::Spans(no_condition),
    ),
    pass(
        "drug-edges",
        "a DRUG keeps its product number and release words and loses a trademark sign",
        Run::Spans(|cx, s| edit(s, Label::Drug, |e| drug_edges(cx.text, e))),
    ),
    pass(
        "number-edges",
        "a DOSE or QUANTITY keeps its number whole and a DOSE its unit",
        Run::Spans(|cx, s| {
            edit(s, Label::Dose, |e| number_edges(cx.text, e));
            edit(s, Label::Quantity, |e| number_edges(cx.text, e));
        }),
    ),
    Pass {
        name: "overlaps",
        doc: "the form spans join the others; of overlapping spans the one that starts first, then the longer, stays",
        run: Run::Spans(overlaps),
        switchable: false,
    },
    pass(
        "propagate",
        "a drug or diagnosis the model is sure of is tagged at its other mentions too",
        Run::Spans(|cx, s| s.entities = propagate(cx.text, take(s))),
    ),
    pass(
        "place-pain",
        "pain at a named body part is a DIAGNOSIS where the model tagged nothing",
        Run::Spans(|cx, s| s.entities = place_pain(cx.text, &cx.inputs.vague, take(s))),
    ),
    pass(
        "memory",
        "the phrases the training letters' gold tags are tagged where the model missed them",
        Run::Spans(|cx, s| {
            s.entities = remember(cx.text, &cx.inputs.vague, cx.recalled, take(s))
        }),
    ),
];

/// Which passes are switched off (`--rules-off NAME,...`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RulesOff(std::collections::BTreeSet<&'static str>);

impl RulesOff {
    /// Every switchable pass off: the `rules` decoding is then `full`'s.
    pub fn all() -> Self {
        RulesOff(
            PASSES
                .iter()
                .filter(|p| p.switchable)
                .map(|p| p.name)
                .collect(),
        )
    }

    /// The passes named, comma-separated; an unknown or fixed name is an error listing the
    /// names there are.
    pub fn parse(names: &str) -> std::result::Result<Self, String> {
        let mut off = RulesOff::default();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            match PASSES.iter().find(|p| p.name == name) {
                Some(p) if p.switchable => {
                    off.0.insert(p.name);
                }
                Some(p) => return Err(format!("the {} step cannot be switched off", p.name)),
                None => {
                    return Err(format!(
                        "no rule named {name:?}; the rules are {}",
                        names_list()
                    ))
                }
            }
        }
        Ok(off)
    }

    /// `pass` alone off (nothing, for a step that cannot be switched off).
    pub fn one(pass: &Pass) -> Self {
        RulesOff(pass.switchable.then_some(pass.name).into_iter().collect())
    }

    pub fn is_off(&self, pass: &Pass) -> bool {
        self.0.contains(pass.name)
    }

    /// The passes that run, in order.
    pub fn running(&self) -> impl Iterator<Item = &'static Pass> + '_ {
        PASSES.iter().filter(|p| !self.is_off(p))
    }
}

/// The switchable passes' names, comma-separated, for messages and `--help`.
pub fn names_list() -> String {
    PASSES
        .iter()
        .filter(|p| p.switchable)
        .map(|p| p.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Entries of a letter's tag log-probabilities changed by score passes: `(index, value
/// before)`, in the order of the changes.
pub type Changed = Vec<(usize, f32)>;

/// Applies the score passes that run (the drug prior) to `log_probs` in place: a letter's
/// scores are not copied (22 MB for a 2.2 MB letter), and `undo_scores` puts them back
/// exactly, bit for bit, for the confidences that read the model's own.
pub fn apply_to_scores(off: &RulesOff, log_probs: &mut [f32], features: &[FeatureBits]) -> Changed {
    let mut changed = Changed::new();
    for p in off.running() {
        if let Run::Scores(f) = p.run {
            f(log_probs, features, &mut changed);
        }
    }
    changed
}

/// Undoes `apply_to_scores`.
pub fn undo_scores(log_probs: &mut [f32], changed: Changed) {
    for (i, before) in changed.into_iter().rev() {
        log_probs[i] = before;
    }
}

/// Applies the span passes that run, in order, to decoded `(span, score)` entities of a letter
/// with characters `text`. Spans from the page and quantity forms get score 1 and replace the
/// model's spans they overlap. `recalled`: the mentions of the model's remembered phrases in
/// `text` (`Memory::find`), for `memory`.
pub fn apply(
    text: &[char],
    inputs: &RuleInputs,
    recalled: &[Recalled],
    entities: Vec<(EntitySpan, f32)>,
    off: &RulesOff,
) -> Vec<(EntitySpan, f32)> {
    let cx = Context {
        text,
        inputs,
        recalled,
    };
    let mut spans = Spans {
        entities,
        forms: Vec::new(),
    };
    for p in off.running() {
        if let Run::Spans(f) = p.run {
            f(&cx, &mut spans);
        }
    }
    spans.entities
}

fn take(s: &mut Spans) -> Vec<(EntitySpan, f32)> {
    std::mem::take(&mut s.entities)
}

/// Edits every entity of `label` in place.
fn edit(s: &mut Spans, label: Label, mut f: impl FnMut(&mut EntitySpan)) {
    for (e, _) in &mut s.entities {
        if e.label == label {
            f(e);
        }
    }
}

/// `spans` without the empty ones, in order.
fn nonempty(spans: &[(usize, usize)]) -> Vec<(usize, usize)> {
    let mut v: Vec<(usize, usize)> = spans.iter().copied().filter(|(s, e)| s < e).collect();
    v.sort_unstable();
    v
}

/// Takes the form spans of `label` that overlap no form taken before, and drops the model's
/// spans they overlap.
fn take_forms(s: &mut Spans, found: &[(usize, usize)], label: Label) {
    let mut taken: Vec<(usize, usize)> = s.forms.iter().map(|f| (f.0, f.1)).collect();
    taken.sort_unstable();
    let new: Vec<(usize, usize)> = nonempty(found)
        .into_iter()
        .filter(|&(a, b)| !overlaps_sorted(&taken, a, b))
        .collect();
    s.entities
        .retain(|(e, _)| !overlaps_sorted(&new, e.start, e.end));
    s.forms.extend(new.into_iter().map(|(a, b)| (a, b, label)));
}

fn page_forms(cx: &Context, s: &mut Spans) {
    take_forms(s, &cx.inputs.pages, Label::GuidelinePage);
}

/// A page citation wins over a quantity form where both match (`page-forms` runs first).
fn quantity_forms(cx: &Context, s: &mut Spans) {
    take_forms(s, &cx.inputs.quantities, Label::Quantity);
}

fn durations(cx: &Context, s: &mut Spans) {
    s.entities.retain(|(e, _)| {
        e.label != Label::Quantity || !duration_or_frequency(cx.text, e.start, e.end)
    });
}

fn drug_classes(cx: &Context, s: &mut Spans) {
    s.entities
        .retain(|(e, _)| e.label != Label::Drug || !drug_class(cx.text, e.start, e.end));
}

/// `tidy` on every span; the spans are in order again after it.
fn sentences(cx: &Context, s: &mut Spans) {
    s.entities.retain_mut(|(e, _)| tidy(cx.text, e));
    s.entities.sort_by_key(|(e, _)| (e.start, e.end));
}

fn no_condition(cx: &Context, s: &mut Spans) {
    s.entities.retain(|(e, _)| {
        e.label != Label::Diagnosis
            || !names_no_condition(e, word_count(cx.text, e), &cx.inputs.vague)
    });
}

/// The form spans join the model's (score 1); of overlapping spans the one that starts first,
/// then the longer, stays. A drug that now reaches over a span the model gave its modifier
/// (`Venlafaxine` + `HCL ER`) takes it.
fn overlaps(_: &Context, s: &mut Spans) {
    let mut forms = std::mem::take(&mut s.forms);
    forms.sort_unstable_by_key(|f| f.0);
    let mut out = take(s);
    out.extend(
        forms
            .into_iter()
            .map(|(start, end, label)| (EntitySpan { start, end, label }, 1.0)),
    );
    out.sort_by_key(|(e, _)| (e.start, std::cmp::Reverse(e.end)));
    let mut kept: Vec<(EntitySpan, f32)> = Vec::with_capacity(out.len());
    for (e, score) in out {
        if kept.last().is_none_or(|(k, _)| k.end <= e.start) {
            kept.push((e, score));
        }
    }
    s.entities = kept;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encode::features::pattern_matches;

    /// The first occurrence of `s` in `text` as a diagnosis span (`text` is ASCII).
    fn diagnosis_at(text: &str, s: &str) -> (usize, usize, Label) {
        let b = text.find(s).unwrap();
        (b, b + s.len(), Label::Diagnosis)
    }

    fn run(text: &str, spans: &[(usize, usize, Label)]) -> Vec<String> {
        run_with(text, &[], spans)
    }

    /// `run` with a diagnosis lexicon of `phrases`.
    fn run_with(text: &str, phrases: &[&str], spans: &[(usize, usize, Label)]) -> Vec<String> {
        rules_on(
            text,
            phrases,
            &crate::decode::memory::Memory::default(),
            spans,
        )
        .into_iter()
        .map(|(e, _)| e)
        .collect()
    }

    /// The rules on `spans` (score 0.9) with a diagnosis lexicon of `phrases` and `memory`:
    /// `Label text` and each entity's score.
    fn rules_on(
        text: &str,
        phrases: &[&str],
        memory: &crate::decode::memory::Memory,
        spans: &[(usize, usize, Label)],
    ) -> Vec<(String, f32)> {
        rules_with(text, phrases, memory, spans, &RulesOff::default())
    }

    fn rules_with(
        text: &str,
        phrases: &[&str],
        memory: &crate::decode::memory::Memory,
        spans: &[(usize, usize, Label)],
        off: &RulesOff,
    ) -> Vec<(String, f32)> {
        let chars = CharIndex::new(text);
        let lexicon = crate::encode::lexicon::Lexicon::from_entries([], phrases.iter().copied());
        let inputs = RuleInputs::new(
            text,
            &chars,
            pattern_matches(text, &chars).pages,
            lexicon.find(text, &chars).diagnosis_links,
        );
        let cs: Vec<char> = text.chars().collect();
        let entities = spans
            .iter()
            .map(|&(start, end, label)| (EntitySpan { start, end, label }, 0.9))
            .collect();
        apply(&cs, &inputs, &memory.find(&cs), entities, off)
            .into_iter()
            .map(|(e, p)| {
                let words: String = cs[e.start..e.end].iter().collect();
                (format!("{:?} {words}", e.label), p)
            })
            .collect()
    }

    /// `run` with the first occurrence of each of `phrases` as a model span of `label`.
    fn run_labelled(text: &str, label: Label, phrases: &[&str]) -> Vec<String> {
        let spans: Vec<_> = phrases
            .iter()
            .map(|p| {
                let b = text.find(p).unwrap();
                (b, b + p.len(), label)
            })
            .collect();
        run(text, &spans)
    }

    fn run_diagnoses(text: &str, phrases: &[&str]) -> Vec<String> {
        run_labelled(text, Label::Diagnosis, phrases)
    }

    /// `rules_on` with a memory of `remembered` phrases, each tagged in two of three
    /// mentions, and no lexicon: `Label text score`.
    fn run_remembering(
        text: &str,
        remembered: &[(&str, Label)],
        spans: &[(usize, usize, Label)],
    ) -> Vec<String> {
        // A gold letter mentioning each phrase three times and tagging the first two.
        let mut gold_text = String::new();
        let mut gold = Vec::new();
        for &(phrase, label) in remembered {
            for tagged in [true, true, false] {
                let start = gold_text.chars().count();
                gold_text.push_str(phrase);
                if tagged {
                    let end = gold_text.chars().count();
                    gold.push(EntitySpan { start, end, label });
                }
                gold_text.push_str(". ");
            }
        }
        let memory = crate::decode::memory::Memory::from_gold(&[(&gold_text, &gold)]);
        rules_on(text, &[], &memory, spans)
            .into_iter()
            .map(|(e, p)| format!("{e} {p:.2}"))
            .collect()
    }

    #[test]
    fn remembered_phrases_widen_join_and_fill_in() {
        let text = "neck pain; numbness and tingling in the arms; myalgias and myositis; \
                    addiction to Percocet. CTS test. Norco for addiction. Chronic pain; the left \
                    shoulder.";
        let find = |s: &str, label| {
            let b = text.find(s).unwrap();
            (b, b + s.len(), label)
        };
        let remembered = [
            ("numbness and tingling in the arms", Label::Diagnosis),
            ("myalgias and myositis", Label::Diagnosis),
            ("addiction", Label::Diagnosis),
            ("CTS", Label::Diagnosis),
            ("percocet", Label::Drug),
            // Never overrides a span of another label, nor takes in part of a neighbour.
            ("Norco for addiction", Label::Diagnosis),
            ("pain; numbness", Label::Diagnosis),
            // A gold that tagged bare pain or a body part alone does not make them diagnoses.
            ("chronic pain", Label::Diagnosis),
            ("left shoulder", Label::Diagnosis),
        ];
        let got = run_remembering(
            text,
            &remembered,
            &[
                find("neck pain", Label::Diagnosis),
                find("numbness", Label::Diagnosis),
                find("tingling in the arms", Label::Diagnosis),
                find("myalgias", Label::Diagnosis),
                find("Norco", Label::Drug),
            ],
        );
        assert_eq!(
            got,
            [
                "Diagnosis neck pain 0.90",
                "Diagnosis numbness and tingling in the arms 0.90",
                "Diagnosis myalgias and myositis 0.90",
                // Its memory's letter also mentions it in `Norco for addiction`: 2 of 6.
                "Diagnosis addiction 0.33",
                "Drug Percocet 0.67",
                // `CTS test` names a test.
                "Drug Norco 0.90",
                "Diagnosis addiction 0.33",
            ]
        );
        // Nothing remembered, nothing changes.
        assert_eq!(
            run_remembering(
                text,
                &[],
                &[
                    find("neck pain", Label::Diagnosis),
                    find("numbness", Label::Diagnosis)
                ]
            ),
            ["Diagnosis neck pain 0.90", "Diagnosis numbness 0.90"]
        );
    }

    #[test]
    fn listed_conditions_are_cut_apart_and_shared_heads_stay_whole() {
        let text = "neck pain, shoulder pain and elbow pain. strain of neck and strain of \
                    lumbar paraspinal muscle. impingement syndrome right shoulder, unspecified \
                    sprain. neck and low back pain. cervical sprain and strain. shoulder strain \
                    and sprain with impingement. pain, unspecified. myalgia and myositis.";
        let got = run_diagnoses(
            text,
            &[
                "neck pain, shoulder pain and elbow pain",
                "strain of neck and strain of lumbar paraspinal muscle",
                "impingement syndrome right shoulder, unspecified sprain",
                "neck and low back pain",
                "cervical sprain and strain",
                "shoulder strain and sprain with impingement",
                "pain, unspecified",
                "myalgia and myositis",
            ],
        );
        assert_eq!(
            got,
            vec![
                "Diagnosis neck pain",
                "Diagnosis shoulder pain",
                "Diagnosis elbow pain",
                "Diagnosis strain of neck",
                "Diagnosis strain of lumbar paraspinal muscle",
                "Diagnosis impingement syndrome right shoulder",
                "Diagnosis unspecified sprain",
                "Diagnosis neck and low back pain",
                "Diagnosis cervical sprain and strain",
                "Diagnosis shoulder strain and sprain with impingement",
                "Diagnosis pain, unspecified",
                "Diagnosis myalgia and myositis",
            ]
        );
    }

    #[test]
    fn a_diagnosis_takes_in_the_head_noun_after_it() {
        let text = "radicular pain; cervical nerve root irritation; ACOEM Low Back Disorders \
                    Chapter; spasm, pain";
        let got = run_diagnoses(
            text,
            &["radicular", "cervical nerve root", "Low Back", "spasm"],
        );
        // `Low Back` alone is a place, not a condition, and is dropped.
        assert_eq!(
            got,
            vec![
                "Diagnosis radicular pain",
                "Diagnosis cervical nerve root irritation",
                "Diagnosis spasm",
            ]
        );
    }

    #[test]
    fn model_quantities_that_are_durations_or_frequency_codes_are_dropped() {
        let text = "PT for six to eight weeks; patch for twelve hours; manipulation 1 times 8; \
                    eight weeks of therapy; 6 sessions; 240gm";
        let got = run_labelled(
            text,
            Label::Quantity,
            &[
                "six",
                "twelve",
                "times 8",
                "eight weeks",
                "6 sessions",
                "240gm",
            ],
        );
        assert_eq!(got, vec!["Quantity 6 sessions", "Quantity 240gm"]);
    }

    #[test]
    fn drug_classes_are_not_drugs() {
        let text = "Section(s): Benzodiazepines. Muscle Relaxants such as Flexeril; narcotic \
                    analgesics";
        let got = run_labelled(
            text,
            Label::Drug,
            &[
                "Benzodiazepines",
                "Muscle Relaxants",
                "Flexeril",
                "narcotic",
            ],
        );
        assert_eq!(got, vec!["Drug Flexeril"]);
    }

    #[test]
    fn counts_of_packages_are_quantities_and_doses_to_take_are_not() {
        let text = "One container of cream; 5 capsules only; a 30-tablet supply; one tablet \
                    twice daily; Norco 10/325mg #90";
        assert_eq!(
            run(text, &[]),
            vec![
                "Quantity One container",
                "Quantity 5 capsules",
                "Quantity 30-tablet",
                "Quantity #90"
            ]
        );
    }

    #[test]
    fn doses_keep_their_number_whole_and_their_unit() {
        let text = "Flector 1.3% patch; Naproxen 550 mg twice; Norco 7.5/325mg; Lidoderm 5%";
        let got = run_labelled(text, Label::Dose, &["1", "550", "5/325mg", "5%"]);
        assert_eq!(
            got,
            vec!["Dose 1.3%", "Dose 550 mg", "Dose 7.5/325mg", "Dose 5%"]
        );
    }

    #[test]
    fn tylenol_keeps_its_product_number() {
        let text = "starting Tylenol #3 and Tylenol No. 3; Tylenol 500mg";
        let drug = |from: usize| {
            let b = from + text[from..].find("Tylenol").unwrap();
            (b, b + "Tylenol".len(), Label::Drug)
        };
        let q = text.find("#3").unwrap();
        let got = run(
            text,
            &[drug(0), (q, q + 2, Label::Quantity), drug(20), drug(32)],
        );
        assert_eq!(
            got,
            vec!["Drug Tylenol #3", "Drug Tylenol No. 3", "Drug Tylenol"]
        );
    }

    #[test]
    fn pain_at_a_body_part_is_a_diagnosis_where_the_model_found_none() {
        let text = "He has lumbar pain. Pain of the lower back. He complained of pain to the \
                    left shoulder. Left pain. Radicular pain in the right buttock. The pain \
                    was 5/10. His back.\nPain was rated 5. Her neck pain persists. ODG Low \
                    Back Pain Chapter.";
        let got = run(text, &[diagnosis_at(text, "neck pain")]);
        assert_eq!(
            got,
            vec![
                "Diagnosis lumbar pain",
                "Diagnosis Pain of the lower back",
                "Diagnosis pain to the left shoulder",
                "Diagnosis neck pain",
            ]
        );
    }

    #[test]
    fn diagnoses_take_in_the_location_words_next_to_them() {
        let text = "a fracture of the fourth metacarpal bone. He had left foot fracture; \
                    weakness of the bilateral upper extremity, left greater than right; \
                    status post crush injury. Left. Spasm of the neck; chronic\nradiculopathy \
                    of lumbar region; fracture of healing";
        let got = run_diagnoses(
            text,
            &[
                "fracture",
                "fracture;",
                "weakness",
                "crush injury",
                "Spasm",
                "neck",
                "radiculopathy",
                "fracture of healing",
            ],
        );
        assert_eq!(
            got,
            vec![
                "Diagnosis fracture of the fourth metacarpal bone",
                "Diagnosis left foot fracture",
                "Diagnosis weakness of the bilateral upper extremity",
                "Diagnosis crush injury",
                // `neck` is the model's own fragment: joined, not reached over.
                "Diagnosis Spasm of the neck",
                "Diagnosis chronic\nradiculopathy of lumbar region",
                "Diagnosis fracture of healing",
            ]
        );
    }

    #[test]
    fn diagnoses_take_in_words_of_a_lexicon_phrase_next_to_them() {
        let text = "full thickness rotator cuff tear with pain; the cuff tear";
        let second = text.rfind("cuff tear").unwrap();
        let got = run_with(
            text,
            &["rotator cuff tear", "tear with pain"],
            &[
                diagnosis_at(text, "cuff tear"),
                (second, second + "cuff tear".len(), Label::Diagnosis),
            ],
        );
        // `rotator` joins (`rotator cuff`), `with` does not (a function word), `the` neither.
        assert_eq!(got, ["Diagnosis rotator cuff tear", "Diagnosis cuff tear"]);
    }

    #[test]
    fn diagnoses_joined_by_with_as_in_the_lexicon_are_one() {
        let text = "low back pain with radiculopathy; hand pain with numbness; arm pain with \
                    weakness";
        // `with radiculopathy` is in two phrases, `with weakness` in one only.
        let lexicon = [
            "neck pain with radiculopathy",
            "disc disorder with radiculopathy",
            "conversion disorder with weakness",
        ];
        let spans = [
            "low back pain",
            "radiculopathy",
            "hand pain",
            "numbness",
            "arm pain",
            "weakness",
        ]
        .map(|p| diagnosis_at(text, p));
        assert_eq!(
            run_with(text, &lexicon, &spans),
            [
                "Diagnosis low back pain with radiculopathy",
                "Diagnosis hand pain",
                "Diagnosis numbness",
                "Diagnosis arm pain",
                "Diagnosis weakness"
            ]
        );
    }

    #[test]
    fn sure_entities_are_copied_to_their_other_mentions() {
        let text = "Fexmid 7.5mg: Upheld. The request for fexmid is not necessary. \
                    Official Disability Guidelines, Carpal Tunnel Syndrome Chapter. \
                    He has carpal tunnel syndrome; carpal tunnel\nsyndrome; Flexeril; flexeril; \
                    positive carpal tunnel syndrome test.";
        let find = |s: &str, label, score| {
            let b = text.find(s).unwrap();
            (
                EntitySpan {
                    start: b,
                    end: b + s.len(),
                    label,
                },
                score,
            )
        };
        let cs: Vec<char> = text.chars().collect();
        let inputs = RuleInputs::default();
        let entities = vec![
            find("Fexmid", Label::Drug, 0.95),
            find("carpal tunnel syndrome;", Label::Diagnosis, 0.92),
            find("Flexeril", Label::Drug, 0.6),
        ];
        let entities = entities
            .into_iter()
            .map(|(mut e, s)| {
                if e.label == Label::Diagnosis {
                    e.end -= 1;
                }
                (e, s)
            })
            .collect();
        let got: Vec<String> = apply(&cs, &inputs, &[], entities, &RulesOff::default())
            .into_iter()
            .map(|(e, s)| {
                format!(
                    "{:?} {} {s}",
                    e.label,
                    cs[e.start..e.end].iter().collect::<String>()
                )
            })
            .collect();
        // Not into the chapter title, not before `test`, and not from an unsure `Flexeril`.
        assert_eq!(
            got,
            [
                "Drug Fexmid 0.95",
                "Drug fexmid 0.95",
                "Diagnosis carpal tunnel syndrome 0.92",
                "Diagnosis carpal tunnel\nsyndrome 0.92",
                "Drug Flexeril 0.6",
            ]
        );
    }

    #[test]
    fn occurrences_are_whole_words_case_and_line_breaks_aside() {
        let text: Vec<char> = "Norco; norco's NORCO\nplus, low back\n pain, low backs"
            .chars()
            .collect();
        let pats: Vec<Vec<char>> = ["low back", "norco", "norco plus"]
            .iter()
            .map(|p| p.chars().collect())
            .collect();
        // By pattern, then start: `norco's` and `backs` are other words.
        assert_eq!(
            Phrases::new(pats).find(&text),
            [(0, 27, 35), (1, 0, 5), (1, 15, 20), (2, 15, 25)]
        );
        assert!(Phrases::new(vec![]).find(&text).is_empty());
    }

    #[test]
    fn overlap_with_sorted_disjoint_ranges() {
        let r = [(2, 4), (6, 9)];
        assert!(!overlaps_sorted(&r, 0, 2));
        assert!(overlaps_sorted(&r, 3, 5));
        assert!(!overlaps_sorted(&r, 4, 6));
        assert!(overlaps_sorted(&r, 0, 10));
        assert!(overlaps_sorted(&r, 8, 12));
        assert!(!overlaps_sorted(&r, 9, 12));
        assert!(!overlaps_sorted(&[], 0, 1));
    }

    #[test]
    fn drops_bare_pain_and_places_but_keeps_conditions() {
        let text = "chronic pain; left shoulder; low back pain; left; acute carpal tunnel syndrome";
        let find = |s: &str| diagnosis_at(text, s);
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
        use crate::annotation::tags::NUM_TAGS;
        use crate::encode::features::{DRUG_LEXICON_B, DRUG_LEXICON_I};
        let lp: Vec<f32> = (0..3 * NUM_TAGS).map(|i| -0.1 * i as f32).collect();
        let f = [1 << DRUG_LEXICON_B, 1 << DRUG_LEXICON_I, 0];
        let mut out = lp.clone();
        let mut log = Changed::new();
        drug_lexicon_prior(&mut out, &f, &mut log);
        let b = 1 + 2 * Label::Drug.index();
        let changed: Vec<usize> = (0..out.len()).filter(|&i| out[i] != lp[i]).collect();
        assert_eq!(changed, [b, NUM_TAGS + b + 1]);
        assert_eq!(out[b], lp[b] + DRUG_LEXICON_PRIOR);
        assert_eq!(log, [(b, lp[b]), (NUM_TAGS + b + 1, lp[NUM_TAGS + b + 1])]);
        undo_scores(&mut out, log);
        assert!(out.iter().zip(&lp).all(|(a, b)| a.to_bits() == b.to_bits()));
    }

    #[test]
    fn fragments_join_the_diagnosis_next_to_them() {
        let text = "acute carpal tunnel syndrome; lumbar and cervical muscle strain; \
                    pain in the left shoulder; neck pain, back spasm; right; tear";
        let got = run_diagnoses(
            text,
            &[
                "acute",
                "carpal tunnel syndrome",
                "lumbar",
                "cervical muscle strain",
                "pain in",
                "left shoulder",
                "neck pain",
                "back spasm",
                "right",
                "tear",
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

    /// Every switchable pass off but `name`.
    fn only(name: &str) -> RulesOff {
        let others: Vec<&str> = PASSES
            .iter()
            .filter(|p| p.switchable && p.name != name)
            .map(|p| p.name)
            .collect();
        RulesOff::parse(&others.join(",")).unwrap()
    }

    /// `spans` given as (text, label) at their first occurrence in `text`.
    fn at(text: &str, spans: &[(&str, Label)]) -> Vec<(usize, usize, Label)> {
        spans
            .iter()
            .map(|&(s, label)| {
                let b = text
                    .find(s)
                    .unwrap_or_else(|| panic!("{s:?} not in {text:?}"));
                // Character offsets, as spans are.
                let start = text[..b].chars().count();
                (start, start + s.chars().count(), label)
            })
            .collect()
    }

    /// The pass `name` alone (and the `overlaps` step) on `spans`, with a diagnosis lexicon of
    /// `phrases` and a memory of `remembered` (each tagged in two of three mentions); and the
    /// same with every pass off, which must differ: the text is one the pass acts on.
    fn alone(
        name: &str,
        text: &str,
        phrases: &[&str],
        remembered: &[(&str, Label)],
        spans: &[(&str, Label)],
    ) -> Vec<String> {
        let mut gold_text = String::new();
        let mut gold = Vec::new();
        for &(phrase, label) in remembered {
            for tagged in [true, true, false] {
                let start = gold_text.chars().count();
                gold_text.push_str(phrase);
                if tagged {
                    let end = gold_text.chars().count();
                    gold.push(EntitySpan { start, end, label });
                }
                gold_text.push_str(". ");
            }
        }
        let memory = crate::decode::memory::Memory::from_gold(&[(&gold_text, &gold)]);
        let spans = at(text, spans);
        let names = |v: Vec<(String, f32)>| v.into_iter().map(|(e, _)| e).collect::<Vec<_>>();
        let with = names(rules_with(text, phrases, &memory, &spans, &only(name)));
        let without = names(rules_with(text, phrases, &memory, &spans, &RulesOff::all()));
        assert_ne!(with, without, "{name} did nothing on {text:?}");
        with
    }

    #[test]
    fn the_pass_table_has_unique_names_and_all_off_is_nothing() {
        let mut names: Vec<&str> = PASSES.iter().map(|p| p.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PASSES.len());
        assert!(RulesOff::parse("overlaps").is_err(), "a fixed step");
        let err = RulesOff::parse("memory,nonsense").unwrap_err();
        assert!(
            err.contains("nonsense") && err.contains("place-pain"),
            "{err}"
        );
        // All off: spans come back as given, and the scores are not touched.
        let text = "Norco 10/325mg #90 for chronic pain of the lumbar spine, Page(s): 74-96.";
        let spans = at(
            text,
            &[("Norco", Label::Drug), ("chronic pain", Label::Diagnosis)],
        );
        let got = rules_with(text, &[], &Default::default(), &spans, &RulesOff::all());
        assert_eq!(
            got.into_iter().map(|(e, _)| e).collect::<Vec<_>>(),
            ["Drug Norco", "Diagnosis chronic pain"]
        );
        assert_eq!(apply_to_scores(&RulesOff::all(), &mut [0.0; 11], &[0]), []);
    }

    #[test]
    fn drug_prior_alone_tips_the_scores() {
        use crate::annotation::tags::{tag_b, NUM_TAGS};
        use crate::encode::features::DRUG_LEXICON_B;
        let mut lp = vec![-1.0f32; NUM_TAGS];
        let f = [1 << DRUG_LEXICON_B];
        let changed = apply_to_scores(&only("drug-prior"), &mut lp, &f);
        assert_eq!(lp[tag_b(Label::Drug)], -1.0 + DRUG_LEXICON_PRIOR);
        assert_eq!(changed, [(tag_b(Label::Drug), -1.0)]);
        assert_eq!(apply_to_scores(&only("memory"), &mut lp, &f), []);
    }

    #[test]
    fn page_forms_alone() {
        let text = "MTUS Chronic Pain, Page(s): 74-96, recommends it.";
        let got = alone("page-forms", text, &[], &[], &[("74", Label::Quantity)]);
        assert_eq!(got, ["GuidelinePage Page(s): 74-96"]);
    }

    #[test]
    fn quantity_forms_alone() {
        let text = "The request for 12 additional PT sessions is not necessary.";
        let got = alone("quantity-forms", text, &[], &[], &[("12", Label::Quantity)]);
        assert_eq!(got, ["Quantity 12 additional PT sessions"]);
    }

    #[test]
    fn durations_alone() {
        let text = "PT for six to eight weeks; 6 sessions";
        let spans = [("six", Label::Quantity), ("6 sessions", Label::Quantity)];
        assert_eq!(
            alone("durations", text, &[], &[], &spans),
            ["Quantity 6 sessions"]
        );
    }

    #[test]
    fn drug_classes_alone() {
        let text = "Benzodiazepines such as Xanax";
        let spans = [("Benzodiazepines", Label::Drug), ("Xanax", Label::Drug)];
        assert_eq!(
            alone("drug-classes", text, &[], &[], &spans),
            ["Drug Xanax"]
        );
    }

    #[test]
    fn sentences_alone() {
        let text = "He has an abscess. The abscess drains (daily";
        let spans = [("abscess. The abscess", Label::Diagnosis)];
        assert_eq!(
            alone("sentences", text, &[], &[], &spans),
            ["Diagnosis abscess"]
        );
    }

    #[test]
    fn join_fragments_alone() {
        let text = "She has acute carpal tunnel syndrome.";
        let spans = [
            ("acute", Label::Diagnosis),
            ("carpal tunnel syndrome", Label::Diagnosis),
        ];
        assert_eq!(
            alone("join-fragments", text, &[], &[], &spans),
            ["Diagnosis acute carpal tunnel syndrome"]
        );
    }

    #[test]
    fn attach_places_alone() {
        let text = "X-rays showed a left foot fracture.";
        let spans = [("fracture", Label::Diagnosis)];
        assert_eq!(
            alone("attach-places", text, &[], &[], &spans),
            ["Diagnosis left foot fracture"]
        );
    }

    #[test]
    fn join_with_alone() {
        let text = "Diagnoses: low back pain with radiculopathy.";
        // In two phrases of the lexicon, as `join_with` asks.
        let phrases = [
            "neck pain with radiculopathy",
            "disc disorder with radiculopathy",
        ];
        let spans = [
            ("low back pain", Label::Diagnosis),
            ("radiculopathy", Label::Diagnosis),
        ];
        assert_eq!(
            alone("join-with", text, &phrases, &[], &spans),
            ["Diagnosis low back pain with radiculopathy"]
        );
    }

    #[test]
    fn split_lists_alone() {
        let text = "Diagnoses: neck pain, shoulder pain and elbow pain.";
        let spans = [("neck pain, shoulder pain and elbow pain", Label::Diagnosis)];
        assert_eq!(
            alone("split-lists", text, &[], &[], &spans),
            [
                "Diagnosis neck pain",
                "Diagnosis shoulder pain",
                "Diagnosis elbow pain"
            ]
        );
    }

    #[test]
    fn no_condition_alone() {
        let text = "She reports chronic pain and a lumbar strain.";
        let spans = [
            ("chronic pain", Label::Diagnosis),
            ("lumbar strain", Label::Diagnosis),
        ];
        assert_eq!(
            alone("no-condition", text, &[], &[], &spans),
            ["Diagnosis lumbar strain"]
        );
    }

    #[test]
    fn drug_edges_alone() {
        let text = "Voltaren\u{ae} gel and Tylenol #3";
        let spans = [("Voltaren\u{ae}", Label::Drug), ("Tylenol", Label::Drug)];
        assert_eq!(
            alone("drug-edges", text, &[], &[], &spans),
            ["Drug Voltaren", "Drug Tylenol #3"]
        );
    }

    #[test]
    fn number_edges_alone() {
        let text = "Lidoderm 1.3% patch, Naproxen 550 mg";
        let spans = [("1", Label::Dose), ("550", Label::Dose)];
        assert_eq!(
            alone("number-edges", text, &[], &[], &spans),
            ["Dose 1.3%", "Dose 550 mg"]
        );
    }

    #[test]
    fn propagate_alone() {
        let text = "Fexmid 7.5mg: Upheld. The request for Fexmid is not necessary.";
        let mut spans = at(text, &[("Fexmid", Label::Drug)]);
        spans[0].2 = Label::Drug;
        let cs: Vec<char> = text.chars().collect();
        let chars = CharIndex::new(text);
        let inputs = RuleInputs::new(text, &chars, vec![], vec![]);
        let entities = vec![(
            EntitySpan {
                start: spans[0].0,
                end: spans[0].1,
                label: Label::Drug,
            },
            0.95,
        )];
        let run = |off: &RulesOff| apply(&cs, &inputs, &[], entities.clone(), off).len();
        assert_eq!(run(&only("propagate")), 2);
        assert_eq!(run(&RulesOff::all()), 1);
    }

    #[test]
    fn place_pain_alone() {
        let text = "He reports lumbar pain daily.";
        assert_eq!(
            alone("place-pain", text, &[], &[], &[]),
            ["Diagnosis lumbar pain"]
        );
    }

    #[test]
    fn memory_alone() {
        let text = "History of carpal tunnel syndrome.";
        let remembered = [("carpal tunnel syndrome", Label::Diagnosis)];
        assert_eq!(
            alone("memory", text, &[], &remembered, &[]),
            ["Diagnosis carpal tunnel syndrome"]
        );
    }
}
