//! Inference: letters in, entities and per-item P(Overturned) out.
//!
//! Letters of any length are tagged whole: tokens are cut into windows that overlap by the
//! encoders' receptive radius, and each token's tags come from the window where it sits
//! farthest from an edge, so the result equals one pass over the whole letter for the
//! convolutions, and is within a small tolerance of it with an LSTM (`LSTM_CONTEXT`).

use candle_core::Device;

use crate::annotation::tags::NUM_TAGS;
use crate::annotation::EntitySpan;
use crate::decode::memory::Memory;
use crate::decode::rules::{self, RuleInputs, RulesOff};
use crate::decode::viterbi::{viterbi_words, Constraints};
use crate::decode::{Calibration, Decoding};
use crate::encode::lexicon::Lexicon;
use crate::encode::{make_batch, EncodedLetter, Piece};
use crate::error::Result;
use crate::letter::Letter;
use crate::model::{ImrModel, ModelConfig};
use crate::tokenize::{bio_to_spans, LetterTokenizer};

/// What the model says about one letter.
#[derive(Debug, Clone, PartialEq)]
pub struct LetterPrediction {
    /// Entities with a confidence: the mean probability of the decoded tags over the span.
    pub entities: Vec<(EntitySpan, f32)>,
    /// Per disputed item, in order: the raw decision logit and the calibrated P(Overturned).
    pub decision_logits: Vec<f32>,
    pub p_overturned: Vec<f32>,
    /// The decision each probability gives (`decode::decision`).
    pub decisions: Vec<crate::Decision>,
}

impl LetterPrediction {
    /// A prediction with the decisions its probabilities give.
    pub fn new(
        entities: Vec<(EntitySpan, f32)>,
        decision_logits: Vec<f32>,
        p_overturned: Vec<f32>,
    ) -> Self {
        LetterPrediction {
            entities,
            decision_logits,
            decisions: p_overturned
                .iter()
                .map(|&p| crate::decode::decision(f64::from(p)))
                .collect(),
            p_overturned,
        }
    }
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
    /// The passes of the `rules` decoding switched off.
    pub rules_off: RulesOff,
}

/// One tagging batch's output, flattened: `(batch, seq, NUM_TAGS)` log-probabilities and, if
/// asked for, the main encoder's `(batch, seq, hidden)` rows.
struct BatchOut {
    seq: usize,
    values: Vec<f32>,
    states: Option<Vec<f32>>,
}

/// `f` of each item, on rayon's threads (a group as large as the pool: as many batches'
/// activations in memory as there are threads), in order; the first error if any.
fn on_threads<T: Sync, R: Send>(
    items: &[T],
    f: impl Fn(&T) -> Result<R> + Sync + Send,
) -> Result<Vec<R>> {
    use rayon::prelude::*;
    items.par_iter().map(f).collect()
}

/// The main encoder's output at some positions of one letter.
pub struct States {
    /// Sorted token positions.
    positions: Vec<usize>,
    /// Row-major `(positions, hidden)`.
    rows: Vec<f32>,
    hidden: usize,
}

impl States {
    fn row(&self, pos: usize) -> Option<&[f32]> {
        let k = self.positions.binary_search(&pos).ok()?;
        Some(&self.rows[k * self.hidden..(k + 1) * self.hidden])
    }
}

/// Whether index `j` of a sequence of letter positions `pos` sees, within radius `r`, a
/// run of consecutive letter tokens, none cut off by the sequence's ends: then the encoder's
/// output there is the same in the sequence as in the whole letter.
fn interior(pos: &[usize], j: usize, r: usize) -> bool {
    j >= r && j + r < pos.len() && pos[j + r] - pos[j - r] == 2 * r
}

/// Sequences per forward pass at inference: rationales, or tagging windows of `BATCH_WINDOW`
/// tokens. Longer windows go fewer to a batch, so that a batch holds as many tokens whatever
/// the window. Memory grows with it, times the threads (each runs a batch): with two threads
/// and the 2.2 MB letter, 4 (two windows of 1,024 tokens) peaks at 200 MB, 8 at 220 MB, and
/// 130 letters at 160 and 195 MB (2026-12-03).
pub const INFERENCE_BATCH: usize = 4;

