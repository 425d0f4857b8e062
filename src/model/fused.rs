//! Inference-only CPU kernels for the encoder's hot path.
//!
//! Each replaces a chain of candle ops, every one of which allocates and fills a fresh buffer,
//! by one pass over the data: the gathering of a dilated convolution's taps, bias + GELU +
//! residual + mask written in place over the convolution's output, and the weighted mean of
//! each token's n-gram vectors read straight from their table. They have no backward pass:
//! training composes the same arithmetic from candle ops and the kernels of `trainable.rs`
//! (`layers.rs`, `encoder.rs`), and the tests below check that both give the same numbers.
//! The masked layer norm's rows (`layer_norm_rows`) are here too; its op, `trainable.rs`'s, is
//! the same at inference and in training.
//!
//! Why (docs/EXPERIMENTS.md, "Speed"): profiled on the 130 letters, the tanh of candle's GELU took a quarter
//! of inference time, and allocating, page-faulting and copying the intermediate buffers about
//! a fifth.

use candle_core::{
    bail, CpuStorage, CustomOp1, InplaceOp3, Layout, Result, Shape, Storage, Tensor,
};

/// The contiguous `f32` data a layout describes, or an error naming the kernel.
pub(super) fn f32s<'s>(
    storage: &'s CpuStorage,
    layout: &Layout,
    kernel: &str,
) -> Result<&'s [f32]> {
    let CpuStorage::F32(data) = storage else {
        bail!("{kernel}: expects f32 data");
    };
    let Some((start, end)) = layout.contiguous_offsets() else {
        bail!("{kernel}: expects contiguous data");
    };
    Ok(&data[start..end])
}

/// Runs `f` on the f32 data of `t` (made contiguous first).
pub(super) fn read<R>(t: &Tensor, kernel: &str, f: impl FnOnce(&[f32]) -> Result<R>) -> Result<R> {
    let t = t.contiguous()?;
    let (storage, layout) = t.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("{kernel}: expects a CPU tensor");
    };
    f(f32s(cpu, layout, kernel)?)
}

/// Runs `f` compiled for AVX2 where the CPU has it (every x86-64 CPU since 2013-2015), else as
/// built (x86-64's baseline SSE2): the element-wise loops of the kernels here then take eight
/// floats an instruction instead of four. The same operations in the same order either way
/// (Rust does not reassociate or fuse float arithmetic), so the results are bit for bit the
/// same. `f` and what it calls must inline into it (they are closures and `inline(always)`).
#[inline(always)]
pub(super) fn wide<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") {
        // SAFETY: the CPU has AVX2, the one feature `avx2` is compiled for.
        return unsafe { avx2(f) };
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// The sum of `values` in eight running sums, added up at the end: a sum in order is a chain
/// of dependent additions that neither pipelines nor vectorises (a layer norm's two sums were
/// most of its time).
#[inline(always)]
pub(super) fn lane_sum(values: impl Iterator<Item = f32>) -> f32 {
    let mut lanes = [0f32; 8];
    for (i, v) in values.enumerate() {
        lanes[i % 8] += v;
    }
    lanes.iter().sum()
}

/// `e^x` to within a few ulps, branch-free so that the loops around it vectorise: range
/// reduction by powers of two, then a degree-7 Taylor polynomial on `|r| <= ln 2 / 2`.
#[inline(always)]
pub(super) fn exp(x: f32) -> f32 {
    // ln 2 split in two, the first part exact in few bits so that `n * LN2_HI` is exact.
    const LN2_HI: f32 = 0.693_359_4;
    const LN2_LO: f32 = -2.121_944_4e-4;
    // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer without a libm call.
    const ROUND: f32 = 12_582_912.0;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E + ROUND) - ROUND;
    let r = (x - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (1.0 / 2.0
                + r * (1.0 / 6.0
                    + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r / 5040.0))))));
    // 2^n built from its exponent bits; n is in [-126, 127] after the clamp.
    let scale = f32::from_bits(((n as i32 + 127) as u32) << 23);
    p * scale
}

/// GELU in its tanh form, as candle's `gelu`: `0.5 x (1 + tanh(u))` with
/// `u = sqrt(2/pi) (x + 0.044715 x^3)`, computed as `x / (1 + e^(-2u))`, the same function,
/// with one exponential instead of libm's tanh.
#[inline(always)]
pub fn gelu(x: f32) -> f32 {
    const SQRT_2_OVER_PI: f32 = 0.797_884_6;
    let u = SQRT_2_OVER_PI * x * (1.0 + 0.044_715 * x * x);
    x / (1.0 + exp(-2.0 * u))
}

