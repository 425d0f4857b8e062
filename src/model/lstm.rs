//! A bidirectional LSTM layer, an optional top of the encoder (`ModelConfig::lstm_units`) and
//! the encoder of the second tagger (`ModelConfig::lstm_tagger_units`): pre-norm and residual
//! like the convolution blocks, `units` cells per direction, the two directions' outputs
//! projected back to the hidden size.
//!
//! Written here rather than taken from candle-nn for speed and for padding. candle-nn's LSTM
//! multiplies each step's input by the input weights inside the step and runs a dozen candle
//! ops per step, each with its own buffers and backward node; here all steps' input gates of
//! both directions come from one `(batch * seq, hidden) x (hidden, 8 * units)` product, and the
//! recurrence over the whole sequence is one op (`Recurrence`) in plain Rust with its own
//! backward pass through time: per step, one matrix product for all rows of a batch and the
//! cells' arithmetic in passes over slices. And candle-nn's `Backward` direction does not
//! reverse the sequence, and a plain reversal of a padded batch would feed the padding to the
//! backward cells first: here each row's real tokens are read forward, then backward, wherever
//! its padding is, so padding never reaches a real token's state.
//!
//! Unlike the convolutions, one output depends on the whole window: windowed tagging is close
//! to one pass over the letter but not equal (`ModelConfig::receptive_radius`).

use candle_core::{CpuStorage, CustomOp3, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;
use ndarray::linalg::general_mat_mul;
use ndarray::{s, Array2, ArrayView2, ArrayViewMut2};

use super::fused::{exp, f32s};
use super::layers::{maybe_dropout, residual, Dense, Dropout, LayerNorm};

#[derive(Debug, Clone)]
pub struct BiLstm {
    norm: LayerNorm,
    /// hidden -> the input, forget, cell and output gates of the forward then the backward cells.
    gates: Dense,
    /// `(2, 4 * units, units)`: each direction's recurrent weights.
    recurrent: Tensor,
    out: Dense,
}

impl BiLstm {
    pub fn new(hidden: usize, units: usize, vb: VarBuilder) -> Result<Self> {
        if units == 0 {
            candle_core::bail!("lstm: 0 units");
        }
        let bound = 1.0 / (units as f64).sqrt();
        Ok(BiLstm {
            norm: LayerNorm::new(hidden, vb.pp("norm"))?,
            gates: Dense::new(hidden, 8 * units, vb.pp("gates"))?,
            recurrent: vb.get_with_hints(
                (2, 4 * units, units),
                "recurrent",
                candle_nn::Init::Uniform {
                    lo: -bound,
                    up: bound,
                },
            )?,
            out: Dense::new(2 * units, hidden, vb.pp("out"))?,
        })
    }

    /// h `(batch, seq, hidden)`, mask `(batch, seq)` f32 -> `h + out(lstm(norm(h)))`, padding
    /// zero. Differentiable; dropout on the cells' outputs when given.
    pub fn forward(
        &self,
        h: &Tensor,
        mask: &Tensor,
        dropout: Option<&mut Dropout>,
    ) -> Result<Tensor> {
        let normed = self.norm.forward_masked(h, mask)?;
        let gates = self.gates.forward(&normed)?.contiguous()?;
        let cells = gates.apply_op3(
            &mask.contiguous()?,
            &self.recurrent.contiguous()?,
            Recurrence { bias: None },
        )?;
        let y = maybe_dropout(&cells, dropout)?;
        residual(h, &self.out.forward(&y)?, mask, None)
    }

    /// `forward` at inference (no dropout, no graph kept): the fused masked norm, the input
    /// gates' bias added by the recurrence as it reads each step's gates, and the output's bias,
    /// residual and mask in one pass (`Dense::residual` without GELU). The same sums as
    /// `forward`; candle's broadcast adds of the biases were a third of the layer's time.
    pub fn infer(&self, h: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let gates = self
            .gates
            .forward_without_bias(&self.norm.forward_masked(h, mask)?)?;
        let y = gates.contiguous()?.apply_op3_no_bwd(
            &mask.contiguous()?,
            &self.recurrent.contiguous()?,
            &Recurrence {
                bias: Some(self.gates.bias_values()?),
            },
        )?;
        self.out.residual(&y, h, mask, false)
    }
}

#[inline(always)]
fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + exp(-x))
}

