//! Fused CPU kernels that training differentiates through: each is one candle custom op with
//! its own backward pass, in place of a chain of candle ops that each allocate a buffer and
//! record a backward node.
//!
//! Why (docs/PERF.md, "second session (issue 21: training)"): in a profile of a training epoch, candle's reductions in the
//! backward pass (the gradients of broadcast biases and of a layer norm's mean and variance)
//! took 23% of the time, and the GELU's forward and backward chains (libm's `tanhf` and
//! `powf` and their maps) about 15%. Here a layer norm, a bias + GELU, a bias add and a
//! residual block's tail are one pass forward and one backward, and the backward passes sum the
//! bias and weight gradients row by row. The same functions as the composed ops to float rounding (the tests below compare
//! values and gradients), and the same as the inference kernels of `fused.rs`: the layer norm is
//! the very same code.

use candle_core::{bail, CpuStorage, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::fused::{exp, f32s, gelu, lane_sum, layer_norm_rows, read, row_moments, wide};

/// Sums the rows of `rows` (`width` wide) into `acc`, in row order.
#[inline(always)]
fn add_rows(acc: &mut [f32], rows: &[f32]) {
    for row in rows.chunks_exact(acc.len()) {
        for (a, &v) in acc.iter_mut().zip(row) {
            *a += v;
        }
    }
}

/// Layer norm over the last dimension with padding rows (mask 0) set to zero:
/// `x` `(.., hidden)`, weight and bias `(hidden,)` -> `(.., hidden)`; `mask` holds one 0/1
/// value per row. Differentiable in all three arguments.
pub struct LayerNormOp {
    pub mask: Vec<f32>,
    pub eps: f32,
}

impl LayerNormOp {
    fn check(&self, x: usize, hidden: usize, bias: usize) -> Result<()> {
        if hidden == 0 || bias != hidden || x != self.mask.len() * hidden {
            bail!(
                "layer-norm: {x} values, {hidden} weights, {bias} biases, {} rows",
                self.mask.len()
            );
        }
        Ok(())
    }
}

impl CustomOp3 for LayerNormOp {
    fn name(&self) -> &'static str {
        "layer-norm"
    }

    fn cpu_fwd(
        &self,
        xs: &CpuStorage,
        xl: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let x = f32s(xs, xl, self.name())?;
        let w = f32s(ws, wl, self.name())?;
        let b = f32s(bs, bl, self.name())?;
        self.check(x.len(), w.len(), b.len())?;
        let mut out = vec![0f32; x.len()];
        layer_norm_rows(x, &self.mask, w, b, self.eps, &mut out);
        Ok((CpuStorage::F32(out), xl.shape().clone()))
    }

    /// With `xhat = (x - mean) / sd` and `g` the gradient of a real row's output:
    /// `dweight += g xhat`, `dbias += g`, and with `d = g weight`,
    /// `dx = (d - mean(d) - xhat mean(d xhat)) / sd`; a padding row's gradient is zero.
    fn bwd(
        &self,
        x: &Tensor,
        weight: &Tensor,
        _bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let name = self.name();
        let w = read(weight, name, |w| Ok(w.to_vec()))?;
        let hidden = w.len();
        let (dx, dw, db) = read(x, name, |x| {
            read(grad, name, |g| {
                self.check(x.len(), hidden, hidden)?;
                if g.len() != x.len() {
                    bail!("{name}: {} gradients for {} values", g.len(), x.len());
                }
                let mut dx = vec![0f32; x.len()];
                let mut dw = vec![0f32; hidden];
                let mut db = vec![0f32; hidden];
                let mut xhat = vec![0f32; hidden];
                let mut d = vec![0f32; hidden];
                let n = hidden as f32;
                wide(
                    #[inline(always)]
                    || {
                        for (((row, grow), dxrow), &m) in x
                            .chunks_exact(hidden)
                            .zip(g.chunks_exact(hidden))
                            .zip(dx.chunks_exact_mut(hidden))
                            .zip(&self.mask)
                        {
                            if m == 0.0 {
                                continue;
                            }
                            let (mean, sd) = row_moments(row, self.eps);
                            for (h, &v) in xhat.iter_mut().zip(row) {
                                *h = (v - mean) / sd;
                            }
                            for ((((dv, &gv), &wv), &h), (dwv, dbv)) in d
                                .iter_mut()
                                .zip(grow)
                                .zip(&w)
                                .zip(&xhat)
                                .zip(dw.iter_mut().zip(db.iter_mut()))
                            {
                                *dv = gv * wv;
                                *dwv += gv * h;
                                *dbv += gv;
                            }
                            let mean_d = lane_sum(d.iter().copied()) / n;
                            let mean_dh = lane_sum(d.iter().zip(&xhat).map(|(a, b)| a * b)) / n;
                            for ((o, &dv), &h) in dxrow.iter_mut().zip(&d).zip(&xhat) {
                                *o = (dv - mean_d - h * mean_dh) / sd;
                            }
                        }
                    },
                );
                Ok((dx, dw, db))
            })
        })?;
        let dev = x.device();
        Ok((
            Some(Tensor::from_vec(dx, x.shape(), dev)?),
            Some(Tensor::from_vec(dw, hidden, dev)?),
            Some(Tensor::from_vec(db, hidden, dev)?),
        ))
    }
}