/// The mean of a row and its standard deviation with `eps` added to the variance.
#[inline(always)]
pub(super) fn row_moments(row: &[f32], eps: f32) -> (f32, f32) {
    let n = row.len() as f32;
    let mean = lane_sum(row.iter().copied()) / n;
    let var = lane_sum(row.iter().map(|v| (v - mean) * (v - mean))) / n;
    (mean, (var + eps).sqrt())
}

/// Layer norm over rows of `weight.len()` values, rows at padding (mask 0) left as they are in
/// `out` (zeros): one value of `mask` per row. The forward pass of `trainable::LayerNormOp`,
/// at inference and in training alike.
pub(super) fn layer_norm_rows(
    x: &[f32],
    mask: &[f32],
    weight: &[f32],
    bias: &[f32],
    eps: f32,
    out: &mut [f32],
) {
    let hidden = weight.len();
    wide(
        #[inline(always)]
        || {
            for ((row, o), &m) in x
                .chunks_exact(hidden)
                .zip(out.chunks_exact_mut(hidden))
                .zip(mask)
            {
                if m == 0.0 {
                    continue;
                }
                let (mean, sd) = row_moments(row, eps);
                for (((o, &v), &w), &b) in o.iter_mut().zip(row).zip(weight).zip(bias) {
                    *o = (v - mean) / sd * w + b;
                }
            }
        },
    );
}

/// The taps of a dilated convolution side by side: `(batch, seq, hidden)` ->
/// `(batch, seq, kernel * hidden)`, tap `j` of position `t` being position
/// `t + (j - kernel / 2) * dilation`, zeros beyond either end.
pub struct ConvTaps {
    pub kernel: usize,
    pub dilation: usize,
}

impl ConvTaps {
    /// Every copy the taps make in a `(batch, seq, hidden)` input: the offset of a tap's row
    /// in the taps `(batch, seq, kernel * hidden)` and of the input row it copies (taps that
    /// fall beyond either end of the sequence stay zero and are not listed).
    #[inline(always)]
    fn copies(
        &self,
        batch: usize,
        seq: usize,
        hidden: usize,
    ) -> impl Iterator<Item = (usize, usize)> {
        let (kernel, dilation) = (self.kernel, self.dilation);
        let reach = (kernel / 2) * dilation;
        (0..batch * seq).flat_map(move |bt| {
            let (b, t) = (bt / seq, bt % seq);
            (0..kernel).filter_map(move |j| {
                let at = (t + j * dilation)
                    .checked_sub(reach)
                    .filter(|&at| at < seq)?;
                Some(((bt * kernel + j) * hidden, (b * seq + at) * hidden))
            })
        })
    }
}

impl CustomOp1 for ConvTaps {
    fn name(&self) -> &'static str {
        "conv-taps"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let x = f32s(storage, layout, self.name())?;
        let &[batch, seq, hidden] = layout.dims() else {
            bail!(
                "{}: expects (batch, seq, hidden), got {:?}",
                self.name(),
                layout.dims()
            );
        };
        let mut out = vec![0f32; batch * seq * self.kernel * hidden];
        for (o, i) in self.copies(batch, seq, hidden) {
            out[o..o + hidden].copy_from_slice(&x[i..i + hidden]);
        }
        Ok((
            CpuStorage::F32(out),
            Shape::from((batch, seq, self.kernel * hidden)),
        ))
    }

    /// Each tap's gradient added back to the row it was copied from, in the order of the
    /// copies.
    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (batch, seq, hidden) = x.dims3()?;
        let mut dx = vec![0f32; batch * seq * hidden];
        read(grad, self.name(), |g| {
            if g.len() != batch * seq * self.kernel * hidden {
                bail!("{}: gradient of {} values", self.name(), g.len());
            }
            wide(
                #[inline(always)]
                || {
                    for (o, i) in self.copies(batch, seq, hidden) {
                        for (d, &v) in dx[i..i + hidden].iter_mut().zip(&g[o..o + hidden]) {
                            *d += v;
                        }
                    }
                },
            );
            Ok(())
        })?;
        Ok(Some(Tensor::from_vec(
            dx,
            (batch, seq, hidden),
            x.device(),
        )?))
    }
}

/// A residual block's tail, in place over a layer's output `y` (without its bias):
/// `y <- (h + gelu(y + bias)) * mask`, for `y`, `h` `(.., hidden)` and mask `(..)`; without
/// `gelu`, `y <- (h + y + bias) * mask` (the LSTM layer's tail).
pub struct GeluResidual<'w> {
    pub bias: &'w [f32],
    pub gelu: bool,
}