#[inline(always)]
fn tanh(x: f32) -> f32 {
    2.0 * sigmoid(2.0 * x) - 1.0
}

/// The cells of both directions over whole sequences: the input gates `(batch, seq, 8u)` (the
/// forward cells' input, forget, candidate and output gates, then the backward cells'), the
/// mask `(batch, seq)` and the recurrent weights `(2, 4u, u)` -> the states `(batch, seq, 2u)`
/// at their tokens' positions, the forward cells' first, zero at padding. The gradient flows
/// to the input gates and the recurrent weights. The exponentials are `fused::exp`, so that
/// the gate functions vectorise (tests compare the op with a composition of candle's ops).
/// At inference the op can add the gates' bias `(8u)` itself (`bias`), which is then not
/// differentiated.
struct Recurrence {
    bias: Option<Vec<f32>>,
}

/// The shapes of one `Recurrence` and each row's real positions.
struct Rows {
    batch: usize,
    seq: usize,
    u: usize,
    real: Vec<Vec<usize>>,
    longest: usize,
}

impl Rows {
    fn new(gates: &[usize], mask: &[f32], recurrent: &[usize]) -> Result<Rows> {
        let (&[batch, seq, width], &[2, four_u, u]) = (gates, recurrent) else {
            candle_core::bail!("lstm-recurrence: gates {gates:?}, weights {recurrent:?}");
        };
        if width != 8 * u || four_u != 4 * u || mask.len() != batch * seq {
            candle_core::bail!(
                "lstm-recurrence: gates {gates:?}, {} mask values, weights {recurrent:?}",
                mask.len()
            );
        }
        let real: Vec<Vec<usize>> = (0..batch)
            .map(|b| (0..seq).filter(|&p| mask[b * seq + p] > 0.5).collect())
            .collect();
        let longest = real.iter().map(Vec::len).max().unwrap_or(0);
        Ok(Rows {
            batch,
            seq,
            u,
            real,
            longest,
        })
    }

    /// Row `b`'s position read at step `t` by direction `d`, if the row is that long.
    fn at(&self, b: usize, d: usize, t: usize) -> Option<usize> {
        let real = &self.real[b];
        let n = real.len();
        (t < n).then(|| real[if d == 0 { t } else { n - 1 - t }])
    }
}

/// What the backward pass needs of every step, `(direction, step, row, ..)`: the gates after
/// their functions (input, forget, candidate, output) and the cells. Rows past their end hold
/// zeros.
struct Trace {
    gates: Vec<f32>,
    cells: Vec<f32>,
}

/// The forward recurrence: the states at each token's position, and the trace if asked for.
fn recur(
    rows: &Rows,
    gates: &[f32],
    bias: Option<&[f32]>,
    recurrent: &[f32],
    keep: bool,
) -> Result<(Vec<f32>, Option<Trace>)> {
    super::fused::wide(
        #[inline(always)]
        || recur_steps(rows, gates, bias, recurrent, keep),
    )
}

