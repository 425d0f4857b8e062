//! Local self-attention layers, an optional top of the encoder (`ModelConfig::attention_layers`):
//! each token attends to the tokens within `attention_radius` of it, with a learned bias per head
//! and relative offset, then a feed-forward sublayer; both pre-norm and residual.
//!
//! Local, not global, so that one output still depends on a bounded stretch of the letter: the
//! tagger's windows then equal one pass over the whole letter, as for the convolutions
//! (`ModelConfig::receptive_radius`). The scores are a dense `(seq, seq)` product per head with
//! the band applied as a mask, the simplest form; computing only the band was not tried. What
//! one layer costs and gives is measured in docs/EXPERIMENTS.md, "What was measured to get here": slower and
//! less accurate than the convolutions alone, so the default model has none.

use candle_core::{Module, Result, Tensor, D};
use candle_nn::VarBuilder;

use super::layers::{residual, Dense, Dropout, LayerNorm};

/// Added to the score of a key out of reach (outside the band, or padding): zero after softmax.
const OUT_OF_REACH: f32 = -1e4;

#[derive(Debug, Clone)]
pub struct LocalAttention {
    norm: LayerNorm,
    qkv: Dense,
    out: Dense,
    /// `(heads, 2 * radius + 1)`: a score added per head for each offset of key from query.
    position_bias: Tensor,
    ff_norm: LayerNorm,
    ff_in: Dense,
    ff_out: Dense,
    heads: usize,
    radius: usize,
}

impl LocalAttention {
    pub fn new(hidden: usize, heads: usize, radius: usize, vb: VarBuilder) -> Result<Self> {
        if heads == 0 || !hidden.is_multiple_of(heads) {
            candle_core::bail!(
                "attention: hidden size {hidden} is not a multiple of {heads} heads"
            );
        }
        Ok(LocalAttention {
            norm: LayerNorm::new(hidden, vb.pp("norm"))?,
            qkv: Dense::new(hidden, 3 * hidden, vb.pp("qkv"))?,
            out: Dense::new(hidden, hidden, vb.pp("out"))?,
            position_bias: vb.get_with_hints(
                (heads, 2 * radius + 1),
                "position_bias",
                candle_nn::Init::Const(0.0),
            )?,
            ff_norm: LayerNorm::new(hidden, vb.pp("ff_norm"))?,
            ff_in: Dense::new(hidden, 2 * hidden, vb.pp("ff_in"))?,
            ff_out: Dense::new(2 * hidden, hidden, vb.pp("ff_out"))?,
            heads,
            radius,
        })
    }

    /// `(heads, seq, seq)`: the learned bias of each key's offset from its query within the
    /// radius, `OUT_OF_REACH` beyond it.
    fn band(&self, seq: usize) -> Result<Tensor> {
        let heads = self.heads;
        let reach = Tensor::full(OUT_OF_REACH, (heads, 1), self.position_bias.device())?;
        let table = Tensor::cat(&[&self.position_bias, &reach], 1)?;
        let outside = (2 * self.radius + 1) as u32;
        let index: Vec<u32> = (0..seq)
            .flat_map(|q| {
                (0..seq).map(move |k| {
                    let offset = k as i64 - q as i64;
                    if offset.unsigned_abs() as usize <= self.radius {
                        (offset + self.radius as i64) as u32
                    } else {
                        outside
                    }
                })
            })
            .collect();
        let index = Tensor::from_vec(index, seq * seq, table.device())?;
        table.index_select(&index, 1)?.reshape((heads, seq, seq))
    }