/// `f(y + bias)` over the last dimension, f GELU (tanh form, `fused::gelu`) or the identity:
/// `y` `(.., n)`, bias `(n,)`. Differentiable in both.
pub struct BiasAct {
    pub gelu: bool,
}

/// The derivative of `fused::gelu` at `x`: with `s = sigmoid(2u)`, `u = c (x + a x^3)`,
/// `gelu = x s` and `gelu' = s + 2 x s (1 - s) u'`.
#[inline(always)]
fn gelu_grad(x: f32) -> f32 {
    const C: f32 = 0.797_884_6;
    const A: f32 = 0.044_715;
    let u = C * x * (1.0 + A * x * x);
    let s = 1.0 / (1.0 + exp(-2.0 * u));
    s + 2.0 * x * s * (1.0 - s) * C * (1.0 + 3.0 * A * x * x)
}

impl CustomOp2 for BiasAct {
    fn name(&self) -> &'static str {
        if self.gelu {
            "bias-gelu"
        } else {
            "bias-add"
        }
    }

    fn cpu_fwd(
        &self,
        ys: &CpuStorage,
        yl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let y = f32s(ys, yl, self.name())?;
        let b = f32s(bs, bl, self.name())?;
        if b.is_empty() || !y.len().is_multiple_of(b.len()) {
            bail!("{}: {} values, {} biases", self.name(), y.len(), b.len());
        }
        let mut out = vec![0f32; y.len()];
        #[inline(always)]
        fn apply(y: &[f32], b: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
            for (yr, or) in y.chunks_exact(b.len()).zip(out.chunks_exact_mut(b.len())) {
                for ((o, &v), &bv) in or.iter_mut().zip(yr).zip(b) {
                    *o = f(v + bv);
                }
            }
        }
        wide(
            #[inline(always)]
            || {
                if self.gelu {
                    apply(y, b, &mut out, gelu)
                } else {
                    apply(y, b, &mut out, |v| v)
                }
            },
        );
        Ok((CpuStorage::F32(out), yl.shape().clone()))
    }

    fn bwd(
        &self,
        y: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let name = self.name();
        let n = bias.elem_count();
        let dy = if self.gelu {
            let b = read(bias, name, |b| Ok(b.to_vec()))?;
            let dy = read(y, name, |y| {
                read(grad, name, |g| {
                    if g.len() != y.len() || n == 0 || !y.len().is_multiple_of(n) {
                        bail!("{name}: {} gradients for {} values", g.len(), y.len());
                    }
                    let mut dy = vec![0f32; y.len()];
                    wide(
                        #[inline(always)]
                        || {
                            for ((yr, gr), dr) in y
                                .chunks_exact(n)
                                .zip(g.chunks_exact(n))
                                .zip(dy.chunks_exact_mut(n))
                            {
                                for (((d, &v), &gv), &bv) in dr.iter_mut().zip(yr).zip(gr).zip(&b) {
                                    *d = gv * gelu_grad(v + bv);
                                }
                            }
                        },
                    );
                    Ok(dy)
                })
            })?;
            Tensor::from_vec(dy, y.shape(), y.device())?
        } else {
            grad.clone()
        };
        let mut db = vec![0f32; n];
        read(&dy, name, |d| {
            wide(
                #[inline(always)]
                || add_rows(&mut db, d),
            );
            Ok(())
        })?;
        Ok((Some(dy), Some(Tensor::from_vec(db, n, y.device())?)))
    }
}

/// `(h + y * scale) * mask` for `h`, `y` `(.., hidden)`: a residual block's tail with inverted
/// dropout's scales (one per value of `y`; None: no dropout) and one 0/1 mask value per row.
/// The same operations in the same order as the candle ops `h + y * scale`, then the mask
/// multiply, forward and backward, so training gives the same weights bit for bit.
pub struct Residual {
    pub dropout: Option<Vec<f32>>,
    pub mask: Vec<f32>,
}

