//! Inference: letters in, entities and per-item P(Overturned) out.
//!
//! Letters of any length are tagged whole: tokens are cut into windows that overlap by the
//! encoders' receptive radius, and each token's tags come from the window where it sits
//! farthest from an edge, so the result equals one pass over the whole letter for the
//! convolutions, and is within a small tolerance of it with an LSTM (`LSTM_CONTEXT`).

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::annotation::EntitySpan;
use crate::encode::{make_batch, EncodedLetter, Piece};
use crate::error::Result;
use crate::letter::Letter;
use crate::lexicon::Lexicon;
use crate::memory::Memory;
use crate::model::{viterbi_words, Constraints, ImrModel, ModelConfig};
use crate::rules;
use crate::tokenize::{bio_to_spans, LetterTokenizer, NUM_TAGS};

/// Platt scaling of the decision logit: `P(Overturned) = sigmoid(a * logit + b)`, fitted on
/// held-out letters after training (the training loss weights the rare class up, which shifts
/// raw logits; this maps them back to probabilities).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub a: f32,
    pub b: f32,
}

impl Calibration {
    pub fn identity() -> Self {
        Calibration { a: 1.0, b: 0.0 }
    }

    pub fn probability(&self, logit: f32) -> f32 {
        sigmoid(self.a * logit + self.b)
    }

    /// Fits `a, b` by Newton's method on the log loss, with Platt's smoothed targets and a ridge
    /// pulling `a` towards 1, so that a small held-out set that happens to be perfectly
    /// separable cannot send the slope to infinity.
    pub fn fit(logits: &[f32], positive: &[bool]) -> Self {
        let n_pos = positive.iter().filter(|&&p| p).count() as f64;
        let n_neg = positive.len() as f64 - n_pos;
        if n_pos == 0.0 || n_neg == 0.0 {
            return Calibration::identity();
        }
        let t_pos = (n_pos + 1.0) / (n_pos + 2.0);
        let t_neg = 1.0 / (n_neg + 2.0);
        // Ridge terms keep the optimum finite and the Hessian invertible when the held-out
        // logits separate the classes perfectly; steps are clamped because a saturated sigmoid
        // has a nearly flat Hessian and an undamped Newton step would overshoot by millions.
        const RIDGE_A: f64 = 1.0;
        const RIDGE_B: f64 = 0.01;
        const MAX_STEP: f64 = 1.0;
        let (mut a, mut b) = (1.0f64, 0.0f64);
        for _ in 0..500 {
            let (mut ga, mut gb) = (RIDGE_A * (a - 1.0), RIDGE_B * b);
            let (mut haa, mut hab, mut hbb) = (RIDGE_A, 0.0, RIDGE_B);
            for (&z, &y) in logits.iter().zip(positive) {
                let z = f64::from(z);
                let t = if y { t_pos } else { t_neg };
                let p = 1.0 / (1.0 + (-(a * z + b)).exp());
                let d = p - t;
                ga += d * z;
                gb += d;
                let w = p * (1.0 - p);
                haa += w * z * z;
                hab += w * z;
                hbb += w;
            }
            let det = haa * hbb - hab * hab;
            if det.abs() < 1e-12 {
                break;
            }
            let da = ((hbb * ga - hab * gb) / det).clamp(-MAX_STEP, MAX_STEP);
            let db = ((haa * gb - hab * ga) / det).clamp(-MAX_STEP, MAX_STEP);
            a -= da;
            b -= db;
            if da.abs() < 1e-9 && db.abs() < 1e-9 {
                break;
            }
        }
        Calibration {
            a: a as f32,
            b: b as f32,
        }
    }
}

pub fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// What the model says about one letter.
#[derive(Debug, Clone, PartialEq)]
pub struct LetterPrediction {
    /// Entities with a confidence: the mean probability of the decoded tags over the span.
    pub entities: Vec<(EntitySpan, f32)>,
    /// Per disputed item, in order: the raw decision logit and the calibrated P(Overturned).
    pub decision_logits: Vec<f32>,
    pub p_overturned: Vec<f32>,
}

