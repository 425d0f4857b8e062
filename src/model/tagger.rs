//! The tagging head: hidden states to BIO tag logits, and those to tag log-probabilities and a
//! training loss: a softmax per token with cross-entropy, or with `ModelConfig::crf` a
//! linear-chain CRF (`crf.rs`) with the sequence's likelihood and its marginals. Decoding
//! (Viterbi under the BIO constraints) is `decode::viterbi`.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::crf::Crf;
use super::layers::{Dense, LayerNorm};
use super::ModelConfig;

#[derive(Debug, Clone)]
pub struct TagHead {
    norm: LayerNorm,
    out: Dense,
    crf: Option<Crf>,
}

impl TagHead {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(TagHead {
            norm: LayerNorm::new(cfg.hidden, vb.pp("norm"))?,
            out: Dense::new(cfg.hidden, cfg.num_tags, vb.pp("out"))?,
            crf: match cfg.crf {
                true => Some(Crf::new(cfg.num_tags, vb.pp("crf"))?),
                false => None,
            },
        })
    }

    /// Each token's tag log-probabilities `(batch, seq, num_tags)` from this head's logits:
    /// the softmax's, or the CRF's marginals. Inference only with a CRF.
    pub fn log_probs(&self, logits: &Tensor, mask: &Tensor) -> Result<Tensor> {
        match &self.crf {
            Some(crf) => crf.log_marginals(logits, mask),
            None => candle_nn::ops::log_softmax(logits, D::Minus1),
        }
    }

    /// The negative log-likelihood of the targets `(batch, seq)` summed over the real tokens
    /// (mask 1, f32): per token with the softmax, per sequence with the CRF. Differentiable.
    pub fn loss(&self, logits: &Tensor, targets: &Tensor, mask: &Tensor) -> Result<Tensor> {
        match &self.crf {
            Some(crf) => {
                let targets = targets.flatten_all()?.to_dtype(DType::U32)?.to_vec1()?;
                let mask = mask.flatten_all()?.to_dtype(DType::F32)?.to_vec1()?;
                crf.nll(logits, targets, mask)?.sum_all()
            }
            None => {
                let logp = candle_nn::ops::log_softmax(logits, D::Minus1)?;
                let picked = logp.gather(&targets.unsqueeze(2)?, 2)?.squeeze(2)?;
                (picked * mask)?.sum_all()?.neg()
            }
        }
    }

    /// `(batch, seq, hidden)` and its mask `(batch, seq)` -> logits `(batch, seq, num_tags)`;
    /// padded positions (mask 0) come out as the bias alone. Differentiable.
    pub fn forward(&self, h: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mask = mask.to_dtype(candle_core::DType::F32)?;
        self.out.forward(&self.norm.forward_masked(h, &mask)?)
    }
}
