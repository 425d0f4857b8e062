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
                                                    // A rationale with no token (one that was all verdict, blanked) pools to zero, not to
                                                    // the padding's -1e4: the head then gives its bias, not an extreme logit.
        let any = m.max(1)?; // (batch, 1)
        let attended = attended.broadcast_mul(&any)?;
        let maxed = maxed.broadcast_mul(&any)?;
        let pooled = Tensor::cat(&[&attended, &maxed], D::Minus1)?;
        let x = self.hidden.forward_gelu(&pooled)?;
        let x = maybe_dropout(&x, dropout)?;
        self.out.forward(&x)?.squeeze(D::Minus1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    #[test]
    fn a_rationale_with_no_token_pools_to_zero_not_to_the_padding() {
        let text = include_str!("../../models/default/config.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        let cfg: ModelConfig = serde_json::from_value(v["model"].clone()).unwrap();
        let hidden = cfg.hidden;
        let vm = VarMap::new();
        let head = DecisionHead::new(&cfg, VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu))
            .unwrap();
        let h = crate::model::test_inputs::sequence(4, hidden, 0.5)
            .repeat((2, 1, 1))
            .unwrap();
        let mask = Tensor::new(&[[1f32, 1., 0., 0.], [0., 0., 0., 0.]], &Device::Cpu).unwrap();
        let z = head
            .forward(&h, &mask, None)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        // The empty row gives what a rationale of all-zero vectors gives: the head's bias path.
        let zeros = Tensor::zeros((1, 4, hidden), DType::F32, &Device::Cpu).unwrap();
        let ones = Tensor::ones((1, 4), DType::F32, &Device::Cpu).unwrap();
        let bias = head
            .forward(&zeros, &ones, None)
            .unwrap()
            .to_vec1::<f32>()
            .unwrap();
        assert!((z[1] - bias[0]).abs() < 1e-5, "{z:?} vs {bias:?}");
        assert!(z[0].is_finite() && z[0].abs() < 100.0, "{z:?}");
    }
}