#[inline(always)]
fn recur_steps(
    rows: &Rows,
    gates: &[f32],
    bias: Option<&[f32]>,
    recurrent: &[f32],
    keep: bool,
) -> Result<(Vec<f32>, Option<Trace>)> {
    let Rows {
        batch,
        seq,
        u,
        longest,
        ..
    } = *rows;
    let mut out = vec![0f32; batch * seq * 2 * u];
    let mut trace = keep.then(|| Trace {
        gates: vec![0f32; 2 * longest * batch * 4 * u],
        cells: vec![0f32; 2 * longest * batch * u],
    });
    let mut g = Array2::<f32>::zeros((batch, 4 * u));
    let mut state = Array2::<f32>::zeros((batch, u));
    let mut cell = vec![0f32; batch * u];
    for d in 0..2 {
        // The step's product reads each direction's weights transposed, `(u, 4u)`.
        let weights = ArrayView2::from_shape((4 * u, u), &recurrent[d * 4 * u * u..][..4 * u * u])
            .map_err(candle_core::Error::wrap)?;
        state.fill(0.0);
        cell.fill(0.0);
        for t in 0..longest {
            // Step t of every row at once: its input gates (rows already done read zeros),
            // plus the states times the recurrent weights as one product, then the cells.
            // Slices, not ndarray's row iterators: these copies then vectorise.
            let Some(gs) = g.as_slice_mut() else {
                candle_core::bail!("lstm-recurrence: arrays not in standard layout");
            };
            for (b, row) in gs.chunks_exact_mut(4 * u).enumerate() {
                match rows.at(b, d, t) {
                    Some(p) => {
                        let from = (b * seq + p) * 8 * u + d * 4 * u;
                        let inputs = &gates[from..from + 4 * u];
                        match bias {
                            Some(bias) => {
                                let bias = &bias[d * 4 * u..(d + 1) * 4 * u];
                                for ((r, &v), &b) in row.iter_mut().zip(inputs).zip(bias) {
                                    *r = v + b;
                                }
                            }
                            None => row.copy_from_slice(inputs),
                        }
                    }
                    None => row.fill(0.0),
                }
            }
            general_mat_mul(1.0, &state, &weights.t(), 1.0, &mut g);
            let (Some(gs), Some(hs)) = (g.as_slice_mut(), state.as_slice_mut()) else {
                candle_core::bail!("lstm-recurrence: arrays not in standard layout");
            };
            for b in 0..batch {
                let Some(p) = rows.at(b, d, t) else { continue };
                let g = &mut gs[b * 4 * u..(b + 1) * 4 * u];
                // Each gate's function in its own pass over a slice, so that it vectorises.
                let (sig, rest) = g.split_at_mut(2 * u);
                let (candidate, output) = rest.split_at_mut(u);
                sig.iter_mut().for_each(|x| *x = sigmoid(*x));
                output.iter_mut().for_each(|x| *x = sigmoid(*x));
                candidate.iter_mut().for_each(|x| *x = tanh(*x));
                let (input, forget) = sig.split_at(u);
                let (c, h) = (&mut cell[b * u..(b + 1) * u], &mut hs[b * u..(b + 1) * u]);
                for (((c, &f), &i), &z) in c.iter_mut().zip(forget).zip(input).zip(&*candidate) {
                    *c = f * *c + i * z;
                }
                for ((h, &o), &c) in h.iter_mut().zip(&*output).zip(&*c) {
                    *h = o * tanh(c);
                }
                let to = (b * seq + p) * 2 * u + d * u;
                out[to..to + u].copy_from_slice(h);
                if let Some(tr) = trace.as_mut() {
                    let at = (d * longest + t) * batch + b;
                    tr.gates[at * 4 * u..(at + 1) * 4 * u].copy_from_slice(g);
                    tr.cells[at * u..(at + 1) * u].copy_from_slice(c);
                }
            }
        }
    }
    Ok((out, trace))
}