    /// `h` `(batch, seq, hidden)`, `mask` `(batch, seq)` f32 -> `(batch, seq, hidden)`, padded
    /// positions zero. `train` selects the differentiable softmax; dropout as in the encoder.
    pub fn forward(
        &self,
        h: &Tensor,
        mask: &Tensor,
        mut dropout: Option<&mut Dropout>,
        train: bool,
    ) -> Result<Tensor> {
        let (batch, seq, hidden) = h.dims3()?;
        let (heads, width) = (self.heads, hidden / self.heads);
        let x = self.norm.forward_masked(h, mask)?;
        // (3, batch, heads, seq, width)
        let qkv = self
            .qkv
            .forward(&x)?
            .reshape((batch, seq, 3, heads, width))?
            .permute((2, 0, 3, 1, 4))?;
        let part = |i: usize| -> Result<Tensor> {
            qkv.get(i)?
                .contiguous()?
                .reshape((batch * heads, seq, width))
        };
        let q = (part(0)? * (1.0 / (width as f64).sqrt()))?;
        let (k, v) = (part(1)?, part(2)?);
        let keys_out = ((mask - 1.0)? * f64::from(-OUT_OF_REACH))?.reshape((batch, 1, 1, seq))?;
        let scores = q
            .matmul(&k.t()?.contiguous()?)?
            .reshape((batch, heads, seq, seq))?
            .broadcast_add(&self.band(seq)?.unsqueeze(0)?)?
            .broadcast_add(&keys_out)?;
        let weights = if train {
            candle_nn::ops::softmax(&scores, D::Minus1)?
        } else {
            candle_nn::ops::softmax_last_dim(&scores.contiguous()?)?
        };
        let attended = weights
            .reshape((batch * heads, seq, seq))?
            .matmul(&v)?
            .reshape((batch, heads, seq, width))?
            .transpose(1, 2)?
            .contiguous()?
            .reshape((batch, seq, hidden))?;
        let h = residual(
            h,
            &self.out.forward(&attended)?,
            mask,
            dropout.as_deref_mut(),
        )?;

        let x = self.ff_norm.forward_masked(&h, mask)?;
        let y = self.ff_out.forward(&self.ff_in.forward_gelu(&x)?)?;
        residual(&h, &y, mask, dropout)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_inputs::{rows, sequence};
    use candle_core::{DType, Device};
    use candle_nn::VarMap;

    const HIDDEN: usize = 8;

    fn layer(radius: usize) -> LocalAttention {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        LocalAttention::new(HIDDEN, 2, radius, vb).unwrap()
    }

    fn input(seq: usize, seed: f32) -> Tensor {
        sequence(seq, HIDDEN, seed)
    }

    #[test]
    fn a_token_beyond_the_radius_changes_nothing() {
        let a = layer(3);
        let ones = Tensor::ones((1, 20), DType::F32, &Device::Cpu).unwrap();
        let x = input(20, 0.0);
        // Token 15 replaced: only outputs 12..=18 may move.
        let changed = x
            .slice_assign(&[0..1, 15..16, 0..HIDDEN], &input(1, 99.0))
            .unwrap();
        for train in [true, false] {
            let before = rows(&a.forward(&x, &ones, None, train).unwrap());
            let after = rows(&a.forward(&changed, &ones, None, train).unwrap());
            for (p, (b, c)) in before.iter().zip(&after).enumerate() {
                assert_eq!(b == c, !(12..=18).contains(&p), "position {p}");
            }
        }
    }

    #[test]
    fn padding_is_neither_read_nor_written() {
        let a = layer(4);
        let short = a
            .forward(
                &input(7, 0.0),
                &Tensor::ones((1, 7), DType::F32, &Device::Cpu).unwrap(),
                None,
                false,
            )
            .unwrap();
        let mask = Tensor::from_vec(
            vec![1f32, 1., 1., 1., 1., 1., 1., 0., 0., 0.],
            (1, 10),
            &Device::Cpu,
        )
        .unwrap();
        for seed in [0.0, 5.0] {
            // Real tokens as in `short`, padding different each time.
            let x = input(10, seed)
                .slice_assign(&[0..1, 0..7, 0..HIDDEN], &input(7, 0.0))
                .unwrap();
            let padded = rows(&a.forward(&x, &mask, None, false).unwrap());
            for (p, row) in padded.iter().enumerate() {
                if p < 7 {
                    for (u, v) in row.iter().zip(&rows(&short)[p]) {
                        assert!((u - v).abs() < 1e-5, "position {p}: {u} vs {v}");
                    }
                } else {
                    assert!(row.iter().all(|&v| v == 0.0), "padding {p} not zero");
                }
            }
        }
    }

    #[test]
    fn heads_must_split_the_hidden_size() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        assert!(LocalAttention::new(HIDDEN, 3, 2, vb).is_err());
    }
}
