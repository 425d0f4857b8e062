//! What the neural model is compared with, on the same letters: a dictionary tagger for entities
//! (the model's own lexicons and patterns, no learning) and a bag-of-words logistic regression
//! for decisions (trained on the same training letters as the model). And the rationale with
//! its concluding verdict masked, to see whether a classifier reads the reasoning or only the
//! verdict sentence.

use std::collections::HashMap;
use std::sync::LazyLock;

use regex::Regex;

use crate::annotation::corpus::LabelledLetter;
use crate::annotation::{EntitySpan, Label};
use crate::encode::features::pattern_matches;
use crate::encode::lexicon::Lexicon;
use crate::letter::verdict::verdict_sentences;
use crate::letter::Letter;
use crate::Decision;

/// Entities from the lexicons (drug names, ICD-10-CM condition phrases) and the page, strength
/// and count patterns that the model also sees as features; overlaps go to the longer match.
pub fn dictionary_entities(letter: &Letter, lexicon: &Lexicon) -> Vec<EntitySpan> {
    let lex = lexicon.find(&letter.text, &letter.chars);
    let pat = pattern_matches(&letter.text, &letter.chars);
    let mut candidates: Vec<EntitySpan> = [
        (Label::Drug, &lex.drugs),
        (Label::Diagnosis, &lex.diagnoses),
        (Label::GuidelinePage, &pat.pages),
        (Label::Dose, &pat.strengths),
        (Label::Quantity, &pat.counts),
    ]
    .into_iter()
    .flat_map(|(label, ranges)| {
        ranges
            .iter()
            .filter(|(s, e)| s < e)
            .map(move |&(start, end)| EntitySpan { start, end, label })
    })
    .collect();
    candidates.sort_by_key(|e| (std::cmp::Reverse(e.end - e.start), e.start));
    let mut taken: Vec<EntitySpan> = Vec::new();
    for c in candidates {
        if !taken.iter().any(|t| t.span().overlaps(&c.span())) {
            taken.push(c);
        }
    }
    taken.sort();
    taken
}

static WORD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"[a-z][a-z0-9']*|[0-9]+").unwrap());

/// Lower-cased unigrams and bigrams of a text.
fn ngrams(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let words: Vec<&str> = WORD.find_iter(&lower).map(|m| m.as_str()).collect();
    let mut out: Vec<String> = words.iter().map(|w| w.to_string()).collect();
    out.extend(words.windows(2).map(|w| format!("{} {}", w[0], w[1])));
    out
}

/// A bag-of-words logistic regression on an item's rationale: binary unigram and bigram
/// features seen in at least two training rationales, L2-regularised, the Overturned class
/// weighted by the class ratio (as the model's loss is), trained by full-batch gradient descent.
#[derive(Debug, Clone)]
pub struct BowLogReg {
    vocab: HashMap<String, usize>,
    weights: Vec<f64>,
    bias: f64,
}

impl BowLogReg {
    fn featurize(&self, text: &str) -> Vec<usize> {
        let mut f: Vec<usize> = ngrams(text)
            .iter()
            .filter_map(|g| self.vocab.get(g).copied())
            .collect();
        f.sort_unstable();
        f.dedup();
        f
    }

