//! Small layers candle-nn does not give in the form needed here: a layer norm that has a
//! backward pass (candle-nn's fast path is a custom op without one), a dilated convolution made
//! of shifted copies and one matrix product (which batches well on CPU), and seeded dropout.

use candle_core::{DType, Module, Result, Tensor, D};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fused::{ConvTaps, GeluResidual, MaskedLayerNorm};

/// A fully connected layer that flattens leading dimensions into one matrix product.
///
/// candle-nn's `Linear` turns `(batch, seq, in)` into a batched matmul of `batch` small
/// products, which the CPU gemm runs one after another on one core; a single
/// `(batch * seq, in) x (in, out)` product uses both cores (measured: docs/EXPERIMENTS.md, "Speed").
#[derive(Debug, Clone)]
pub struct Dense {
    weight: Tensor, // (out, in), as candle-nn names and lays it out
    bias: Tensor,   // (out,)
}

impl Dense {
    pub fn new(input: usize, output: usize, vb: VarBuilder) -> Result<Self> {
        let bound = 1.0 / (input as f64).sqrt();
        Ok(Dense {
            weight: vb.get_with_hints(
                (output, input),
                "weight",
                candle_nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?,
            bias: vb.get_with_hints(output, "bias", candle_nn::Init::Const(0.0))?,
        })
    }
}

impl Dense {
    /// `x` `(.., in)` times the weight as one `(rows, in) x (in, out)` product, and the shape
    /// `(.., out)` to give the result.
    fn product(&self, x: &Tensor) -> Result<(Tensor, Vec<usize>)> {
        let mut dims = x.dims().to_vec();
        let input = *dims.last().expect("at least one dimension");
        let rows: usize = dims[..dims.len() - 1].iter().product();
        let y = x.reshape((rows, input))?.matmul(&self.weight.t()?)?;
        *dims.last_mut().expect("non-empty") = self.weight.dim(0)?;
        Ok((y, dims))
    }

    /// `forward` without adding the bias, for a fused kernel that adds it on its way.
    pub fn forward_without_bias(&self, x: &Tensor) -> Result<Tensor> {
        let (y, dims) = self.product(x)?;
        y.reshape(dims)
    }

    pub fn bias_values(&self) -> Result<Vec<f32>> {
        self.bias.to_vec1()
    }

    /// Inference only: `(h + f(x W + bias)) * mask`, f GELU or (without `gelu`) nothing, the
    /// product's bias, activation, residual and mask applied in one pass in place
    /// (`fused::GeluResidual`).
    pub fn residual(&self, x: &Tensor, h: &Tensor, mask: &Tensor, gelu: bool) -> Result<Tensor> {
        let y = self.forward_without_bias(x)?;
        let bias = self.bias_values()?;
        y.inplace_op3(
            &h.contiguous()?,
            &mask.contiguous()?,
            &GeluResidual { bias: &bias, gelu },
        )?;
        Ok(y)
    }
}

impl Module for Dense {
    /// `(.., in)` -> `(.., out)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (y, dims) = self.product(x)?;
        y.broadcast_add(&self.bias)?.reshape(dims)
    }
}

const LAYER_NORM_EPS: f32 = 1e-5;

#[derive(Debug, Clone)]
pub struct LayerNorm {
    weight: Tensor,
    bias: Tensor,
}

impl LayerNorm {
    pub fn new(size: usize, vb: VarBuilder) -> Result<Self> {
        Ok(LayerNorm {
            weight: vb.get_with_hints(size, "weight", candle_nn::Init::Const(1.0))?,
            bias: vb.get_with_hints(size, "bias", candle_nn::Init::Const(0.0))?,
        })
    }
}

impl Module for LayerNorm {
    /// `(.., hidden)` -> same shape, normalised over the last dimension.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let mean = x.mean_keepdim(D::Minus1)?;
        let centered = x.broadcast_sub(&mean)?;
        let var = centered.sqr()?.mean_keepdim(D::Minus1)?;
        let normed = centered.broadcast_div(&(var + f64::from(LAYER_NORM_EPS))?.sqrt()?)?;
        normed
            .broadcast_mul(&self.weight)?
            .broadcast_add(&self.bias)
    }
}

