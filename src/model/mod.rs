//! The network: a shared convolutional encoder over letter tokens, a tagging head (BIO over the
//! five entity labels, decoded by constrained Viterbi) and a decision head that reads one
//! rationale and gives P(Overturned); beside them, by default, a second tagger with its own
//! embedding and a bidirectional LSTM encoder, whose tag probabilities are averaged with the
//! first's. Pure tensors: no files, no optimizer.

mod attention;
mod crf;
mod decision;
mod encoder;
mod fused;
mod layers;
mod lstm;
mod tagger;
mod trainable;

use candle_core::{Result, Tensor};
use candle_nn::VarBuilder;
use serde::{Deserialize, Serialize};

use crate::encode::Batch;

pub use decision::DecisionHead;
pub use encoder::Encoder;
pub use layers::Dropout;
pub use tagger::TagHead;

/// Version of the model directory layout and weight names; a mismatch refuses to load.
/// 2: the directory holds `memory.tsv`.
pub const FORMAT_VERSION: u32 = 2;

/// Inputs and readings shared by the layers' unit tests.
#[cfg(test)]
pub(crate) mod test_inputs {
    use candle_core::{Device, IndexOp, Tensor};

    /// `(1, seq, hidden)` of smooth, distinct values; another `seed` gives other values.
    pub fn sequence(seq: usize, hidden: usize, seed: f32) -> Tensor {
        let v: Vec<f32> = (0..seq * hidden)
            .map(|i| ((i as f32 + seed) * 0.37).sin())
            .collect();
        Tensor::from_vec(v, (1, seq, hidden), &Device::Cpu).unwrap()
    }

    /// The positions of the first sequence of `(batch, seq, hidden)`, one row each.
    pub fn rows(t: &Tensor) -> Vec<Vec<f32>> {
        t.i(0).unwrap().to_vec2().unwrap()
    }
}

/// Context kept on each side of a window for an LSTM layer, in tokens (`receptive_radius`).
pub const LSTM_CONTEXT: usize = 64;

/// Context kept on each side of a window for a CRF head, in tokens: a token's marginals depend
/// on the whole window through the chain, by an influence that decays with distance.
pub const CRF_CONTEXT: usize = 16;

/// Sizes and shapes of the network; stored as `config.json` in a model directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelConfig {
    pub format_version: u32,
    pub vocab_size: usize,
    pub embed_dim: usize,
    pub feature_dim: usize,
    pub hidden: usize,
    /// Convolution width (odd) and the dilation of each residual block.
    pub kernel: usize,
    pub dilations: Vec<usize>,
    pub dropout: f32,
    pub num_tags: usize,
    /// Tokens per tagging window at inference, and the context kept on each side of a window.
    pub window: usize,
    pub window_margin: usize,
    /// Longest rationale the decision head reads, in tokens (head and tail kept).
    pub rationale_tokens: usize,
    /// Local self-attention layers after the convolutions (0: none), their heads and how far
    /// each token looks on either side. Absent from the directories of models without them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attention_layers: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attention_heads: usize,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub attention_radius: usize,
    /// Cells per direction of a bidirectional LSTM layer after the convolutions, before any
    /// attention (0: none). Absent from the directories of models without one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lstm_units: usize,
    /// Cells per direction of a second tagger beside the main one (0: none): its own
    /// embedding, a bidirectional LSTM in place of the convolutions and its own tagging head,
    /// trained beside the main tagger on the same batches. Tagging averages the two taggers'
    /// tag probabilities; decisions read the main encoder only. Absent from the directories
    /// of models without one.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub lstm_tagger_units: usize,
    /// Width of the character n-gram vectors each encoder adds to its token embedding (0:
    /// none; `encode::ngrams`). Absent from the directories of models without them.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub ngram_dim: usize,
    /// Whether each tagging head is a linear-chain CRF (`crf.rs`: trained on the whole tag
    /// sequence's likelihood, read as marginals) rather than a softmax per token. Absent from
    /// the directories of models without.
    #[serde(default, skip_serializing_if = "is_false")]
    pub crf: bool,
}

#[cfg(test)]
mod config_tests {
    use super::*;