/// Everything inference needs, borrowed: from a loaded model directory or from a model in
/// training (dev evaluation runs through exactly this path).
pub struct Inference<'a> {
    pub model: &'a ImrModel,
    pub config: &'a ModelConfig,
    pub calibration: Calibration,
    pub tokenizer: &'a LetterTokenizer,
    pub lexicon: &'a Lexicon,
    /// Phrases the training letters' gold tagged (used by the `rules` decoding).
    pub memory: &'a Memory,
    pub device: &'a Device,
    /// Sequences per forward pass (`INFERENCE_BATCH`).
    pub batch_size: usize,
    /// The constraints the entity decoder applies.
    pub decoding: Decoding,
}

/// How tag probabilities become entity spans. Every variant gives well-formed BIO spans.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Decoding {
    /// BIO constraints only.
    Bio,
    /// Also keep words whole: no span edge inside a run of letters or of digits.
    WholeWords,
    /// Also never begin or end a span on a function word, severity word or separator.
    Edges,
    /// Both: whole words and clean edges.
    Full,
    /// Full, then the annotation's rules (`rules.rs`): page citations and quantities from their
    /// forms, diagnoses with their location words and no bare pain or body part alone, lists
    /// of conditions cut apart, every mention of a sure drug or diagnosis tagged, and the
    /// phrases the training letters' gold tags (the model's memory) where the model missed them.
    #[default]
    Rules,
}

impl Decoding {
    pub const ALL: [Decoding; 5] = [
        Decoding::Bio,
        Decoding::WholeWords,
        Decoding::Edges,
        Decoding::Full,
        Decoding::Rules,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Decoding::Bio => "bio",
            Decoding::WholeWords => "whole-words",
            Decoding::Edges => "edges",
            Decoding::Full => "full",
            Decoding::Rules => "rules",
        }
    }

    fn constraints(self, enc: &EncodedLetter) -> Constraints<'_> {
        let words = matches!(
            self,
            Decoding::WholeWords | Decoding::Full | Decoding::Rules
        );
        let edges = matches!(self, Decoding::Edges | Decoding::Full | Decoding::Rules);
        Constraints {
            continues: words.then_some(enc.continues_word.as_slice()),
            edge: edges.then_some(enc.edge_word.as_slice()),
        }
    }
}

/// Sequences per forward pass at inference: rationales, or tagging windows of `BATCH_WINDOW`
/// tokens. Longer windows go fewer to a batch, so that a batch holds as many tokens whatever
/// the window (memory grows with it: 16 windows of 1,024 took `predict` from 146 to 281 MB).
pub const INFERENCE_BATCH: usize = 16;

/// The window length `Inference::batch_size` counts tagging windows in.
const BATCH_WINDOW: usize = 512;

impl<'a> Inference<'a> {
    pub fn new(
        model: &'a ImrModel,
        config: &'a ModelConfig,
        calibration: Calibration,
        tokenizer: &'a LetterTokenizer,
        lexicon: &'a Lexicon,
        memory: &'a Memory,
        device: &'a Device,
    ) -> Self {
        Inference {
            model,
            config,
            calibration,
            tokenizer,
            lexicon,
            memory,
            device,
            batch_size: INFERENCE_BATCH,
            decoding: Decoding::default(),
        }
    }

