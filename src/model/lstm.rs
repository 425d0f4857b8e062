//! A bidirectional LSTM layer, an optional top of the encoder (`ModelConfig::lstm_units`):
//! pre-norm and residual like the convolution blocks, `units` cells per direction, the two
//! directions' outputs projected back to the hidden size.
//!
//! Written here rather than taken from candle-nn for speed and for padding. candle-nn's LSTM
//! multiplies each step's input by the input weights inside the step and runs a dozen ops per
//! step; here all steps' input gates of both directions come from one `(batch * seq, hidden) x
//! (hidden, 8 * units)` product first, and each step is one batched product for the two
//! directions together and two custom ops (`NewCell`, `NewState`). And its `Backward`
//! direction does not reverse the sequence, and a plain reversal of a padded batch would feed
//! the padding to the backward cells first: here each row's real tokens are gathered in reading
//! order for the forward cells and in reverse for the backward ones, the padding after them,
//! so that padding never reaches a real token's state.
//!
//! Unlike the convolutions, one output depends on the whole window: windowed tagging is close
//! to one pass over the letter but not equal (`ModelConfig::receptive_radius`).

use candle_core::{CpuStorage, CustomOp2, Layout, Module, Result, Shape, Tensor};
use candle_nn::VarBuilder;

use super::layers::{maybe_dropout, Dense, Dropout, LayerNorm};

#[derive(Debug, Clone)]
pub struct BiLstm {
    norm: LayerNorm,
    /// hidden -> the input, forget, cell and output gates of the forward then the backward cells.
    gates: Dense,
    /// `(2, 4 * units, units)`: each direction's recurrent weights.
    recurrent: Tensor,
    out: Dense,
    units: usize,
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
            units,
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
        let m = mask.unsqueeze(2)?;
        let normed = self.norm.forward(h)?.broadcast_mul(&m)?;
        let y = maybe_dropout(&self.cells(&normed, mask)?, dropout)?;
        (h + self.out.forward(&y)?)?.broadcast_mul(&m)
    }

    /// The cells' outputs `(batch, seq, 2 * units)`, the forward direction's first, each at its
    /// token's position, for x `(batch, seq, hidden)` and mask `(batch, seq)` f32.
    fn cells(&self, x: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, seq, _) = x.dims3()?;
        let u = self.units;
        let (gather, scatter) = orders(&mask.to_vec2::<f32>()?, x.device())?;
        // (batch * seq, 8u): every step's input gates, both directions.
        let x = self.gates.forward(x)?.reshape((batch * seq, 8 * u))?;
        let inputs = [0, 1]
            .iter()
            .map(|&d| {
                x.narrow(1, d * 4 * u, 4 * u)?
                    .contiguous()?
                    .index_select(&gather[d], 0)?
                    .reshape((batch, seq, 4 * u))
            })
            .collect::<Result<Vec<_>>>()?;
        // (seq, 2, batch, 4u): step t is one contiguous slab for both directions.
        let inputs = Tensor::stack(&inputs, 0)?
            .permute((2, 0, 1, 3))?
            .contiguous()?;
        let recurrent = self.recurrent.transpose(1, 2)?.contiguous()?; // (2, u, 4u)
        let mut state = Tensor::zeros((2, batch, u), x.dtype(), x.device())?;
        let mut cell = state.clone();
        let mut outputs = Vec::with_capacity(seq);
        // Steps are sliced from blocks of about sqrt(seq) steps, not from the whole sequence:
        // the backward pass of a slice writes a gradient the size of what it was cut from, so
        // cutting every step from the whole would cost seq times the whole; this way it costs
        // about 2 sqrt(seq) times.
        let block = (seq as f64).sqrt().ceil().max(1.0) as usize;
        for start in (0..seq).step_by(block) {
            let steps = inputs.narrow(0, start, block.min(seq - start))?;
            for t in 0..steps.dim(0)? {
                let g = (steps.get(t)? + state.matmul(&recurrent)?)?; // (2, batch, 4u)
                cell = g.apply_op2(&cell, NewCell)?;
                state = g.apply_op2(&cell, NewState)?;
                outputs.push(state.clone());
            }
        }
        // (2, batch * seq, u) in the order read, then back to each token's own position.
        let states = Tensor::stack(&outputs, 0)?
            .permute((1, 2, 0, 3))?
            .contiguous()?
            .reshape((2, batch * seq, u))?;
        let placed = [0, 1]
            .iter()
            .map(|&d| states.get(d)?.contiguous()?.index_select(&scatter[d], 0))
            .collect::<Result<Vec<_>>>()?;
        Tensor::cat(&placed, 1)?.reshape((batch, seq, 2 * u))
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// One step of the cells of both directions as two ops, forward and backward: from the gates'
/// pre-activations `g` `(2, batch, 4u)` (input, forget, candidate, output) and the cells `c`
/// `(2, batch, u)`, `NewCell` gives the new cells and `NewState` the states from the new cells.
/// The same arithmetic as candle's sigmoid, tanh, products and sum (tests compare the two), in
/// one pass each instead of eleven ops with their own buffers and backward nodes, which the
/// loop over tokens pays for at every token (timed with the block slicing in `cells`: README,
/// "What was measured to get here").
struct NewCell;
struct NewState;

