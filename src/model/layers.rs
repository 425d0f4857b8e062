//! Small layers candle-nn does not give in the form needed here: a layer norm that has a
//! backward pass (candle-nn's fast path is a custom op without one), a dilated convolution made
//! of shifted copies and one matrix product (which batches well on CPU), and seeded dropout.

use candle_core::{DType, Module, Result, Tensor};
use candle_nn::VarBuilder;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fused::{ConvTaps, GeluResidual};
use super::trainable::{BiasAct, LayerNormOp, Residual};

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

impl Dense {
    /// `(.., in)` -> GELU of the layer, `(.., out)`, the bias and GELU in one differentiable
    /// pass (`trainable::BiasAct`).
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        let (y, dims) = self.product(x)?;
        y.apply_op2(&self.bias, BiasAct { gelu: true })?
            .reshape(dims)
    }
}

impl Module for Dense {
    /// `(.., in)` -> `(.., out)`; the bias added by `trainable::BiasAct`, whose backward pass
    /// sums the bias's gradient row by row (candle's reduction over the rows was slow).
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (y, dims) = self.product(x)?;
        y.apply_op2(&self.bias, BiasAct { gelu: false })?
            .reshape(dims)
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

impl LayerNorm {
    /// `x` `(.., hidden)` normalised over the last dimension, with the rows at padding (mask
    /// `(..)` of 0/1 f32) set to zero, in one differentiable pass (`trainable::LayerNormOp`):
    /// the same op in training and at inference.
    pub fn forward_masked(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let op = LayerNormOp {
            mask: mask.flatten_all()?.to_vec1()?,
            eps: LAYER_NORM_EPS,
        };
        x.contiguous()?.apply_op3(&self.weight, &self.bias, op)
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

impl DilatedConv {
    /// `(batch, seq, hidden)` -> GELU of the convolution, `(batch, seq, hidden)`.
    pub fn forward_gelu(&self, x: &Tensor) -> Result<Tensor> {
        self.proj.forward_gelu(&self.taps(x)?)
    }

    /// `(batch, seq, hidden)` -> the taps side by side, `(batch, seq, kernel * hidden)`, in one
    /// pass forward and one backward (`fused::ConvTaps`): candle's zero padding, narrowed
    /// copies and concatenation, and their backward nodes, were a tenth of training time.
    fn taps(&self, x: &Tensor) -> Result<Tensor> {
        x.contiguous()?.apply_op1(ConvTaps {
            kernel: self.kernel,
            dilation: self.dilation,
        })
    }
}

impl DilatedConv {
    /// Inference only: `(h + gelu(conv(x))) * mask`, the tail of a residual block, with the
    /// taps gathered in one pass and bias, GELU, residual and mask applied in place
    /// (`fused::{ConvTaps, GeluResidual}`).
    pub fn residual_gelu(&self, x: &Tensor, h: &Tensor, mask: &Tensor) -> Result<Tensor> {
        self.proj.residual(&self.taps(x)?, h, mask, true)
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
        match self.scales(x.elem_count()) {
            None => Ok(x.clone()),
            Some(scales) => x.mul(&Tensor::from_vec(scales, x.shape(), x.device())?),
        }
    }

    /// The next `n` scales of inverted dropout (`1 / keep` or 0), or None when `p` is 0.
    fn scales(&mut self, n: usize) -> Option<Vec<f32>> {
        if self.p <= 0.0 {
            return None;
        }
        let keep = 1.0 - self.p;
        Some(
            (0..n)
                .map(|_| {
                    if self.rng.random::<f32>() < keep {
                        1.0 / keep
                    } else {
                        0.0
                    }
                })
                .collect(),
        )
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

/// A residual block's tail, `(h + dropout(y)) * mask`, for `h`, `y` `(.., hidden)` and the
/// mask `(..)` f32, in one differentiable pass (`trainable::Residual`); dropout when a
/// generator is given. The numbers of the candle ops it replaces, bit for bit (tested).
pub fn residual(
    h: &Tensor,
    y: &Tensor,
    mask: &Tensor,
    dropout: Option<&mut Dropout>,
) -> Result<Tensor> {
    let op = Residual {
        dropout: dropout.and_then(|d| d.scales(y.elem_count())),
        mask: mask.flatten_all()?.to_vec1()?,
    };
    h.contiguous()?.apply_op2(&y.contiguous()?, op)
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