    /// The decoder constraints for one encoded letter under this inference's decoding.
    pub fn decoding_constraints<'e>(&self, enc: &'e EncodedLetter) -> Constraints<'e> {
        self.decoding.constraints(enc)
    }

    pub fn encode(&self, letter: &Letter) -> Result<EncodedLetter> {
        EncodedLetter::new(letter, self.tokenizer, self.lexicon)
    }

    /// Predicts a batch of letters.
    pub fn predict(&self, letters: &[&Letter]) -> Result<Vec<LetterPrediction>> {
        let encoded = letters
            .iter()
            .map(|l| self.encode(l))
            .collect::<Result<Vec<_>>>()?;
        self.predict_encoded(&encoded)
    }

    pub fn predict_encoded(&self, encoded: &[EncodedLetter]) -> Result<Vec<LetterPrediction>> {
        let log_probs = self.tag_log_probs(encoded)?;
        let logits = self.decision_logits(encoded)?;
        Ok(encoded
            .iter()
            .zip(&log_probs)
            .zip(logits)
            .map(|((enc, lp), dl)| self.decode(enc, lp, dl))
            .collect())
    }

    /// One letter's prediction from its tag log-probabilities (row-major `(tokens, NUM_TAGS)`)
    /// and its items' raw decision logits: the spans under this inference's decoding, and the
    /// calibrated probabilities.
    pub fn decode(&self, enc: &EncodedLetter, lp: &[f32], logits: Vec<f32>) -> LetterPrediction {
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        let biased;
        let scores = if self.decoding == Decoding::Rules {
            biased = rules::drug_lexicon_prior(lp, &enc.features);
            &biased
        } else {
            lp
        };
        viterbi_words(scores, self.decoding.constraints(enc), &mut back, &mut tags);
        let spans = bio_to_spans(&enc.tokens.offsets, &tags);
        // Confidence: mean probability of the chosen tag over the span's tokens.
        let mut entities = Vec::with_capacity(spans.len());
        let mut k = 0;
        for s in spans {
            while enc.tokens.offsets[k].0 < s.start {
                k += 1;
            }
            let (mut sum, mut n) = (0f32, 0usize);
            while k < enc.len() && enc.tokens.offsets[k].1 <= s.end {
                sum += lp[k * NUM_TAGS + tags[k]].exp();
                n += 1;
                k += 1;
            }
            entities.push((s, if n > 0 { sum / n as f32 } else { 0.0 }));
        }
        if self.decoding == Decoding::Rules {
            let recalled = self.memory.find(&enc.chars);
            entities = rules::apply(&enc.chars, &enc.rules, &recalled, entities);
        }
        let p_overturned = logits
            .iter()
            .map(|&z| self.calibration.probability(z))
            .collect();
        LetterPrediction {
            entities,
            decision_logits: logits,
            p_overturned,
        }
    }

    /// Per letter, row-major `(tokens, NUM_TAGS)` tag log-probabilities.
    pub fn tag_log_probs(&self, encoded: &[EncodedLetter]) -> Result<Vec<Vec<f32>>> {
        let w = self.config.window;
        let margin = self
            .config
            .window_margin
            .max(self.config.receptive_radius());
        assert!(w > 2 * margin, "window must exceed twice the margin");
        let stride = w - 2 * margin;
        // (letter, window start, first kept token, end of kept tokens)
        let mut windows = Vec::new();
        for (li, enc) in encoded.iter().enumerate() {
            let n = enc.len();
            let mut core = 0;
            while core < n {
                let start = core.saturating_sub(margin);
                let keep_end = (core + stride).min(n);
                windows.push((li, start, core, keep_end));
                core = keep_end;
            }
        }
        // Windows of similar length together: a letter's last window is short, and a batch
        // pads every window to its longest.
        let span_len = |&(li, start, _, keep_end): &(usize, usize, usize, usize)| {
            (keep_end + margin).min(encoded[li].len()) - start
        };
        windows.sort_by_key(|w| std::cmp::Reverse(span_len(w)));
        let mut out: Vec<Vec<f32>> = encoded
            .iter()
            .map(|e| vec![0f32; e.len() * NUM_TAGS])
            .collect();
        let per_batch = (self.batch_size * BATCH_WINDOW / w).max(1);
        for chunk in windows.chunks(per_batch) {
            let pieces: Vec<Piece> = chunk
                .iter()
                .map(|&(li, start, _, keep_end)| {
                    let end = (keep_end + margin).min(encoded[li].len());
                    Piece {
                        letter: &encoded[li],
                        positions: (start..end).collect(),
                    }
                })
                .collect();
            let batch = make_batch(&pieces, self.tokenizer.pad_id(), self.device)?;
            let lp = self
                .model
                .tag_log_probs(&batch.ids, &batch.features, &batch.mask)?;
            // (batch, seq, tags) flattened
            let flat: Vec<f32> = lp.flatten_all()?.to_vec1()?;
            for (bi, &(li, start, core, keep_end)) in chunk.iter().enumerate() {
                for pos in core..keep_end {
                    let src = (bi * batch.seq + (pos - start)) * NUM_TAGS;
                    out[li][pos * NUM_TAGS..(pos + 1) * NUM_TAGS]
                        .copy_from_slice(&flat[src..src + NUM_TAGS]);
                }
            }
        }
        Ok(out)
    }

    /// Per letter, the raw decision logit of each item.
    pub fn decision_logits(&self, encoded: &[EncodedLetter]) -> Result<Vec<Vec<f32>>> {
        let mut jobs = Vec::new();
        for (li, enc) in encoded.iter().enumerate() {
            for i in 0..enc.rationales.len() {
                jobs.push((li, i, enc.rationale_tokens(i, self.config.rationale_tokens)));
            }
        }
        // Similar lengths together: less padding.
        jobs.sort_by_key(|j| j.2.len());
        let mut out: Vec<Vec<f32>> = encoded
            .iter()
            .map(|e| vec![0f32; e.rationales.len()])
            .collect();
        for chunk in jobs.chunks(self.batch_size.max(1)) {
            let pieces: Vec<Piece> = chunk
                .iter()
                .map(|(li, _, pos)| Piece {
                    letter: &encoded[*li],
                    positions: pos.clone(),
                })
                .collect();
            let batch = make_batch(&pieces, self.tokenizer.pad_id(), self.device)?;
            let z: Vec<f32> = self
                .model
                .decision_logits(&batch.ids, &batch.features, &batch.mask, None)?
                .to_vec1()?;
            for ((li, i, _), z) in chunk.iter().zip(z) {
                out[*li][*i] = z;
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platt_fit_recovers_a_known_mapping() {
        // Labels drawn so that P(y|z) = sigmoid(2z - 1) exactly in expectation: for each z, a
        // share of positives equal to that probability.
        let mut z = Vec::new();
        let mut y = Vec::new();
        for i in -20..=20 {
            let x = i as f32 / 5.0;
            let p = sigmoid(2.0 * x - 1.0);
            let pos = (p * 1000.0).round() as usize;
            for k in 0..1000 {
                z.push(x);
                y.push(k < pos);
            }
        }
        let c = Calibration::fit(&z, &y);
        assert!(
            (c.a - 2.0).abs() < 0.05 && (c.b + 1.0).abs() < 0.05,
            "{c:?}"
        );
    }

    #[test]
    fn platt_on_separable_logits_stays_finite_and_ordered() {
        // Held-out logits that separate the classes perfectly (as a small dev set often does):
        // the fit must stay finite, keep the order, and give probabilities strictly inside (0, 1).
        let z = [-9.0, -8.5, -7.0, -6.0, -5.5, -5.0, 4.0, 6.0];
        let y = [false, false, false, false, false, false, true, true];
        let c = Calibration::fit(&z, &y);
        assert!(c.a.is_finite() && c.b.is_finite() && c.a > 0.0, "{c:?}");
        let p: Vec<f32> = z.iter().map(|&x| c.probability(x)).collect();
        assert!(p.windows(2).all(|w| w[0] <= w[1]), "{p:?}");
        assert!(
            p[0] > 0.0 && p[7] < 1.0 && p[5] < 0.5 && p[6] > 0.5,
            "{p:?}"
        );
    }

    #[test]
    fn platt_without_both_classes_is_identity() {
        assert_eq!(
            Calibration::fit(&[1.0, 2.0], &[true, true]),
            Calibration::identity()
        );
    }
}