    fn shipped() -> ModelConfig {
        let text = include_str!("../../models/default/config.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        serde_json::from_value(v["model"].clone()).unwrap()
    }

    #[test]
    fn the_shipped_config_is_valid_and_damage_is_named() {
        assert_eq!(shipped().validate(), Ok(()));
        type Damage = fn(&mut ModelConfig);
        let cases: [(Damage, &str); 8] = [
            (|c| c.window = 0, "window is 0"),
            (
                |c| c.window_margin = 600,
                "not more than twice its margin of 600",
            ),
            (|c| c.window_margin = usize::MAX, "not more than twice"),
            (
                |c| c.dilations = vec![1, 1_000_000_000],
                "a dilation is 1000000000",
            ),
            (|c| c.kernel = 4, "kernel is 4; it must be odd"),
            (|c| c.dropout = f32::NAN, "dropout is NaN"),
            (|c| c.hidden = 0, "hidden is 0"),
            (
                |c| {
                    c.attention_layers = 1;
                    c.attention_heads = 3;
                },
                "not a multiple of 3 heads",
            ),
        ];
        for (damage, phrase) in cases {
            let mut c = shipped();
            damage(&mut c);
            let err = c.validate().unwrap_err();
            assert!(err.contains(phrase), "{err:?} lacks {phrase:?}");
        }
    }
}

/// For serde: settings left at zero are not written, so directories and fingerprints of models
/// without them stay as they were.
pub(crate) fn is_zero(n: &usize) -> bool {
    *n == 0
}

pub(crate) fn is_false(b: &bool) -> bool {
    !b
}

impl ModelConfig {
    /// Whether every setting is one this network can be built and run with: a model directory
    /// is checked with this before anything is built from it, so that a damaged `config.json`
    /// is an error naming the value, never a panic or a model that silently ignores weights.
    pub fn validate(&self) -> std::result::Result<(), String> {
        let within = |name: &str, v: usize, lo: usize, hi: usize| {
            if (lo..=hi).contains(&v) {
                Ok(())
            } else {
                Err(format!("{name} is {v}; it must be from {lo} to {hi}"))
            }
        };
        within("vocab_size", self.vocab_size, 8, 1 << 20)?;
        within("embed_dim", self.embed_dim, 1, 4096)?;
        within("hidden", self.hidden, 1, 4096)?;
        within("num_tags", self.num_tags, 1, 1024)?;
        within("kernel", self.kernel, 1, 31)?;
        if self.kernel.is_multiple_of(2) {
            return Err(format!("kernel is {}; it must be odd", self.kernel));
        }
        within("dilations (number of blocks)", self.dilations.len(), 0, 64)?;
        for &d in &self.dilations {
            within("a dilation", d, 1, 4096)?;
        }
        within("rationale_tokens", self.rationale_tokens, 1, 1 << 20)?;
        within("lstm_units", self.lstm_units, 0, 4096)?;
        within("lstm_tagger_units", self.lstm_tagger_units, 0, 4096)?;
        within("ngram_dim", self.ngram_dim, 0, 4096)?;
        within("attention_layers", self.attention_layers, 0, 64)?;
        if self.attention_layers > 0 {
            within("attention_heads", self.attention_heads, 1, self.hidden)?;
            if !self.hidden.is_multiple_of(self.attention_heads) {
                return Err(format!(
                    "hidden size {} is not a multiple of {} heads",
                    self.hidden, self.attention_heads
                ));
            }
            within("attention_radius", self.attention_radius, 0, 4096)?;
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(format!("dropout is {}; it must be in [0, 1)", self.dropout));
        }
        within("window", self.window, 1, 1 << 20)?;
        let margin = self.window_margin.max(self.receptive_radius());
        if self.window <= margin.saturating_mul(2) {
            return Err(format!(
                "window is {} tokens, not more than twice its margin of {margin} \
                 (window_margin {}, receptive radius {})",
                self.window,
                self.window_margin,
                self.receptive_radius()
            ));
        }
        Ok(())
    }

    /// Tokens on each side that influence one output position: the windows of a long letter
    /// overlap by at least this much. An LSTM layer sees its whole window; for it this counts
    /// `LSTM_CONTEXT` tokens, beyond which a token's influence is small but not zero, and a
    /// CRF head adds `CRF_CONTEXT`.
    pub fn receptive_radius(&self) -> usize {
        let convolutions = self.convolution_radius();
        let lstm = if self.lstm_units > 0 { LSTM_CONTEXT } else { 0 };
        let crf = if self.crf { CRF_CONTEXT } else { 0 };
        let main = convolutions + lstm + crf + self.attention_layers * self.attention_radius;
        match self.lstm_tagger() {
            Some(second) => main.max(second.receptive_radius()),
            None => main,
        }
    }

    /// Tokens on each side that influence the main encoder's output at a position, if that is
    /// bounded: convolutions only, no LSTM or attention layer in it.
    pub fn main_encoder_radius(&self) -> Option<usize> {
        (self.lstm_units == 0 && self.attention_layers == 0).then(|| self.convolution_radius())
    }

    /// Tokens on each side that the convolutions reach, all blocks together.
    fn convolution_radius(&self) -> usize {
        self.dilations.iter().map(|d| d * (self.kernel / 2)).sum()
    }