/// The window length `Inference::batch_size` counts tagging windows in.
const BATCH_WINDOW: usize = 512;

impl<'a> Inference<'a> {
    /// Inference with a model, loaded or fresh from training.
    pub fn of(model: &'a crate::artifacts::Model) -> Self {
        Inference::new(
            &model.network,
            &model.config.model,
            model.config.calibration,
            &model.tokenizer,
            &model.lexicon,
            &model.memory,
            &model.device,
        )
    }

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
            rules_off: RulesOff::default(),
        }
    }

    /// The decoder constraints for one encoded letter under this inference's decoding.
    pub fn decoding_constraints<'e>(&self, enc: &'e EncodedLetter) -> Constraints<'e> {
        self.decoding.constraints(enc)
    }

    pub fn encode(&self, letter: &Letter) -> Result<EncodedLetter> {
        EncodedLetter::for_model(
            letter,
            self.tokenizer,
            self.lexicon,
            self.config.ngram_dim > 0,
        )
    }

    /// Predicts letters on all the threads of rayon's pool (`imr -j N`): letters are encoded
    /// and decoded each on a thread, and the network's batches (of windows or rationales,
    /// whatever their letters) run as many at once as there are threads, so that one long
    /// letter uses every thread too. Output keeps input order. If the batch fails, each
    /// letter is predicted alone, so that one letter's error is its own. The records do not
    /// depend on the number of threads: every window and rationale is computed alone
    /// (padding is masked).
    pub fn predict_on_cores(
        &self,
        letters: &[&Letter],
    ) -> Vec<std::result::Result<LetterPrediction, std::sync::Arc<crate::Error>>> {
        match self.predict(letters) {
            Ok(ps) => ps.into_iter().map(Ok).collect(),
            Err(_) if letters.len() > 1 => letters
                .iter()
                .map(|l| {
                    self.predict(std::slice::from_ref(l))
                        .map(|mut p| p.remove(0))
                        .map_err(std::sync::Arc::new)
                })
                .collect(),
            Err(e) => vec![Err(std::sync::Arc::new(e))],
        }
    }

    /// Predicts a batch of letters.
    pub fn predict(&self, letters: &[&Letter]) -> Result<Vec<LetterPrediction>> {
        let encoded = on_threads(letters, |l| self.encode(l))?;
        self.predict_encoded(&encoded)
    }

    pub fn predict_encoded(&self, encoded: &[EncodedLetter]) -> Result<Vec<LetterPrediction>> {
        let wanted: Vec<Vec<usize>> = encoded.iter().map(|e| self.reusable_states(e)).collect();
        let (mut log_probs, states) = self.tag_pass(encoded, &wanted)?;
        let logits = self.decision_pass(encoded, Some(&states))?;
        use rayon::prelude::*;
        Ok(encoded
            .par_iter()
            .zip(&mut log_probs)
            .zip(logits)
            .map(|((enc, lp), dl)| self.decode(enc, lp, dl))
            .collect())
    }

    /// One letter's prediction from its tag log-probabilities (row-major `(tokens, NUM_TAGS)`)
    /// and its items' raw decision logits: the spans under this inference's decoding, and the
    /// calibrated probabilities. `lp` is changed while the score passes run, and then put
    /// back exactly (no copy of a long letter's scores).
    pub fn decode(
        &self,
        enc: &EncodedLetter,
        lp: &mut [f32],
        logits: Vec<f32>,
    ) -> LetterPrediction {
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        let rules = self.decoding == Decoding::Rules;
        let changed = if rules {
            rules::apply_to_scores(&self.rules_off, lp, &enc.features)
        } else {
            Vec::new()
        };
        viterbi_words(lp, self.decoding.constraints(enc), &mut back, &mut tags);
        rules::undo_scores(lp, changed);
        let lp: &[f32] = lp;
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
        if rules {
            let chars = enc.chars();
            let recalled = self.memory.find(&chars);
            let inputs = RuleInputs::of(enc);
            entities = rules::apply(&chars, &inputs, &recalled, entities, &self.rules_off);
        }
        let p_overturned: Vec<f32> = logits
            .iter()
            .map(|&z| self.calibration.probability(z))
            .collect();
        LetterPrediction::new(entities, logits, p_overturned)
    }

    /// Per letter, row-major `(tokens, NUM_TAGS)` tag log-probabilities.
    pub fn tag_log_probs(&self, encoded: &[EncodedLetter]) -> Result<Vec<Vec<f32>>> {
        let none = vec![Vec::new(); encoded.len()];
        Ok(self.tag_pass(encoded, &none)?.0)
    }

    /// The main encoder's output at the tokens of `enc`'s rationales that the decision head
    /// can take from the tagging pass instead of encoding them again: those whose
    /// neighbourhood within the main encoder's radius is the same run of tokens in the
    /// rationale's sequence as in the letter. Sorted; empty if the encoder's reach is
    /// unbounded (an LSTM or attention layer in it).
    pub fn reusable_states(&self, enc: &EncodedLetter) -> Vec<usize> {
        let Some(r) = self.config.main_encoder_radius() else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for i in 0..enc.rationales.len() {
            let pos = enc.rationale_tokens(i, self.config.rationale_tokens);
            out.extend(
                (0..pos.len())
                    .filter(|&j| interior(&pos, j, r))
                    .map(|j| pos[j]),
            );
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Tag log-probabilities per letter, and the main encoder's output at the `wanted`
    /// positions of each letter (sorted).
    fn tag_pass(
        &self,
        encoded: &[EncodedLetter],
        wanted: &[Vec<usize>],
    ) -> Result<(Vec<Vec<f32>>, Vec<States>)> {
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
        let hidden = self.config.hidden;
        let mut states: Vec<States> = wanted
            .iter()
            .map(|w| States {
                positions: w.clone(),
                rows: vec![0f32; w.len() * hidden],
                hidden,
            })
            .collect();
        let per_batch = (self.batch_size * BATCH_WINDOW / w).max(1);
        let kept = |&(li, _, core, keep_end): &(usize, usize, usize, usize)| {
            let w = &wanted[li];
            w.partition_point(|&p| p < core)..w.partition_point(|&p| p < keep_end)
        };
        // One batch: its tag log-probabilities `(batch, seq, tags)` and, if any of its kept
        // tokens is wanted, the main encoder's rows, both flattened.
        let run = |chunk: &[(usize, usize, usize, usize)]| -> Result<BatchOut> {
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
            let (lp, h) = self.model.tag_log_probs_and_states(&batch)?;
            let h = if chunk.iter().any(|c| !kept(c).is_empty()) {
                Some(h.flatten_all()?.to_vec1()?)
            } else {
                None
            };
            Ok(BatchOut {
                seq: batch.seq,
                values: lp.flatten_all()?.to_vec1()?,
                states: h,
            })
        };
        let batches: Vec<&[(usize, usize, usize, usize)]> = windows.chunks(per_batch).collect();
        for group in batches.chunks(rayon::current_num_threads()) {
            let done = on_threads(group, |c| run(c))?;
            for (chunk, b) in group.iter().zip(done) {
                for (bi, c) in chunk.iter().enumerate() {
                    let &(li, start, core, keep_end) = c;
                    for pos in core..keep_end {
                        let src = (bi * b.seq + (pos - start)) * NUM_TAGS;
                        out[li][pos * NUM_TAGS..(pos + 1) * NUM_TAGS]
                            .copy_from_slice(&b.values[src..src + NUM_TAGS]);
                    }
                    if let Some(h) = &b.states {
                        for k in kept(c) {
                            let pos = wanted[li][k];
                            let src = (bi * b.seq + (pos - start)) * hidden;
                            states[li].rows[k * hidden..(k + 1) * hidden]
                                .copy_from_slice(&h[src..src + hidden]);
                        }
                    }
                }
            }
        }
        Ok((out, states))
    }

    /// Per letter, the raw decision logit of each item.
    pub fn decision_logits(&self, encoded: &[EncodedLetter]) -> Result<Vec<Vec<f32>>> {
        self.decision_pass(encoded, None)
    }

    /// `decision_logits`, taking the main encoder's output from `states` (the tagging pass)
    /// where `reusable_states` allows and encoding only the rest: runs of a rationale's tokens
    /// near its ends or its cut, each with the radius around it, so that every row is what
    /// encoding the rationale alone gives.
    fn decision_pass(
        &self,
        encoded: &[EncodedLetter],
        states: Option<&[States]>,
    ) -> Result<Vec<Vec<f32>>> {
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
        let reuse = states.zip(self.config.main_encoder_radius());
        let run = |chunk: &[(usize, usize, Vec<usize>)]| -> Result<Vec<f32>> {
            match reuse {
                Some((states, r)) => self.decide_reusing(encoded, chunk, states, r),
                None => {
                    let pieces: Vec<Piece> = chunk
                        .iter()
                        .map(|(li, _, pos)| Piece {
                            letter: &encoded[*li],
                            positions: pos.clone(),
                        })
                        .collect();
                    let batch = make_batch(&pieces, self.tokenizer.pad_id(), self.device)?;
                    Ok(self.model.decision_logits(&batch, None)?.to_vec1()?)
                }
            }
        };
        let batches: Vec<&[(usize, usize, Vec<usize>)]> =
            jobs.chunks(self.batch_size.max(1)).collect();
        for group in batches.chunks(rayon::current_num_threads()) {
            for (chunk, z) in group.iter().zip(on_threads(group, |c| run(c))?) {
                for ((li, i, _), z) in chunk.iter().zip(z) {
                    out[*li][*i] = z;
                }
            }
        }
        Ok(out)
    }

    /// One batch of rationales' decision logits, their encoder rows from `states` where they
    /// are interior (`reusable_states`), the rest encoded in pieces with radius `r` around.
    fn decide_reusing(
        &self,
        encoded: &[EncodedLetter],
        chunk: &[(usize, usize, Vec<usize>)],
        states: &[States],
        r: usize,
    ) -> Result<Vec<f32>> {
        let hidden = self.config.hidden;
        let seq = chunk.iter().map(|j| j.2.len()).max().unwrap_or(0).max(1);
        let mut h = vec![0f32; chunk.len() * seq * hidden];
        let mut mask = vec![0f32; chunk.len() * seq];
        let mut pieces = Vec::new();
        // (row of the batch, first and end index of the run, where the run starts in its piece)
        let mut runs = Vec::new();
        for (bi, (li, _, pos)) in chunk.iter().enumerate() {
            mask[bi * seq..bi * seq + pos.len()].fill(1.0);
            let kept = |j: usize| {
                interior(pos, j, r)
                    .then(|| states[*li].row(pos[j]))
                    .flatten()
            };
            let mut j = 0;
            while j < pos.len() {
                if let Some(row) = kept(j) {
                    h[(bi * seq + j) * hidden..][..hidden].copy_from_slice(row);
                    j += 1;
                    continue;
                }
                let a = j;
                while j < pos.len() && kept(j).is_none() {
                    j += 1;
                }
                let (lo, hi) = (a.saturating_sub(r), (j + r).min(pos.len()));
                pieces.push(Piece {
                    letter: &encoded[*li],
                    positions: pos[lo..hi].to_vec(),
                });
                runs.push((bi, a, j, a - lo));
            }
        }
        if !pieces.is_empty() {
            let batch = make_batch(&pieces, self.tokenizer.pad_id(), self.device)?;
            let rows: Vec<f32> = self
                .model
                .encoder_states(&batch)?
                .flatten_all()?
                .to_vec1()?;
            for (k, &(bi, a, b, at)) in runs.iter().enumerate() {
                let src = (k * batch.seq + at) * hidden;
                h[(bi * seq + a) * hidden..(bi * seq + b) * hidden]
                    .copy_from_slice(&rows[src..src + (b - a) * hidden]);
            }
        }
        let h = candle_core::Tensor::from_vec(h, (chunk.len(), seq, hidden), self.device)?;
        let mask = candle_core::Tensor::from_vec(mask, (chunk.len(), seq), self.device)?;
        Ok(self.model.decide(&h, &mask)?.to_vec1()?)
    }
}