impl CustomOp2 for NewCell {
    fn name(&self) -> &'static str {
        "lstm-new-cell"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout, cs: &CpuStorage, cl: &Layout) -> StepOut {
        per_unit(self.name(), gs, gl, cs, cl, |g, c, k, u| {
            sigmoid(g[u + k]) * c + sigmoid(g[k]) * g[2 * u + k].tanh()
        })
    }

    fn bwd(&self, g: &Tensor, c: &Tensor, _: &Tensor, grad: &Tensor) -> StepGrads {
        per_unit_grads(g, c, grad, |g, c, d, k, u, dg| {
            let (input, forget) = (sigmoid(g[k]), sigmoid(g[u + k]));
            let candidate = g[2 * u + k].tanh();
            dg[k] = d * candidate * input * (1.0 - input);
            dg[u + k] = d * c * forget * (1.0 - forget);
            dg[2 * u + k] = d * input * (1.0 - candidate * candidate);
            d * forget
        })
    }
}

impl CustomOp2 for NewState {
    fn name(&self) -> &'static str {
        "lstm-new-state"
    }

    fn cpu_fwd(&self, gs: &CpuStorage, gl: &Layout, cs: &CpuStorage, cl: &Layout) -> StepOut {
        per_unit(self.name(), gs, gl, cs, cl, |g, c, k, u| {
            sigmoid(g[3 * u + k]) * c.tanh()
        })
    }

    fn bwd(&self, g: &Tensor, c: &Tensor, _: &Tensor, grad: &Tensor) -> StepGrads {
        per_unit_grads(g, c, grad, |g, c, d, k, u, dg| {
            let output = sigmoid(g[3 * u + k]);
            let tanh_cell = c.tanh();
            dg[3 * u + k] = d * tanh_cell * output * (1.0 - output);
            d * output * (1.0 - tanh_cell * tanh_cell)
        })
    }
}

type StepOut = Result<(CpuStorage, Shape)>;
type StepGrads = Result<(Option<Tensor>, Option<Tensor>)>;

/// A step op's forward pass: `f(gates of the row, cell, unit k, units)` for each cell of `c`
/// `(.., u)`, the gates `g` `(.., 4u)` of its row beside it.
fn per_unit(
    op: &str,
    gs: &CpuStorage,
    gl: &Layout,
    cs: &CpuStorage,
    cl: &Layout,
    f: impl Fn(&[f32], f32, usize, usize) -> f32,
) -> StepOut {
    let g = super::fused::f32s(gs, gl, op)?;
    let c = super::fused::f32s(cs, cl, op)?;
    let u = cl.shape().dims().last().copied().unwrap_or(0);
    if u == 0 || g.len() != 4 * c.len() || gl.shape().dims().last() != Some(&(4 * u)) {
        candle_core::bail!("{op}: gates {:?} for cells {:?}", gl.shape(), cl.shape());
    }
    let out = c
        .iter()
        .enumerate()
        .map(|(i, &cell)| {
            let r = i / u;
            f(&g[r * 4 * u..(r + 1) * 4 * u], cell, i % u, u)
        })
        .collect();
    Ok((CpuStorage::F32(out), cl.shape().clone()))
}

/// A step op's backward pass: `f(gates of the row, cell, gradient of the output, unit k, units,
/// gradient of the row's gates)` writes the gates' gradients and returns the cell's.
fn per_unit_grads(
    g: &Tensor,
    c: &Tensor,
    grad: &Tensor,
    f: impl Fn(&[f32], f32, f32, usize, usize, &mut [f32]) -> f32,
) -> StepGrads {
    let values = |t: &Tensor| t.flatten_all()?.to_vec1::<f32>();
    let (gv, cv, dv) = (values(g)?, values(c)?, values(grad)?);
    let u = c.dims().last().copied().unwrap_or(1);
    let mut dg = vec![0f32; gv.len()];
    let dc: Vec<f32> = (0..cv.len())
        .map(|i| {
            let row = (i / u) * 4 * u..(i / u + 1) * 4 * u;
            f(&gv[row.clone()], cv[i], dv[i], i % u, u, &mut dg[row])
        })
        .collect();
    Ok((
        Some(Tensor::from_vec(dg, g.shape(), g.device())?),
        Some(Tensor::from_vec(dc, c.shape(), c.device())?),
    ))
}