    /// Trains on (rationale text, stated decision) pairs.
    pub fn train(examples: &[(String, Decision)]) -> BowLogReg {
        let mut df: HashMap<String, usize> = HashMap::new();
        for (text, _) in examples {
            let mut g = ngrams(text);
            g.sort_unstable();
            g.dedup();
            for w in g {
                *df.entry(w).or_default() += 1;
            }
        }
        let mut kept: Vec<String> = df
            .into_iter()
            .filter(|(_, c)| *c >= 2)
            .map(|(w, _)| w)
            .collect();
        kept.sort();
        let vocab: HashMap<String, usize> =
            kept.into_iter().enumerate().map(|(i, w)| (w, i)).collect();
        let mut model = BowLogReg {
            weights: vec![0.0; vocab.len()],
            vocab,
            bias: 0.0,
        };
        let data: Vec<(Vec<usize>, f64)> = examples
            .iter()
            .map(|(t, d)| {
                (
                    model.featurize(t),
                    f64::from(u8::from(*d == Decision::Overturned)),
                )
            })
            .collect();
        let positives = data.iter().filter(|d| d.1 > 0.5).count().max(1);
        let pos_weight = (data.len() - positives).max(1) as f64 / positives as f64;
        let (lr, l2, epochs) = (0.5, 1e-3, 300);
        let n = data.len().max(1) as f64;
        let mut grad = vec![0.0; model.weights.len()];
        for _ in 0..epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut grad_b = 0.0;
            let mut total_w = 0.0;
            for (f, y) in &data {
                let z = model.bias + f.iter().map(|&i| model.weights[i]).sum::<f64>();
                let p = 1.0 / (1.0 + (-z).exp());
                let w = if *y > 0.5 { pos_weight } else { 1.0 };
                let g = w * (p - y);
                total_w += w;
                for &i in f {
                    grad[i] += g;
                }
                grad_b += g;
            }
            let scale = 1.0 / total_w.max(n);
            for (wi, gi) in model.weights.iter_mut().zip(&grad) {
                *wi -= lr * (gi * scale + l2 * *wi);
            }
            model.bias -= lr * grad_b * scale;
        }
        model
    }

    /// P(Overturned) for a rationale.
    pub fn probability(&self, text: &str) -> f64 {
        let z = self.bias
            + self
                .featurize(text)
                .iter()
                .map(|&i| self.weights[i])
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// The (rationale text, stated decision) pairs of labelled letters.
pub fn rationale_examples(letters: &[LabelledLetter]) -> Vec<(String, Decision)> {
    letters
        .iter()
        .flat_map(|l| {
            l.letter.items.iter().filter_map(|item| {
                let d = item.stated_decision?;
                Some((l.letter.slice(item.rationale).to_string(), d))
            })
        })
        .collect()
}

/// The letter with every concluding verdict sentence of every rationale blanked out (each
/// character replaced by a space, so all offsets stay; `letter::verdict::verdict_sentences`
/// says which). Returns the masked letter and how many sentences were masked.
pub fn mask_conclusions(letter: &Letter) -> crate::Result<(Letter, usize)> {
    let mut chars: Vec<char> = letter.text.chars().collect();
    let mut masked = 0;
    for item in &letter.items {
        for s in verdict_sentences(letter, item.rationale) {
            for c in &mut chars[s.start..s.end] {
                if !c.is_whitespace() {
                    *c = ' ';
                }
            }
            masked += 1;
        }
    }
    let text: String = chars.into_iter().collect();
    let out = Letter::from_text(letter.path.clone(), text)?;
    Ok((out, masked))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bow_logreg_learns_a_separable_word() {
        let mut ex = Vec::new();
        for i in 0..20 {
            ex.push((
                format!("the request is supported case {i}"),
                Decision::Overturned,
            ));
            for j in 0..4 {
                ex.push((
                    format!("the request is denied case {i} {j}"),
                    Decision::Upheld,
                ));
            }
        }
        let m = BowLogReg::train(&ex);
        assert!(m.probability("the request is supported") > 0.5);
        assert!(m.probability("the request is denied") < 0.5);
    }

    #[test]
    fn masking_blanks_verdicts_and_keeps_offsets() {
        let text = std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data/samples/CM17-0013716.txt"),
        )
        .unwrap();
        let letter = Letter::from_text("x.txt", text).unwrap();
        let (masked, n) = mask_conclusions(&letter).unwrap();
        assert!(
            n >= letter.items.len(),
            "each item has a verdict sentence: {n}"
        );
        assert_eq!(masked.char_len(), letter.char_len());
        assert_eq!(masked.items.len(), letter.items.len());
        for (a, b) in letter.items.iter().zip(&masked.items) {
            assert_eq!(a.stated_decision, b.stated_decision);
            assert!(letter.slice(a.rationale).contains("medically necessary"));
            assert!(!masked.slice(b.rationale).contains("medically necessary"));
        }
        // Text outside rationales is untouched.
        assert_eq!(
            letter.slice(letter.items[0].statement),
            masked.slice(masked.items[0].statement)
        );
    }

    #[test]
    fn dictionary_tagger_finds_drugs_and_patterns_without_overlap() {
        let text = "IMR ISSUES, DECISIONS AND RATIONALES\nNorco 10/325mg #90: Upheld\n\nDecision rationale: Per MTUS Page(s): 74-96, opioids. The request is not medically necessary.\n";
        let letter = Letter::from_text("x.txt", text.to_string()).unwrap();
        let lexicon = Lexicon::from_entries(["norco"], ["low back pain"]);
        let ents = dictionary_entities(&letter, &lexicon);
        let labels: Vec<Label> = ents.iter().map(|e| e.label).collect();
        assert!(labels.contains(&Label::Drug), "{ents:?}");
        assert!(labels.contains(&Label::GuidelinePage), "{ents:?}");
        assert!(crate::annotation::validate_spans(&ents, letter.char_len()).is_ok());
    }
}