impl Residual {
    fn check(&self, h: usize, y: usize) -> Result<usize> {
        let rows = self.mask.len();
        let scales = self.dropout.as_ref().map_or(y, Vec::len);
        if h != y || scales != y || rows == 0 || !y.is_multiple_of(rows) {
            bail!("residual: {h} and {y} values, {scales} scales, {rows} rows");
        }
        Ok(y / rows)
    }

    /// `f(i, m)` for each value's index and its row's mask value.
    #[inline(always)]
    fn each(&self, hidden: usize, mut f: impl FnMut(usize, f32)) {
        for (r, &m) in self.mask.iter().enumerate() {
            for i in r * hidden..(r + 1) * hidden {
                f(i, m);
            }
        }
    }
}

impl CustomOp2 for Residual {
    fn name(&self) -> &'static str {
        "residual"
    }

    fn cpu_fwd(
        &self,
        hs: &CpuStorage,
        hl: &Layout,
        ys: &CpuStorage,
        yl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let h = f32s(hs, hl, self.name())?;
        let y = f32s(ys, yl, self.name())?;
        let hidden = self.check(h.len(), y.len())?;
        let mut out = vec![0f32; y.len()];
        wide(
            #[inline(always)]
            || match &self.dropout {
                Some(d) => self.each(hidden, |i, m| out[i] = (h[i] + y[i] * d[i]) * m),
                None => self.each(hidden, |i, m| out[i] = (h[i] + y[i]) * m),
            },
        );
        Ok((CpuStorage::F32(out), yl.shape().clone()))
    }

    fn bwd(
        &self,
        h: &Tensor,
        y: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let hidden = self.check(h.elem_count(), y.elem_count())?;
        let (dh, dy) = read(grad, self.name(), |g| {
            if g.len() != y.elem_count() {
                bail!("{}: {} gradients", self.name(), g.len());
            }
            let mut dh = vec![0f32; g.len()];
            self.each(hidden, |i, m| dh[i] = g[i] * m);
            let dy = match &self.dropout {
                Some(d) => dh.iter().zip(d).map(|(a, b)| a * b).collect(),
                None => dh.clone(),
            };
            Ok((dh, dy))
        })?;
        Ok((
            Some(Tensor::from_vec(dh, h.shape(), h.device())?),
            Some(Tensor::from_vec(dy, y.shape(), y.device())?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::{Device, Var};

    fn var(values: Vec<f32>, shape: &[usize]) -> Var {
        Var::from_tensor(&Tensor::from_vec(values, shape, &Device::Cpu).unwrap()).unwrap()
    }

    fn ramp(n: usize, scale: f32, shift: usize) -> Vec<f32> {
        (0..n)
            .map(|i| (((i + shift) * 37 % 23) as f32 - 11.0) * scale)
            .collect()
    }

    fn largest_difference(a: &Tensor, b: &Tensor) -> f32 {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(&b)
            .map(|(x, y)| (x - y).abs())
            .fold(0.0, f32::max)
    }

    /// A loss that weighs every output differently, so that each output's gradient differs.
    fn loss(out: &Tensor) -> Tensor {
        let w =
            Tensor::from_vec(ramp(out.elem_count(), 0.1, 5), out.shape(), &Device::Cpu).unwrap();
        (out * w).unwrap().sum_all().unwrap()
    }

    /// Values and the gradients of every argument, of the op and of the same function made of
    /// candle's own ops, for the same inputs.
    fn compare(
        inputs: &[Var],
        op: impl Fn(&[Tensor]) -> Tensor,
        composed: impl Fn(&[Tensor]) -> Tensor,
    ) -> (f32, Vec<f32>) {
        let t: Vec<Tensor> = inputs.iter().map(|v| v.as_tensor().clone()).collect();
        let (a, b) = (op(&t), composed(&t));
        let (ga, gb) = (loss(&a).backward().unwrap(), loss(&b).backward().unwrap());
        let grads = t
            .iter()
            .map(|x| largest_difference(ga.get(x).unwrap(), gb.get(x).unwrap()))
            .collect();
        (largest_difference(&a, &b), grads)
    }

    #[test]
    fn layer_norm_values_and_gradients_equal_the_composed_ops() {
        let (rows, hidden) = (6, 5);
        let mask = vec![1., 1., 0., 1., 1., 0.];
        let x = var(ramp(rows * hidden, 0.3, 0), &[2, 3, hidden]);
        let w = var(ramp(hidden, 0.2, 3), &[hidden]);
        let b = var(ramp(hidden, 0.1, 7), &[hidden]);
        let m = Tensor::from_vec(mask.clone(), (2, 3, 1), &Device::Cpu).unwrap();
        let (values, grads) = compare(
            &[x, w, b],
            |t| {
                let op = LayerNormOp {
                    mask: mask.clone(),
                    eps: 1e-5,
                };
                t[0].apply_op3(&t[1], &t[2], op).unwrap()
            },
            |t| {
                let mean = t[0].mean_keepdim(2).unwrap();
                let c = t[0].broadcast_sub(&mean).unwrap();
                let var = c.sqr().unwrap().mean_keepdim(2).unwrap();
                c.broadcast_div(&(var + 1e-5).unwrap().sqrt().unwrap())
                    .unwrap()
                    .broadcast_mul(&t[1])
                    .unwrap()
                    .broadcast_add(&t[2])
                    .unwrap()
                    .broadcast_mul(&m)
                    .unwrap()
            },
        );
        assert!(values < 1e-5, "values differ by {values}");
        for (name, g) in ["x", "weight", "bias"].iter().zip(grads) {
            assert!(g < 1e-4, "the gradient of {name} differs by {g}");
        }
    }

    #[test]
    fn bias_gelu_and_bias_add_equal_the_composed_ops() {
        let (rows, n) = (7, 4);
        for gelu in [true, false] {
            let y = var(ramp(rows * n, 0.45, 1), &[rows, n]);
            let b = var(ramp(n, 0.3, 2), &[n]);
            let (values, grads) = compare(
                &[y, b],
                |t| t[0].apply_op2(&t[1], BiasAct { gelu }).unwrap(),
                |t| {
                    let s = t[0].broadcast_add(&t[1]).unwrap();
                    if gelu {
                        s.gelu().unwrap()
                    } else {
                        s
                    }
                },
            );
            let exact = if gelu { 1e-5 } else { 0.0 };
            assert!(values <= exact, "gelu {gelu}: values differ by {values}");
            for (name, g) in ["y", "bias"].iter().zip(grads) {
                assert!(
                    g < 1e-4,
                    "gelu {gelu}: the gradient of {name} differs by {g}"
                );
            }
        }
    }

    #[test]
    fn the_residual_tail_is_the_composed_ops_bit_for_bit() {
        let (rows, hidden) = (6, 4);
        let mask = vec![1., 0., 1., 1., 0., 1.];
        let scales: Vec<f32> = (0..rows * hidden)
            .map(|i| if i % 3 == 0 { 0.0 } else { 1.0 / 0.7 })
            .collect();
        let m = Tensor::from_vec(mask.clone(), (2, 3, 1), &Device::Cpu).unwrap();
        let s = Tensor::from_vec(scales.clone(), (2, 3, hidden), &Device::Cpu).unwrap();
        for dropout in [Some(scales), None] {
            let h = var(ramp(rows * hidden, 0.3, 0), &[2, 3, hidden]);
            let y = var(ramp(rows * hidden, 0.7, 4), &[2, 3, hidden]);
            let with = dropout.is_some();
            let (values, grads) = compare(
                &[h, y],
                |t| {
                    let op = Residual {
                        dropout: dropout.clone(),
                        mask: mask.clone(),
                    };
                    t[0].apply_op2(&t[1], op).unwrap()
                },
                |t| {
                    let y = if with {
                        t[1].mul(&s).unwrap()
                    } else {
                        t[1].clone()
                    };
                    (&t[0] + y).unwrap().broadcast_mul(&m).unwrap()
                },
            );
            assert_eq!(values, 0.0, "dropout {with}");
            assert_eq!(grads, vec![0.0, 0.0], "dropout {with}");
        }
    }

    #[test]
    fn shapes_that_do_not_fit_are_errors() {
        let x = Tensor::zeros((2, 3), candle_core::DType::F32, &Device::Cpu).unwrap();
        let w = Tensor::zeros(4, candle_core::DType::F32, &Device::Cpu).unwrap();
        let op = LayerNormOp {
            mask: vec![1.0; 2],
            eps: 1e-5,
        };
        let err = x.apply_op3(&w, &w, op).unwrap_err().to_string();
        assert!(err.contains("layer-norm"), "{err}");
        let err = x
            .apply_op2(&w, BiasAct { gelu: true })
            .unwrap_err()
            .to_string();
        assert!(err.contains("bias-gelu: 6 values, 4 biases"), "{err}");
    }
}
