//! The shared encoder: token embedding, the mean of its word's character n-gram vectors (when
//! `ModelConfig::ngram_dim` > 0) and the input features, projected to the hidden size, then
//! residual blocks of (layer norm -> dilated convolution -> GELU -> dropout); optionally a
//! bidirectional LSTM layer (`lstm.rs`) and local self-attention layers (`attention.rs`) on top.
//!
//! Convolutions by default: they batch into a few large matrix products on CPU. How they compare
//! with the LSTM and attention layers, in speed and accuracy, is measured in docs/EXPERIMENTS.md, "What was
//! measured to get here".

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::{Embedding, VarBuilder};

use super::attention::LocalAttention;
use super::fused::ngram_mean;
use super::layers::{residual, Dense, DilatedConv, Dropout, LayerNorm};
use super::lstm::BiLstm;
use super::ModelConfig;
use crate::encode::ngrams::NGRAM_BUCKETS;
use crate::encode::Batch;

/// Each token's n-gram vectors weighted and summed, from candle ops (differentiable):
/// `table` `(buckets, dim)`, `ids` and `weights` `(batch, seq, k)` -> `(batch, seq, dim)`,
/// through a `(batch, seq, k, dim)` buffer. `fused::ngram_mean` is the same at inference.
pub(crate) fn ngram_mean_ops(table: &Tensor, ids: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let (b, s, k) = ids.dims3()?;
    table
        .index_select(&ids.flatten_all()?, 0)?
        .reshape((b, s, k, table.dim(1)?))?
        .broadcast_mul(&weights.unsqueeze(3)?)?
        .sum(2)
}

#[derive(Debug, Clone)]
struct Block {
    norm: LayerNorm,
    conv: DilatedConv,
}

#[derive(Debug, Clone)]
pub struct Encoder {
    embed: Embedding,
    /// `(NGRAM_BUCKETS, ngram_dim)`: one vector per n-gram bucket.
    ngrams: Option<Tensor>,
    input: Dense,
    blocks: Vec<Block>,
    lstm: Option<BiLstm>,
    attention: Vec<LocalAttention>,
    norm: LayerNorm,
}

impl Encoder {
    pub fn new(cfg: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let embed = candle_nn::embedding(cfg.vocab_size, cfg.embed_dim, vb.pp("embed"))?;
        let ngrams = match cfg.ngram_dim {
            0 => None,
            d => Some(vb.get_with_hints(
                (NGRAM_BUCKETS, d),
                "ngram_embed",
                candle_nn::Init::Randn {
                    mean: 0.0,
                    stdev: 1.0,
                },
            )?),
        };
        let input = Dense::new(
            cfg.embed_dim + cfg.ngram_dim + cfg.feature_dim,
            cfg.hidden,
            vb.pp("input"),
        )?;
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
            ngrams,
            input,
            blocks,
            lstm,
            attention,
            norm,
        })
    }

    /// The input rows before the projection: token embedding, n-gram mean (differentiable, or
    /// fused at inference), features.
    fn inputs(&self, batch: &Batch, fused: bool) -> Result<Tensor> {
        let e = self.embed.forward(&batch.ids)?;
        match &self.ngrams {
            None => Tensor::cat(&[&e, &batch.features], 2),
            Some(table) => {
                let (ngrams, weights) = batch.ngrams.as_ref().ok_or_else(|| {
                    candle_core::Error::Msg(
                        "the model reads n-grams; the letter was encoded without them".into(),
                    )
                })?;
                let g = if fused {
                    ngram_mean(table, ngrams, weights)?
                } else {
                    ngram_mean_ops(table, ngrams, weights)?
                };
                Tensor::cat(&[&e, &g, &batch.features], 2)
            }
        }
    }

    /// A batch (`encode::Batch`) -> `(batch, seq, hidden)`; padded positions are zero after
    /// every block so that they never leak into real tokens through the convolutions.
    pub fn forward(&self, batch: &Batch, mut dropout: Option<&mut Dropout>) -> Result<Tensor> {
        let mask = batch.mask.to_dtype(DType::F32)?;
        let m = mask.unsqueeze(2)?;
        let x = self.inputs(batch, false)?;
        let mut h = self.input.forward(&x)?.broadcast_mul(&m)?;
        for b in &self.blocks {
            // The norm zeroes padding rows: a zero vector would normalise to the norm's bias,
            // which would leak from padding into real tokens through the convolution.
            let normed = b.norm.forward_masked(&h, &mask)?;
            let y = b.conv.forward_gelu(&normed)?;
            h = residual(&h, &y, &mask, dropout.as_deref_mut())?;
        }
        if let Some(lstm) = &self.lstm {
            h = lstm.forward(&h, &mask, dropout.as_deref_mut())?;
        }
        for a in &self.attention {
            h = a.forward(&h, &mask, dropout.as_deref_mut(), true)?;
        }
        self.norm.forward_masked(&h, &mask)
    }

    /// `forward` at inference (no dropout, no backward): the same numbers up to float rounding,
    /// with each block's norm, convolution taps and bias-GELU-residual-mask fused into single
    /// passes (`fused.rs`), and the n-gram mean read from the table without materialising
    /// every n-gram's vector. The embedding and input projection are as in `forward`.
    pub fn infer(&self, batch: &Batch) -> Result<Tensor> {
        let mask = batch.mask.to_dtype(DType::F32)?.contiguous()?;
        let m = mask.unsqueeze(2)?;
        let x = self.inputs(batch, true)?;
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