    /// The second tagger's own configuration: this one's sizes, with the LSTM alone as encoder.
    pub fn lstm_tagger(&self) -> Option<ModelConfig> {
        (self.lstm_tagger_units > 0).then(|| ModelConfig {
            dilations: Vec::new(),
            lstm_units: self.lstm_tagger_units,
            attention_layers: 0,
            attention_heads: 0,
            attention_radius: 0,
            lstm_tagger_units: 0,
            ..self.clone()
        })
    }
}

/// The whole network.
#[derive(Debug, Clone)]
pub struct ImrModel {
    pub encoder: Encoder,
    pub tagger: TagHead,
    pub decision: DecisionHead,
    /// The second tagger (`ModelConfig::lstm_tagger_units`): its own encoder and head.
    pub lstm_tagger: Option<(Encoder, TagHead)>,
}

impl ImrModel {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let lstm_tagger = match cfg.lstm_tagger() {
            Some(c) => {
                let vb = vb.pp("lstm_tagger");
                Some((
                    Encoder::new(&c, vb.pp("encoder"))?,
                    TagHead::new(&c, vb.pp("tagger"))?,
                ))
            }
            None => None,
        };
        Ok(ImrModel {
            encoder: Encoder::new(cfg, vb.pp("encoder"))?,
            tagger: TagHead::new(cfg, vb.pp("tagger"))?,
            decision: DecisionHead::new(cfg, vb.pp("decision"))?,
            lstm_tagger,
        })
    }

    /// Tag log-probabilities `(batch, seq, num_tags)` of a batch at inference: the main
    /// tagger's, or with a second tagger the log of the two taggers' mean probabilities.
    pub fn tag_log_probs(&self, batch: &Batch) -> Result<Tensor> {
        Ok(self.tag_log_probs_and_states(batch)?.0)
    }

    /// `tag_log_probs`, and the main encoder's output `(batch, seq, hidden)` that the
    /// decision head also reads (`Inference` keeps it for the tokens of rationales).
    pub fn tag_log_probs_and_states(&self, batch: &Batch) -> Result<(Tensor, Tensor)> {
        // The second tagger first: its activations are gone before the main encoder's.
        let second = self.lstm_tag_logits(batch, None)?;
        let h = self.encoder.infer(batch)?;
        let logits = self.tagger.forward(&h, &batch.mask)?;
        let main = self.tagger.log_probs(&logits, &batch.mask)?;
        let lp = match (second, &self.lstm_tagger) {
            (Some(second), Some((_, head))) => {
                let second = head.log_probs(&second, &batch.mask)?;
                ((main.exp()? + second.exp()?)? * 0.5)?.log()?
            }
            _ => main,
        };
        Ok((lp, h))
    }

    /// The main encoder's output at inference, `(batch, seq, hidden)`.
    pub fn encoder_states(&self, batch: &Batch) -> Result<Tensor> {
        self.encoder.infer(batch)
    }

    /// Decision logits `(batch,)` at inference from the main encoder's output over rationales
    /// and their mask `(batch, seq)` f32.
    pub fn decide(&self, states: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.decision.forward(states, mask, None)
    }

    /// The main tagging head and the second tagger's, whose `loss` trains on their logits.
    pub fn tag_heads(&self) -> (&TagHead, Option<&TagHead>) {
        (
            &self.tagger,
            self.lstm_tagger.as_ref().map(|(_, head)| head),
        )
    }

    /// The second tagger's logits, as `tag_logits` (None without one).
    pub fn lstm_tag_logits(
        &self,
        batch: &Batch,
        dropout: Option<&mut Dropout>,
    ) -> Result<Option<Tensor>> {
        self.lstm_tagger
            .as_ref()
            .map(|(encoder, tagger)| tag(encoder, tagger, batch, dropout))
            .transpose()
    }

    /// Tag logits `(batch, seq, num_tags)` of a batch (`encode::Batch`: ids, features, mask,
    /// n-grams). With dropout (training) the graph can be differentiated; without (inference)
    /// it runs the fused kernels, which cannot.
    pub fn tag_logits(&self, batch: &Batch, dropout: Option<&mut Dropout>) -> Result<Tensor> {
        tag(&self.encoder, &self.tagger, batch, dropout)
    }

    /// Decision logits `(batch,)` for a batch of rationales, as `tag_logits`. Only the
    /// rationale's own tokens are encoded: the item line that states the decision is never in
    /// view. Differentiable with dropout, fused without, as `tag_logits`.
    pub fn decision_logits(
        &self,
        batch: &Batch,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let h = match dropout.as_deref_mut() {
            Some(d) => self.encoder.forward(batch, Some(d))?,
            None => self.encoder.infer(batch)?,
        };
        self.decision.forward(&h, &batch.mask, dropout)
    }
}

/// One tagger's logits: through the differentiable path with dropout, the fused one without.
fn tag(
    encoder: &Encoder,
    tagger: &TagHead,
    batch: &Batch,
    dropout: Option<&mut Dropout>,
) -> Result<Tensor> {
    let h = match dropout {
        Some(d) => encoder.forward(batch, Some(d))?,
        None => encoder.infer(batch)?,
    };
    tagger.forward(&h, &batch.mask)
}
