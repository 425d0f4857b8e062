//! The tagging head: hidden states to BIO tag logits. Training uses token-level
//! cross-entropy; decoding (Viterbi under the BIO constraints) is `decode::viterbi`.

use candle_core::{Module, Result, Tensor};
use candle_nn::VarBuilder;

use super::layers::{Dense, LayerNorm};
use super::ModelConfig;

#[derive(Debug, Clone)]
pub struct TagHead {
    norm: LayerNorm,
    out: Dense,
}

impl TagHead {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(TagHead {
            norm: LayerNorm::new(cfg.hidden, vb.pp("norm"))?,
            out: Dense::new(cfg.hidden, cfg.num_tags, vb.pp("out"))?,
        })
    }

    /// `(batch, seq, hidden)` and its mask `(batch, seq)` -> logits `(batch, seq, num_tags)`;
    /// padded positions (mask 0) come out as the bias alone. Differentiable.
    pub fn forward(&self, h: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mask = mask.to_dtype(candle_core::DType::F32)?;
        self.out.forward(&self.norm.forward_masked(h, &mask)?)
    }
}