impl InplaceOp3 for GeluResidual<'_> {
    fn name(&self) -> &'static str {
        "gelu-residual"
    }

    fn cpu_fwd(
        &self,
        ys: &mut CpuStorage,
        yl: &Layout,
        hs: &CpuStorage,
        hl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
    ) -> Result<()> {
        let h = f32s(hs, hl, self.name())?;
        let mask = f32s(ms, ml, self.name())?;
        let CpuStorage::F32(y) = ys else {
            bail!("{}: expects f32 data", self.name());
        };
        let Some((start, end)) = yl.contiguous_offsets() else {
            bail!("{}: expects contiguous data", self.name());
        };
        let y = &mut y[start..end];
        let hidden = self.bias.len();
        if hidden == 0 || y.len() != h.len() || y.len() != mask.len() * hidden {
            bail!(
                "{}: shapes {:?}, {:?}, {:?}",
                self.name(),
                yl.dims(),
                hl.dims(),
                ml.dims()
            );
        }
        let rows = y
            .chunks_exact_mut(hidden)
            .zip(h.chunks_exact(hidden))
            .zip(mask);
        // Generic over the function, not a `fn` pointer: a pointer call per element neither
        // inlines nor vectorises (it cost GELU 13% of predict's time in a profile).
        #[inline(always)]
        fn tail<'a>(
            rows: impl Iterator<Item = ((&'a mut [f32], &'a [f32]), &'a f32)>,
            bias: &[f32],
            f: impl Fn(f32) -> f32,
        ) {
            for ((yr, hr), &m) in rows {
                if m == 0.0 {
                    yr.fill(0.0);
                    continue;
                }
                for ((y, &h), &b) in yr.iter_mut().zip(hr).zip(bias) {
                    *y = h + f(*y + b);
                }
            }
        }
        wide(
            #[inline(always)]
            || {
                if self.gelu {
                    tail(rows, self.bias, gelu);
                } else {
                    tail(rows, self.bias, |v| v);
                }
            },
        );
        Ok(())
    }
}