impl LayerNorm {
    /// Inference only: the norm with padding rows (mask `(..)` of 0/1 f32) set to zero, in one
    /// pass (`fused::MaskedLayerNorm`); the same numbers as `forward` then a mask multiply.
    pub fn forward_masked(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let weight = self.weight.to_vec1::<f32>()?;
        let bias = self.bias.to_vec1::<f32>()?;
        let op = MaskedLayerNorm {
            weight: &weight,
            bias: &bias,
            eps: LAYER_NORM_EPS,
        };
        x.contiguous()?.apply_op2_no_bwd(&mask.contiguous()?, &op)
    }
}

/// A 1-D convolution over the sequence axis with `kernel` taps spaced `dilation` apart, "same"
/// padding with zeros.
#[derive(Debug, Clone)]
pub struct DilatedConv {
    proj: Dense,
    kernel: usize,
    dilation: usize,
}

impl DilatedConv {
    pub fn new(hidden: usize, kernel: usize, dilation: usize, vb: VarBuilder) -> Result<Self> {
        Ok(DilatedConv {
            proj: Dense::new(hidden * kernel, hidden, vb.pp("proj"))?,
            kernel,
            dilation,
        })
    }
}

impl Module for DilatedConv {
    /// `(batch, seq, hidden)` -> `(batch, seq, hidden)`.
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, seq, _) = x.dims3()?;
        let reach = self.dilation * (self.kernel / 2);
        let padded = x.pad_with_zeros(1, reach, reach)?;
        // Each tap made contiguous first (one block copy per sequence): concatenating strided
        // views instead sends candle down an element-by-element copy, which profiled at a
        // third of inference time.
        let taps = (0..self.kernel)
            .map(|k| padded.narrow(1, k * self.dilation, seq)?.contiguous())
            .collect::<Result<Vec<_>>>()?;
        // (batch, seq, kernel * hidden)
        let stacked = Tensor::cat(&taps, 2)?;
        self.proj.forward(&stacked)
    }
}

impl DilatedConv {
    /// Inference only: `(h + gelu(conv(x))) * mask`, the tail of a residual block, with the
    /// taps gathered in one pass and bias, GELU, residual and mask applied in place
    /// (`fused::{ConvTaps, GeluResidual}`).
    pub fn residual_gelu(&self, x: &Tensor, h: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let taps = x.contiguous()?.apply_op1_no_bwd(&ConvTaps {
            kernel: self.kernel,
            dilation: self.dilation,
        })?;
        self.proj.residual(&taps, h, mask, true)
    }
}

/// Inverted dropout whose masks come from a seeded generator, so training is reproducible
/// (candle's CPU random numbers cannot be seeded).
pub struct Dropout {
    p: f32,
    rng: ChaCha8Rng,
}

impl Dropout {
    pub fn new(p: f32, seed: u64) -> Self {
        Dropout {
            p,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    pub fn apply(&mut self, x: &Tensor) -> Result<Tensor> {
        if self.p <= 0.0 {
            return Ok(x.clone());
        }
        let keep = 1.0 - self.p;
        let n = x.elem_count();
        let mask: Vec<f32> = (0..n)
            .map(|_| {
                if self.rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mask = Tensor::from_vec(mask, x.shape(), x.device())?;
        x.mul(&mask)
    }
}

impl Dropout {
    /// Replaces each real token id by `unk` with probability `p` (word dropout), so that the
    /// tagger learns from context and features rather than memorising the training words.
    pub fn drop_words(&mut self, ids: &mut [u32], mask: &[f32], p: f32, unk: u32) {
        for (id, &m) in ids.iter_mut().zip(mask) {
            if m > 0.0 && self.rng.random::<f32>() < p {
                *id = unk;
            }
        }
    }
}

/// Applies dropout when training (a generator is given), else passes `x` through.
pub fn maybe_dropout(x: &Tensor, dropout: Option<&mut Dropout>) -> Result<Tensor> {
    match dropout {
        Some(d) => d.apply(x),
        None => Ok(x.clone()),
    }
}

/// `(batch, seq)` mask as `(batch, seq, 1)` f32 for broadcasting over features.
pub fn mask3(mask: &Tensor) -> Result<Tensor> {
    mask.to_dtype(DType::F32)?.unsqueeze(2)
}
