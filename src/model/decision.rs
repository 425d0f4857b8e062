//! The decision head: pools one rationale's encoded tokens (attention pooling and max pooling,
//! both masked) and outputs the logit of Overturned.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::layers::{mask3, maybe_dropout, Dense, Dropout};
use super::ModelConfig;

#[derive(Debug, Clone)]
pub struct DecisionHead {
    attn: Dense,
    hidden: Dense,
    out: Dense,
}

impl DecisionHead {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        Ok(DecisionHead {
            attn: Dense::new(cfg.hidden, 1, vb.pp("attn"))?,
            hidden: Dense::new(2 * cfg.hidden, cfg.hidden, vb.pp("hidden"))?,
            out: Dense::new(cfg.hidden, 1, vb.pp("out"))?,
        })
    }

    /// h `(batch, seq, hidden)`, mask `(batch, seq)` -> logits `(batch,)`.
    pub fn forward(
        &self,
        h: &Tensor,
        mask: &Tensor,
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let m = mask3(mask)?;
        // Padding gets a large negative score so that it takes no attention and never wins max.
        let neg = ((m.ones_like()? - &m)? * -1e4)?;
        let scores = self.attn.forward(h)?.broadcast_add(&neg)?; // (batch, seq, 1)
        let weights = candle_nn::ops::softmax(&scores, 1)?;
        let attended = h.broadcast_mul(&weights)?.sum(1)?; // (batch, hidden)
        let maxed = h.broadcast_add(&neg)?.max(1)?; // (batch, hidden)
        let pooled = Tensor::cat(&[&attended, &maxed], D::Minus1)?;
        let x = self.hidden.forward(&pooled)?.gelu()?;
        let x = maybe_dropout(&x, dropout)?;
        self.out.forward(&x)?.squeeze(D::Minus1)
    }
}