/// Each token's n-gram vectors weighted and summed: `table` `(buckets, dim)`, `ids` and
/// `weights` `(batch, seq, k)` -> `(batch, seq, dim)`, as `index_select` of every slot's row,
/// times its weight, summed over the slots (`encoder::ngram_mean_ops`, the training path), without
/// the `(batch, seq, k, dim)` buffer between. Slots of weight 0 are skipped; an id outside the
/// table is an error.
pub fn ngram_mean(table: &Tensor, ids: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let (b, s, k) = ids.dims3()?;
    let (rows, d) = table.dims2()?;
    let ids: Vec<u32> = ids.flatten_all()?.to_vec1()?;
    let w: Vec<f32> = weights.flatten_all()?.to_vec1()?;
    if w.len() != ids.len() {
        bail!("ngram_mean: {} weights for {} ids", w.len(), ids.len());
    }
    let table = table.contiguous()?;
    let (storage, layout) = table.storage_and_layout();
    let Storage::Cpu(cpu) = &*storage else {
        bail!("ngram_mean: expects a CPU tensor");
    };
    let t = f32s(cpu, layout, "ngram_mean")?;
    let mut out = vec![0f32; b * s * d];
    for (row, o) in out.chunks_exact_mut(d).enumerate() {
        for j in row * k..(row + 1) * k {
            if w[j] == 0.0 {
                continue;
            }
            let g = ids[j] as usize;
            if g >= rows {
                bail!("ngram_mean: bucket {g} outside a table of {rows}");
            }
            for (x, &v) in o.iter_mut().zip(&t[g * d..(g + 1) * d]) {
                *x += w[j] * v;
            }
        }
    }
    drop(storage);
    Tensor::from_vec(out, (b, s, d), table.device())
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn ngram_mean_equals_the_training_path_and_refuses_a_bucket_outside() {
        let dev = Device::Cpu;
        let table = Tensor::from_vec(
            (0..40)
                .map(|i| ((i as f32) * 0.31).sin())
                .collect::<Vec<_>>(),
            (10, 4),
            &dev,
        )
        .unwrap();
        let ids = Tensor::from_vec(vec![3u32, 7, 0, 9, 0, 0], (1, 2, 3), &dev).unwrap();
        let w = Tensor::from_vec(vec![0.5f32, 0.5, 0.0, 1.0, 0.0, 0.0], (1, 2, 3), &dev).unwrap();
        let fused = ngram_mean(&table, &ids, &w).unwrap();
        let plain = crate::model::encoder::ngram_mean_ops(&table, &ids, &w).unwrap();
        let diff = (fused - plain)
            .unwrap()
            .abs()
            .unwrap()
            .max_all()
            .unwrap()
            .to_scalar::<f32>()
            .unwrap();
        assert!(diff < 1e-6, "{diff}");
        let bad = Tensor::from_vec(vec![3u32, 10, 0, 9, 0, 0], (1, 2, 3), &dev).unwrap();
        let err = ngram_mean(&table, &bad, &w).unwrap_err().to_string();
        assert!(err.contains("bucket 10 outside a table of 10"), "{err}");
    }

    #[test]
    fn exp_and_gelu_match_the_library_functions() {
        let mut worst_exp = 0f32;
        let mut worst_gelu = 0f32;
        for i in -40_000..=40_000 {
            let x = i as f32 / 1000.0;
            if x.abs() < 80.0 {
                worst_exp = worst_exp.max(((exp(x) - x.exp()) / x.exp()).abs());
            }
            let reference = 0.5 * x * (1.0 + (0.797_884_6 * x * (1.0 + 0.044_715 * x * x)).tanh());
            worst_gelu = worst_gelu.max((gelu(x) - reference).abs());
        }
        assert!(worst_exp < 1e-6, "exp relative error {worst_exp}");
        assert!(worst_gelu < 2e-6, "gelu error {worst_gelu}");
        assert!(gelu(-200.0).abs() < 1e-30);
        assert_eq!(gelu(200.0), 200.0);
    }

    fn tensor(rows: &[f32], shape: &[usize]) -> Tensor {
        Tensor::from_vec(rows.to_vec(), shape, &Device::Cpu).unwrap()
    }

    fn ramp(n: usize, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i * 37 % 23) as f32 - 11.0) * scale)
            .collect()
    }

    fn close(a: &Tensor, b: &Tensor) -> f32 {
        (a - b)
            .unwrap()
            .abs()
            .unwrap()
            .flatten_all()
            .unwrap()
            .max(0)
            .unwrap()
            .to_scalar()
            .unwrap()
    }

    /// A dilated convolution's taps from candle ops: zero-padded narrowed copies, concatenated.
    fn composed_taps(x: &Tensor, kernel: usize, dilation: usize) -> Tensor {
        let seq = x.dim(1).unwrap();
        let reach = dilation * (kernel / 2);
        let padded = x.pad_with_zeros(1, reach, reach).unwrap();
        let taps: Vec<Tensor> = (0..kernel)
            .map(|k| padded.narrow(1, k * dilation, seq).unwrap())
            .collect();
        Tensor::cat(&taps, 2).unwrap()
    }

    #[test]
    fn conv_taps_gradient_equals_the_composed_ops() {
        let (batch, seq, hidden, kernel, dilation) = (2, 6, 3, 3, 2);
        let x = candle_core::Var::from_tensor(&tensor(
            &ramp(batch * seq * hidden, 0.3),
            &[batch, seq, hidden],
        ))
        .unwrap();
        let weights = tensor(
            &ramp(batch * seq * hidden * kernel, 0.11),
            &[batch, seq, kernel * hidden],
        );
        let fused = x.apply_op1(ConvTaps { kernel, dilation }).unwrap();
        let composed = composed_taps(&x, kernel, dilation);
        let grad = |t: &Tensor| {
            let g = (t * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            g.get(&x).unwrap().clone()
        };
        assert!(close(&grad(&fused), &grad(&composed)) < 1e-6);
    }

    #[test]
    fn kernels_match_the_composed_candle_ops() {
        let (batch, seq, hidden, kernel, dilation) = (2, 7, 4, 3, 2);
        let x = tensor(&ramp(batch * seq * hidden, 0.3), &[batch, seq, hidden]);
        let mask = tensor(
            &[1., 1., 1., 1., 1., 0., 0., 1., 1., 1., 1., 1., 1., 1.],
            &[2, 7],
        );
        let m3 = mask.unsqueeze(2).unwrap();
        let bias = [0.1, -0.2, 0.0, 0.3];

        let b = tensor(&bias, &[hidden]);

        // Taps: zero-padded narrowed copies, concatenated.
        let composed = composed_taps(&x, kernel, dilation);
        let fused = x.apply_op1_no_bwd(&ConvTaps { kernel, dilation }).unwrap();
        assert_eq!(
            composed.to_vec3::<f32>().unwrap(),
            fused.to_vec3::<f32>().unwrap()
        );

        // Bias, GELU, residual, mask.
        let y = tensor(&ramp(batch * seq * hidden, 0.7), &[batch, seq, hidden]);
        let composed = (&x + y.broadcast_add(&b).unwrap().gelu().unwrap())
            .unwrap()
            .broadcast_mul(&m3)
            .unwrap();
        let fused = y.copy().unwrap();
        let op = |gelu| GeluResidual { bias: &bias, gelu };
        fused.inplace_op3(&x, &mask, &op(true)).unwrap();
        assert!(close(&composed, &fused) < 1e-5);

        // Without GELU (the LSTM layer's tail): the same sums as candle's, bit for bit.
        let composed = (&x + y.broadcast_add(&b).unwrap())
            .unwrap()
            .broadcast_mul(&m3)
            .unwrap();
        let fused = y.copy().unwrap();
        fused.inplace_op3(&x, &mask, &op(false)).unwrap();
        assert_eq!(close(&composed, &fused), 0.0);
    }
}