impl CustomOp3 for Recurrence {
    fn name(&self) -> &'static str {
        "lstm-recurrence"
    }

    fn cpu_fwd(
        &self,
        gs: &CpuStorage,
        gl: &Layout,
        ms: &CpuStorage,
        ml: &Layout,
        ws: &CpuStorage,
        wl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let gates = f32s(gs, gl, self.name())?;
        let recurrent = f32s(ws, wl, self.name())?;
        let rows = Rows::new(gl.dims(), f32s(ms, ml, self.name())?, wl.dims())?;
        if let Some(bias) = &self.bias {
            if bias.len() != 8 * rows.u {
                candle_core::bail!(
                    "{}: {} bias values for {} units",
                    self.name(),
                    bias.len(),
                    rows.u
                );
            }
        }
        let (out, _) = recur(&rows, gates, self.bias.as_deref(), recurrent, false)?;
        Ok((
            CpuStorage::F32(out),
            Shape::from((rows.batch, rows.seq, 2 * rows.u)),
        ))
    }

    /// Backpropagation through time: the forward pass again with its trace, then each
    /// direction's steps in reverse, all rows of a step at once.
    fn bwd(
        &self,
        gates: &Tensor,
        mask: &Tensor,
        recurrent: &Tensor,
        _: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
        let (gv, wv, dv) = (values(gates)?, values(recurrent)?, values(grad)?);
        let rows = Rows::new(gates.dims(), &values(mask)?, recurrent.dims())?;
        let (out, trace) = recur(&rows, &gv, self.bias.as_deref(), &wv, true)?;
        let Some(trace) = trace else {
            candle_core::bail!("lstm-recurrence: no trace");
        };
        let Rows {
            batch,
            seq,
            u,
            longest,
            ..
        } = rows;
        let mut d_gates = vec![0f32; gv.len()];
        let mut d_recurrent = Array2::<f32>::zeros((2 * 4 * u, u));
        let mut dg = Array2::<f32>::zeros((batch, 4 * u));
        let mut dh = Array2::<f32>::zeros((batch, u));
        let mut dc = vec![0f32; batch * u];
        let mut previous = Array2::<f32>::zeros((batch, u));
        for d in 0..2 {
            let weights = ArrayView2::from_shape((4 * u, u), &wv[d * 4 * u * u..][..4 * u * u])
                .map_err(candle_core::Error::wrap)?;
            dh.fill(0.0);
            dc.fill(0.0);
            for t in (0..longest).rev() {
                let (Some(dgs), Some(dhs)) = (dg.as_slice_mut(), dh.as_slice_mut()) else {
                    candle_core::bail!("lstm-recurrence: arrays not in standard layout");
                };
                for b in 0..batch {
                    let dg = &mut dgs[b * 4 * u..(b + 1) * 4 * u];
                    let Some(p) = rows.at(b, d, t) else {
                        dg.fill(0.0);
                        continue;
                    };
                    let at = (d * longest + t) * batch + b;
                    let acts = &trace.gates[at * 4 * u..(at + 1) * 4 * u];
                    let c = &trace.cells[at * u..(at + 1) * u];
                    let before = t.checked_sub(1).map(|s| (d * longest + s) * batch + b);
                    let from = (b * seq + p) * 2 * u + d * u;
                    let (dh, dc) = (&mut dhs[b * u..(b + 1) * u], &mut dc[b * u..(b + 1) * u]);
                    for k in 0..u {
                        let (input, forget) = (acts[k], acts[u + k]);
                        let (candidate, output) = (acts[2 * u + k], acts[3 * u + k]);
                        let c_prev = before.map_or(0.0, |s| trace.cells[s * u + k]);
                        let tanh_c = tanh(c[k]);
                        let dh_k = dh[k] + dv[from + k];
                        let dc_k = dc[k] + dh_k * output * (1.0 - tanh_c * tanh_c);
                        dg[k] = dc_k * candidate * input * (1.0 - input);
                        dg[u + k] = dc_k * c_prev * forget * (1.0 - forget);
                        dg[2 * u + k] = dc_k * input * (1.0 - candidate * candidate);
                        dg[3 * u + k] = dh_k * tanh_c * output * (1.0 - output);
                        dc[k] = dc_k * forget;
                    }
                    let to = (b * seq + p) * 8 * u + d * 4 * u;
                    d_gates[to..to + 4 * u].copy_from_slice(dg);
                }
                // The states the step read: the previous step's (zero at the first), as kept
                // in `out` at each row's previous position.
                let Some(before) = previous.as_slice_mut() else {
                    candle_core::bail!("lstm-recurrence: arrays not in standard layout");
                };
                for (b, row) in before.chunks_exact_mut(u).enumerate() {
                    match t.checked_sub(1).and_then(|s| rows.at(b, d, s)) {
                        Some(p) => {
                            let from = (b * seq + p) * 2 * u + d * u;
                            row.copy_from_slice(&out[from..from + u]);
                        }
                        None => row.fill(0.0),
                    }
                }
                let mut d_weights: ArrayViewMut2<f32> =
                    d_recurrent.slice_mut(s![d * 4 * u..(d + 1) * 4 * u, ..]);
                general_mat_mul(1.0, &dg.t(), &previous, 1.0, &mut d_weights);
                general_mat_mul(1.0, &dg, &weights, 0.0, &mut dh);
            }
        }
        let d_recurrent = d_recurrent.into_raw_vec_and_offset().0;
        Ok((
            Some(Tensor::from_vec(d_gates, gates.shape(), gates.device())?),
            None,
            Some(Tensor::from_vec(
                d_recurrent,
                recurrent.shape(),
                recurrent.device(),
            )?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::test_inputs::{rows, sequence};
    use candle_core::{DType, Device, IndexOp};
    use candle_nn::VarMap;

    const HIDDEN: usize = 6;

    fn layer() -> BiLstm {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let l = BiLstm::new(HIDDEN, 4, vb).unwrap();
        // The output projection starts at random like the rest: with zero weights every
        // output would equal its input and the tests below would test nothing.
        for var in vm.all_vars() {
            let dims = var.dims().to_vec();
            let n: usize = dims.iter().product();
            let v: Vec<f32> = (0..n)
                .map(|i| ((i * 7 + 3) as f32 * 0.61).sin() * 0.5)
                .collect();
            var.set(&Tensor::from_vec(v, dims, &Device::Cpu).unwrap())
                .unwrap();
        }
        l
    }

    fn input(seq: usize, seed: f32) -> Tensor {
        sequence(seq, HIDDEN, seed)
    }

    fn ones(seq: usize) -> Tensor {
        Tensor::ones((1, seq), DType::F32, &Device::Cpu).unwrap()
    }

    /// The cells' states `(batch, seq, 2u)` for x `(batch, seq, hidden)`.
    fn cells(l: &BiLstm, x: &Tensor, mask: &Tensor) -> Tensor {
        let gates = l.gates.forward(x).unwrap();
        gates
            .apply_op3_no_bwd(mask, &l.recurrent, &Recurrence { bias: None })
            .unwrap()
    }

    #[test]
    fn each_direction_reads_its_own_side() {
        // Token 5 of 10 changed: the forward cells before it and the backward cells after it
        // keep their outputs; every other output moves.
        let l = layer();
        let x = input(10, 0.0);
        let changed = x
            .slice_assign(&[0..1, 5..6, 0..HIDDEN], &input(1, 42.0))
            .unwrap();
        let before = cells(&l, &x, &ones(10));
        let after = cells(&l, &changed, &ones(10));
        for (direction, unchanged) in [(0, 0..5), (1, 6..10)] {
            let b = rows(&before.narrow(2, direction * 4, 4).unwrap());
            let a = rows(&after.narrow(2, direction * 4, 4).unwrap());
            for p in 0..10 {
                assert_eq!(
                    b[p] == a[p],
                    unchanged.contains(&p),
                    "direction {direction}, position {p}"
                );
            }
        }
    }

    /// A batch of two holding the same 7 tokens, with 3 tokens of padding at the end of the
    /// first and in the middle of the second (the padding's values differ from each other).
    fn padded_pair() -> (Tensor, Tensor) {
        let real = input(7, 0.0);
        let x = Tensor::cat(
            &[
                &Tensor::cat(&[&real, &input(3, 3.0)], 1).unwrap(),
                &Tensor::cat(
                    &[
                        &real.narrow(1, 0, 3).unwrap(),
                        &input(3, 9.0),
                        &real.narrow(1, 3, 4).unwrap(),
                    ],
                    1,
                )
                .unwrap(),
            ],
            0,
        )
        .unwrap();
        let mask = Tensor::from_vec(
            vec![
                1f32, 1., 1., 1., 1., 1., 1., 0., 0., 0., //
                1., 1., 1., 0., 0., 0., 1., 1., 1., 1.,
            ],
            (2, 10),
            &Device::Cpu,
        )
        .unwrap();
        (x, mask)
    }

    #[test]
    fn padding_is_neither_read_nor_written() {
        let l = layer();
        let short = rows(&l.forward(&input(7, 0.0), &ones(7), None).unwrap());
        // Padding at the end and in the middle: the real tokens' outputs are those of the
        // unpadded sequence, whatever the padding holds.
        let (x, mask) = padded_pair();
        let out = l.forward(&x, &mask, None).unwrap();
        let first = rows(&out.i(0..1).unwrap());
        let second = rows(&out.i(1..2).unwrap());
        let real_second = [0, 1, 2, 6, 7, 8, 9];
        for (k, p) in (0..7).enumerate() {
            for ((a, b), c) in first[p].iter().zip(&short[k]).zip(&second[real_second[k]]) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "end padding, position {p}: {a} vs {b}"
                );
                assert!(
                    (c - b).abs() < 1e-5,
                    "middle padding, token {k}: {c} vs {b}"
                );
            }
        }
        for p in [7, 8, 9] {
            assert!(first[p].iter().all(|&v| v == 0.0), "padding {p} not zero");
        }
        for p in [3, 4, 5] {
            assert!(second[p].iter().all(|&v| v == 0.0), "padding {p} not zero");
        }
    }

    /// The recurrence as candle's own ops, one step at a time, for rows without padding: what
    /// `Recurrence` must compute, forward and backward. `gates` `(batch, seq, 8u)`, `recurrent`
    /// `(2, 4u, u)`.
    fn composed(gates: &Tensor, recurrent: &Tensor) -> Tensor {
        let (batch, seq, width) = gates.dims3().unwrap();
        let u = width / 8;
        let mut directions = Vec::new();
        for d in 0..2 {
            let weights = recurrent.get(d).unwrap().t().unwrap(); // (u, 4u)
            let mut state = Tensor::zeros((batch, u), DType::F32, &Device::Cpu).unwrap();
            let mut cell = state.clone();
            let mut states = vec![None; seq];
            let order: Vec<usize> = if d == 0 {
                (0..seq).collect()
            } else {
                (0..seq).rev().collect()
            };
            for p in order {
                let input = gates.narrow(1, p, 1).unwrap().squeeze(1).unwrap();
                let g = (input.narrow(1, d * 4 * u, 4 * u).unwrap()
                    + state.matmul(&weights).unwrap())
                .unwrap();
                let gate = |k: usize| g.narrow(1, k * u, u).unwrap();
                let sig = |t: Tensor| candle_nn::ops::sigmoid(&t).unwrap();
                let (i, f, o) = (sig(gate(0)), sig(gate(1)), sig(gate(3)));
                let candidate = gate(2).tanh().unwrap();
                cell = ((f * &cell).unwrap() + (i * candidate).unwrap()).unwrap();
                state = (o * cell.tanh().unwrap()).unwrap();
                states[p] = Some(state.clone());
            }
            let states: Vec<Tensor> = states.into_iter().map(Option::unwrap).collect();
            directions.push(Tensor::stack(&states, 1).unwrap());
        }
        Tensor::cat(&directions, 2).unwrap()
    }

    #[test]
    fn the_recurrence_matches_candle_ops_forward_and_backward() {
        let (batch, seq, u) = (3, 40, 5);
        let values = |n: usize, seed: f32, scale: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as f32 + seed) * 0.77).sin() * scale)
                .collect()
        };
        let gates = candle_core::Var::from_vec(
            values(batch * seq * 8 * u, 0.0, 2.0),
            (batch, seq, 8 * u),
            &Device::Cpu,
        )
        .unwrap();
        let recurrent = candle_core::Var::from_vec(
            values(2 * 4 * u * u, 9.0, 0.6),
            (2, 4 * u, u),
            &Device::Cpu,
        )
        .unwrap();
        let mask = Tensor::ones((batch, seq), DType::F32, &Device::Cpu).unwrap();
        // A loss that weighs every state differently.
        let weights = Tensor::from_vec(
            values(batch * seq * 2 * u, 4.0, 1.0),
            (batch, seq, 2 * u),
            &Device::Cpu,
        )
        .unwrap();
        let op = gates
            .as_tensor()
            .apply_op3(&mask, recurrent.as_tensor(), Recurrence { bias: None })
            .unwrap();
        let reference = composed(gates.as_tensor(), recurrent.as_tensor());
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let close = |a: &[f32], b: &[f32], tolerance: f32, what: &str| {
            assert_eq!(a.len(), b.len());
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < tolerance, "{what}: {x} vs {y}");
            }
        };
        close(&flat(&op), &flat(&reference), 1e-5, "states");
        let grads = |out: &Tensor| {
            let gs = (out * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            [gates.as_tensor(), recurrent.as_tensor()].map(|v| flat(gs.get(v).unwrap()))
        };
        let (a, b) = (grads(&op), grads(&reference));
        close(&a[0], &b[0], 1e-5, "gradient of the input gates");
        close(&a[1], &b[1], 1e-4, "gradient of the recurrent weights");
        assert!(
            a[1].iter().any(|&v| v.abs() > 1e-3),
            "no recurrent gradient"
        );
    }

    #[test]
    fn padding_gets_no_gradient_and_gives_none() {
        // The padded pair's gradients at the real tokens are those of the unpadded sequence;
        // at padding, zero.
        let l = layer();
        let grad = |x: Tensor, mask: &Tensor| {
            let x = candle_core::Var::from_tensor(&x).unwrap();
            let y = l.forward(x.as_tensor(), mask, None).unwrap();
            let g = y.sum_all().unwrap().backward().unwrap();
            g.get(x.as_tensor()).unwrap().clone()
        };
        let short = rows(&grad(input(7, 0.0), &ones(7)));
        let (x, mask) = padded_pair();
        let g = grad(x, &mask);
        let (first, second) = (rows(&g.i(0..1).unwrap()), rows(&g.i(1..2).unwrap()));
        for (k, (p, q)) in (0..7).zip([0, 1, 2, 6, 7, 8, 9]).enumerate() {
            for ((a, b), c) in first[p].iter().zip(&short[k]).zip(&second[q]) {
                assert!((a - b).abs() < 1e-5 && (c - b).abs() < 1e-5, "token {k}");
            }
        }
        for p in [7, 8, 9] {
            assert!(first[p].iter().all(|&v| v == 0.0), "padding {p}");
        }
        for p in [3, 4, 5] {
            assert!(second[p].iter().all(|&v| v == 0.0), "padding {p}");
        }
    }

    #[test]
    fn inference_gives_what_the_trained_path_gives() {
        let l = layer();
        let (x, mask) = padded_pair();
        let flat = |t: Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        let trained = flat(l.forward(&x, &mask, None).unwrap());
        let inferred = flat(l.infer(&x, &mask).unwrap());
        for (a, b) in trained.iter().zip(&inferred) {
            assert!((a - b).abs() < 1e-6, "{a} vs {b}");
        }
    }

    #[test]
    fn gradients_reach_every_weight() {
        let vm = VarMap::new();
        let vb = VarBuilder::from_varmap(&vm, DType::F32, &Device::Cpu);
        let l = BiLstm::new(HIDDEN, 4, vb).unwrap();
        let y = l.forward(&input(9, 0.0), &ones(9), None).unwrap();
        let grads = y.sqr().unwrap().sum_all().unwrap().backward().unwrap();
        for var in vm.all_vars() {
            let g = grads
                .get(var.as_tensor())
                .expect("a gradient for every weight");
            let norm = g
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap()
                .to_scalar::<f32>()
                .unwrap();
            assert!(norm > 0.0, "zero gradient for a {:?} weight", var.dims());
        }
    }
}
