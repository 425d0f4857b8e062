//! The shared encoder: token embedding plus input features, projected to the hidden size, then
//! residual blocks of (layer norm -> dilated convolution -> GELU -> dropout); optionally a
//! bidirectional LSTM layer (`lstm.rs`) and local self-attention layers (`attention.rs`) on top.
//!
//! Convolutions by default: they batch into a few large matrix products on CPU. How they compare
//! with the LSTM and attention layers, in speed and accuracy, is measured in docs/EXPERIMENTS.md, "What was
//! measured to get here".

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::attention::LocalAttention;
use super::layers::{maybe_dropout, Dense, DilatedConv, Dropout, LayerNorm};
use super::lstm::BiLstm;
use super::ModelConfig;

#[derive(Debug, Clone)]
struct Block {
    norm: LayerNorm,
    conv: DilatedConv,
}

#[derive(Debug, Clone)]
pub struct Encoder {
    embed: Embedding,
    input: Dense,
    blocks: Vec<Block>,
    lstm: Option<BiLstm>,
    attention: Vec<LocalAttention>,
    norm: LayerNorm,
}

impl Encoder {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let embed = candle_nn::embedding(cfg.vocab_size, cfg.embed_dim, vb.pp("embed"))?;
        let input = Dense::new(cfg.embed_dim + cfg.feature_dim, cfg.hidden, vb.pp("input"))?;
        let blocks = cfg
            .dilations
            .iter()
            .enumerate()
            .map(|(i, &d)| {
                let vb = vb.pp(format!("block{i}"));
                Ok(Block {
                    norm: LayerNorm::new(cfg.hidden, vb.pp("norm"))?,
                    conv: DilatedConv::new(cfg.hidden, cfg.kernel, d, vb.pp("conv"))?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let lstm = match cfg.lstm_units {
            0 => None,
            units => Some(BiLstm::new(cfg.hidden, units, vb.pp("lstm"))?),
        };
        let attention = (0..cfg.attention_layers)
            .map(|i| {
                LocalAttention::new(
                    cfg.hidden,
                    cfg.attention_heads,
                    cfg.attention_radius,
                    vb.pp(format!("attention{i}")),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        let norm = LayerNorm::new(cfg.hidden, vb.pp("out_norm"))?;
        Ok(Encoder {
            embed,
            input,
            blocks,
            lstm,
            attention,
            norm,
        })
    }

    /// ids `(batch, seq)` u32, features `(batch, seq, feature_dim)`, mask `(batch, seq)` ->
    /// `(batch, seq, hidden)`; padded positions are zero after every block so that they never
    /// leak into real tokens through the convolutions.
    pub fn forward(
        &self,
        ids: &Tensor,
        features: &Tensor,
        mask: &Tensor,
        mut dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?;
        let m = mask.unsqueeze(2)?;
        let e = self.embed.forward(ids)?;
        let x = Tensor::cat(&[&e, features], 2)?;
        let mut h = self.input.forward(&x)?.broadcast_mul(&m)?;
        for b in &self.blocks {
            // Re-mask after the norm: a zero vector normalises to the norm's bias, which would
            // leak from padding into real tokens through the convolution.
            let normed = b.norm.forward(&h)?.broadcast_mul(&m)?;
            let y = b.conv.forward(&normed)?.gelu()?;
            let y = maybe_dropout(&y, dropout.as_deref_mut())?;
            h = (h + y)?.broadcast_mul(&m)?;
        }
        if let Some(lstm) = &self.lstm {
            h = lstm.forward(&h, &mask, dropout.as_deref_mut())?;
        }
        for a in &self.attention {
            h = a.forward(&h, &mask, dropout.as_deref_mut(), true)?;
        }
        self.norm.forward(&h)?.broadcast_mul(&m)
    }

    /// `forward` at inference (no dropout, no backward): the same numbers up to float rounding,
    /// with each block's norm, convolution taps and bias-GELU-residual-mask fused into single
    /// passes (`fused.rs`). The embedding and input projection are as in `forward`.
    pub fn infer(&self, ids: &Tensor, features: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let mask = mask.to_dtype(DType::F32)?.contiguous()?;
        let m = mask.unsqueeze(2)?;
        let e = self.embed.forward(ids)?;
        let x = Tensor::cat(&[&e, features], 2)?;
        let mut h = self.input.forward(&x)?.broadcast_mul(&m)?;
        for b in &self.blocks {
            let normed = b.norm.forward_masked(&h, &mask)?;
            h = b.conv.residual_gelu(&normed, &h, &mask)?;
        }
        if let Some(lstm) = &self.lstm {
            h = lstm.infer(&h, &mask)?;
        }
        for a in &self.attention {
            h = a.forward(&h, &mask, None, false)?;
        }
        self.norm.forward_masked(&h, &mask)
    }
}