/// For a `(batch, seq)` 0/1 mask, the flat row indices that lay each sequence out in the order
/// each direction reads it (its real tokens forward, resp. backward, then its padding), and the
/// inverse indices that put the results back: `([forward, backward], [forward, backward])`.
fn orders(mask: &[Vec<f32>], device: &candle_core::Device) -> Result<([Tensor; 2], [Tensor; 2])> {
    let seq = mask.first().map_or(0, Vec::len);
    let mut gather = [Vec::new(), Vec::new()];
    let mut scatter = [vec![0u32; mask.len() * seq], vec![0u32; mask.len() * seq]];
    for (b, row) in mask.iter().enumerate() {
        let real: Vec<usize> = (0..seq).filter(|&p| row[p] > 0.5).collect();
        let padding = (0..seq).filter(|&p| row[p] <= 0.5);
        let forward: Vec<usize> = real.iter().copied().chain(padding.clone()).collect();
        let backward: Vec<usize> = real.iter().rev().copied().chain(padding).collect();
        for (d, order) in [forward, backward].into_iter().enumerate() {
            for (i, p) in order.into_iter().enumerate() {
                gather[d].push((b * seq + p) as u32);
                scatter[d][b * seq + p] = (b * seq + i) as u32;
            }
        }
    }
    let tensor = |v: Vec<u32>| {
        let n = v.len();
        Tensor::from_vec(v, n, device)
    };
    let [gf, gb] = gather;
    let [sf, sb] = scatter;
    Ok(([tensor(gf)?, tensor(gb)?], [tensor(sf)?, tensor(sb)?]))
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

    #[test]
    fn each_direction_reads_its_own_side() {
        // Token 5 of 10 changed: the forward cells before it and the backward cells after it
        // keep their outputs; every other output moves.
        let l = layer();
        let x = input(10, 0.0);
        let changed = x
            .slice_assign(&[0..1, 5..6, 0..HIDDEN], &input(1, 42.0))
            .unwrap();
        let before = l.cells(&x, &ones(10)).unwrap();
        let after = l.cells(&changed, &ones(10)).unwrap();
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

    #[test]
    fn padding_is_neither_read_nor_written() {
        let l = layer();
        let short = rows(&l.forward(&input(7, 0.0), &ones(7), None).unwrap());
        // Padding at the end and in the middle of a batch of two: the real tokens' outputs are
        // those of the unpadded sequence, whatever the padding holds.
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

    /// The cell step as candle ops: what `Cell` replaces.
    fn composed_cell(g: &Tensor, c: &Tensor) -> Tensor {
        let u = c.dim(2).unwrap();
        let gate = |k: usize| g.narrow(2, k * u, u).unwrap();
        let sig = |t: Tensor| candle_nn::ops::sigmoid(&t).unwrap();
        let (input, forget, output) = (sig(gate(0)), sig(gate(1)), sig(gate(3)));
        let candidate = gate(2).tanh().unwrap();
        let cell = ((forget * c).unwrap() + (input * candidate).unwrap()).unwrap();
        let state = (output * cell.tanh().unwrap()).unwrap();
        Tensor::stack(&[state, cell], 0).unwrap()
    }

    #[test]
    fn the_cell_op_matches_candle_ops_forward_and_backward() {
        let (batch, u) = (3, 5);
        let values = |n: usize, seed: f32| -> Vec<f32> {
            (0..n)
                .map(|i| ((i as f32 + seed) * 0.77).sin() * 2.0)
                .collect()
        };
        let g = candle_core::Var::from_vec(
            values(2 * batch * 4 * u, 0.0),
            (2, batch, 4 * u),
            &Device::Cpu,
        )
        .unwrap();
        let c = candle_core::Var::from_vec(values(2 * batch * u, 9.0), (2, batch, u), &Device::Cpu)
            .unwrap();
        // A loss that weighs every state and cell differently.
        let weights = Tensor::from_vec(
            values(2 * 2 * batch * u, 4.0),
            (2, 2, batch, u),
            &Device::Cpu,
        )
        .unwrap();
        let cell = g.as_tensor().apply_op2(c.as_tensor(), NewCell).unwrap();
        let state = g.as_tensor().apply_op2(&cell, NewState).unwrap();
        let fused = Tensor::stack(&[state, cell], 0).unwrap();
        let composed = composed_cell(g.as_tensor(), c.as_tensor());
        let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
        assert_eq!(flat(&fused), flat(&composed), "forward");
        let grads = |out: &Tensor| {
            let gs = (out * &weights)
                .unwrap()
                .sum_all()
                .unwrap()
                .backward()
                .unwrap();
            [g.as_tensor(), c.as_tensor()].map(|v| flat(gs.get(v).unwrap()))
        };
        for (a, b) in grads(&fused).iter().zip(&grads(&composed)) {
            for (x, y) in a.iter().zip(b) {
                assert!((x - y).abs() < 1e-6, "gradient {x} vs {y}");
            }
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
