//! A linear-chain CRF on a tagging head's logits (`ModelConfig::crf`, `--crf`): the head's
//! logits are each token's emission scores, and learned scores of a tag following another, of
//! opening and of closing a chain make a whole tag sequence's score. Training minimises the
//! negative log-likelihood of the gold sequence among all the sequences the BIO scheme allows
//! (`tags::allowed`: no `I-X` after anything but `B-X` or `I-X`; a chain may open on any tag,
//! since a training window can begin inside a span), so that a wrong edge costs the whole
//! sequence's probability rather than one token's. At inference the head gives each token's
//! marginal tag probabilities (forward-backward), which go where the softmax's went: averaged
//! with the other tagger's, then Viterbi, rules and memory as before.
//!
//! The likelihood is one custom op with its own backward pass (the gradient of log Z is the
//! marginals, that of the gold score its indicator), computed in f64 over each row's real
//! tokens in order, wherever its padding is. With 11 tags it costs a few hundred flops a
//! token, nothing beside the encoders.

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};
use candle_nn::VarBuilder;

use super::fused::{f32s, read};
use crate::annotation::tags::allowed;

/// The transition and boundary scores of a tagging head.
#[derive(Debug, Clone)]
pub struct Crf {
    /// `(from, to)`, `(num_tags, num_tags)`; a pair the BIO scheme forbids is never read.
    transitions: Tensor,
    /// `(2, num_tags)`: the score of each tag opening a chain, then of it closing one.
    boundary: Tensor,
}

impl Crf {
    /// The scores start at zero: the chain's probability is then the BIO scheme's alone.
    pub fn new(num_tags: usize, vb: VarBuilder) -> Result<Self> {
        Ok(Crf {
            transitions: vb.get_with_hints(
                (num_tags, num_tags),
                "transitions",
                candle_nn::Init::Const(0.0),
            )?,
            boundary: vb.get_with_hints((2, num_tags), "boundary", candle_nn::Init::Const(0.0))?,
        })
    }

    /// Negative log-likelihood of each row's gold tags, `(batch,)`, from the emissions
    /// `(batch, seq, num_tags)`; `targets` and `mask` hold one value per position (`batch *
    /// seq`), mask 0 for padding. Differentiable in the emissions and the scores.
    pub fn nll(&self, emissions: &Tensor, targets: Vec<u32>, mask: Vec<f32>) -> Result<Tensor> {
        emissions
            .contiguous()?
            .apply_op3(&self.transitions, &self.boundary, Nll { targets, mask })
    }

    /// Each token's log marginal tag probabilities, `(batch, seq, num_tags)`, from the
    /// emissions and the mask `(batch, seq)`; a padding position gets the uniform `-ln K`.
    /// Inference only.
    pub fn log_marginals(&self, emissions: &Tensor, mask: &Tensor) -> Result<Tensor> {
        let (batch, seq, k) = emissions.dims3()?;
        let mask: Vec<f32> = mask
            .flatten_all()?
            .to_dtype(candle_core::DType::F32)?
            .to_vec1()?;
        let chain = Chain::read(&self.transitions, &self.boundary, k)?;
        let out = read(emissions, "crf-marginals", |em| {
            check_rows(em.len(), mask.len(), k, "crf-marginals")?;
            let mut out = vec![-(k as f32).ln(); em.len()];
            for (positions, row) in rows(&mask, seq) {
                let e = gather(em, row, seq, k, &positions);
                let sums = chain.sums(&e);
                for (t, &p) in positions.iter().enumerate() {
                    let at = (row * seq + p) * k;
                    for (j, o) in out[at..at + k].iter_mut().enumerate() {
                        *o = sums.log_marginal(t, j) as f32;
                    }
                }
            }
            Ok(out)
        })?;
        Tensor::from_vec(out, (batch, seq, k), emissions.device())
    }
}

/// `values` emissions for rows of `seq` positions with `k` tags each, and one mask value per
/// position: do the sizes agree?
fn check_rows(values: usize, mask: usize, k: usize, name: &str) -> Result<()> {
    if k == 0 || values != mask * k {
        bail!("{name}: {values} emissions for {mask} positions of {k} tags");
    }
    Ok(())
}

/// Each row that has real tokens: their positions in order, and the row's index.
fn rows(mask: &[f32], seq: usize) -> impl Iterator<Item = (Vec<usize>, usize)> + '_ {
    mask.chunks_exact(seq.max(1))
        .enumerate()
        .map(|(row, m)| {
            let positions: Vec<usize> = (0..m.len()).filter(|&t| m[t] != 0.0).collect();
            (positions, row)
        })
        .filter(|(p, _)| !p.is_empty())
}

/// The emissions of one row's `positions`, `(positions, k)`, in f64.
fn gather(em: &[f32], row: usize, seq: usize, k: usize, positions: &[usize]) -> Vec<f64> {
    let mut e = Vec::with_capacity(positions.len() * k);
    for &p in positions {
        let at = (row * seq + p) * k;
        e.extend(em[at..at + k].iter().map(|&v| f64::from(v)));
    }
    e
}

/// The smallest marginal reported: its log stays finite, so sums and differences of log
/// probabilities downstream never meet `-inf`.
const FLOOR: f64 = 1e-30;

/// The chain's scores as factors, `exp(score)`, in f64; 0 for a pair the BIO scheme forbids.
/// Forward-backward then runs on probabilities rescaled at every token (Rabiner's scaling),
/// which takes one exponential a tag and token instead of one per pair.
struct Chain {
    k: usize,
    transitions: Vec<f64>,
    start: Vec<f64>,
    end: Vec<f64>,
}

/// A chain's rescaled forward and backward sums, `(len, k)` each: `alpha[t]` sums to one,
/// `scale[t]` is what it was divided by, and `q` holds `exp(e - max)` of each token.
struct Sums {
    k: usize,
    q: Vec<f64>,
    alpha: Vec<f64>,
    beta: Vec<f64>,
    scale: Vec<f64>,
    /// `sum_j alpha[len-1][j] end[j]`: with the scales and maxima, the partition function.
    closing: f64,
    log_z: f64,
}

impl Sums {
    fn marginal(&self, t: usize, j: usize) -> f64 {
        self.alpha[t * self.k + j] * self.beta[t * self.k + j] / self.closing
    }

    fn log_marginal(&self, t: usize, j: usize) -> f64 {
        self.marginal(t, j).max(FLOOR).ln()
    }

    /// The probability of tag `i` at `t` and `j` at `t + 1`.
    fn pair(&self, chain: &Chain, t: usize, i: usize, j: usize) -> f64 {
        let k = self.k;
        self.alpha[t * k + i]
            * chain.transitions[i * k + j]
            * self.q[(t + 1) * k + j]
            * self.beta[(t + 1) * k + j]
            / (self.scale[t + 1] * self.closing)
    }
}

impl Chain {
    fn new(transitions: &[f32], boundary: &[f32], k: usize) -> Result<Chain> {
        if transitions.len() != k * k || boundary.len() != 2 * k {
            bail!(
                "crf: {} transition and {} boundary scores for {k} tags",
                transitions.len(),
                boundary.len()
            );
        }
        let factor = |v: f32| f64::from(v).exp();
        let transitions = (0..k * k)
            .map(|ij| match allowed(Some(ij / k), ij % k) {
                true => factor(transitions[ij]),
                false => 0.0,
            })
            .collect();
        Ok(Chain {
            k,
            transitions,
            start: boundary[..k].iter().map(|&v| factor(v)).collect(),
            end: boundary[k..].iter().map(|&v| factor(v)).collect(),
        })
    }

    fn read(transitions: &Tensor, boundary: &Tensor, k: usize) -> Result<Chain> {
        read(transitions, "crf", |t| {
            read(boundary, "crf", |b| Chain::new(t, b, k))
        })
    }

    /// Forward-backward over the emissions `e` of one chain's tokens, `(len, k)`, `len >= 1`.
    fn sums(&self, e: &[f64]) -> Sums {
        let k = self.k;
        let len = e.len() / k;
        let mut q = vec![0f64; e.len()];
        let mut log_z = 0.0;
        for (qt, et) in q.chunks_exact_mut(k).zip(e.chunks_exact(k)) {
            let max = et.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            for (qv, &ev) in qt.iter_mut().zip(et) {
                *qv = (ev - max).exp();
            }
            log_z += max;
        }
        let mut alpha = vec![0f64; e.len()];
        let mut scale = vec![0f64; len];
        for t in 0..len {
            for j in 0..k {
                let into = match t {
                    0 => self.start[j],
                    _ => (0..k)
                        .map(|i| alpha[(t - 1) * k + i] * self.transitions[i * k + j])
                        .sum(),
                };
                alpha[t * k + j] = into * q[t * k + j];
            }
            let row = &mut alpha[t * k..(t + 1) * k];
            let c: f64 = row.iter().sum();
            row.iter_mut().for_each(|a| *a /= c);
            scale[t] = c;
            log_z += c.ln();
        }
        let mut beta = vec![0f64; e.len()];
        beta[(len - 1) * k..].copy_from_slice(&self.end);
        for t in (0..len - 1).rev() {
            for i in 0..k {
                let next: f64 = (0..k)
                    .map(|j| {
                        self.transitions[i * k + j] * q[(t + 1) * k + j] * beta[(t + 1) * k + j]
                    })
                    .sum();
                beta[t * k + i] = next / scale[t + 1];
            }
        }
        let last = &alpha[(len - 1) * k..];
        let closing: f64 = last.iter().zip(&self.end).map(|(a, e)| a * e).sum();
        log_z += closing.ln();
        Sums {
            k,
            q,
            alpha,
            beta,
            scale,
            closing,
            log_z,
        }
    }

    /// The score of the tag sequence `y` over the emissions `e`; `-inf` if the BIO scheme
    /// forbids it.
    fn score(&self, e: &[f64], y: &[usize]) -> f64 {
        let k = self.k;
        let mut s = self.start[y[0]].ln() + self.end[y[y.len() - 1]].ln();
        for (t, &tag) in y.iter().enumerate() {
            s += e[t * k + tag];
            if t > 0 {
                s += self.transitions[y[t - 1] * k + tag].ln();
            }
        }
        s
    }
}

/// The negative log-likelihood op: emissions, transitions, boundary -> `(batch,)`.
struct Nll {
    targets: Vec<u32>,
    mask: Vec<f32>,
}

/// One row of a batch as a chain: its row, real positions, gold tags and emissions.
struct Row {
    row: usize,
    positions: Vec<usize>,
    gold: Vec<usize>,
    emissions: Vec<f64>,
}

impl Nll {
    /// Each chain of the batch.
    fn chains<'a>(
        &'a self,
        em: &'a [f32],
        seq: usize,
        k: usize,
    ) -> Result<impl Iterator<Item = Row> + 'a> {
        check_rows(em.len(), self.mask.len(), k, "crf-nll")?;
        if self.targets.len() != self.mask.len() {
            bail!(
                "crf-nll: {} targets for {} positions",
                self.targets.len(),
                self.mask.len()
            );
        }
        if let Some(t) = self.targets.iter().find(|&&t| t as usize >= k) {
            bail!("crf-nll: target tag {t} of {k} tags");
        }
        Ok(rows(&self.mask, seq).map(move |(positions, row)| {
            let gold = positions
                .iter()
                .map(|&p| self.targets[row * seq + p] as usize)
                .collect();
            let emissions = gather(em, row, seq, k, &positions);
            Row {
                row,
                positions,
                gold,
                emissions,
            }
        }))
    }
}

/// The gold score of a chain, or an error if the BIO scheme forbids its tags (the gold's
/// tags come from spans, so this is a bug upstream, not a bad letter).
fn gold_score(chain: &Chain, e: &[f64], y: &[usize]) -> Result<f64> {
    let s = chain.score(e, y);
    if s == f64::NEG_INFINITY {
        bail!("crf-nll: a gold tag sequence the BIO scheme forbids: {y:?}");
    }
    Ok(s)
}

impl CustomOp3 for Nll {
    fn name(&self) -> &'static str {
        "crf-nll"
    }

    fn cpu_fwd(
        &self,
        es: &CpuStorage,
        el: &Layout,
        ts: &CpuStorage,
        tl: &Layout,
        bs: &CpuStorage,
        bl: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (batch, seq, k) = el.shape().dims3()?;
        let chain = Chain::new(f32s(ts, tl, self.name())?, f32s(bs, bl, self.name())?, k)?;
        let em = f32s(es, el, self.name())?;
        let mut out = vec![0f32; batch];
        for r in self.chains(em, seq, k)? {
            out[r.row] = (chain.sums(&r.emissions).log_z
                - gold_score(&chain, &r.emissions, &r.gold)?) as f32;
        }
        Ok((CpuStorage::F32(out), Shape::from(batch)))
    }

    /// With `g` a row's gradient: the emissions get `g (marginal - gold indicator)` at each
    /// real token, a transition `g (expected count - gold count)` summed over the batch, and
    /// each boundary score likewise.
    fn bwd(
        &self,
        emissions: &Tensor,
        transitions: &Tensor,
        boundary: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (_, seq, k) = emissions.dims3()?;
        let chain = Chain::read(transitions, boundary, k)?;
        let g: Vec<f32> = grad.flatten_all()?.to_vec1()?;
        let mut de = vec![0f64; emissions.elem_count()];
        let mut dt = vec![0f64; k * k];
        let mut db = vec![0f64; 2 * k];
        read(emissions, self.name(), |em| {
            for Row {
                row,
                positions,
                gold: y,
                emissions: e,
            } in self.chains(em, seq, k)?
            {
                let g = f64::from(g[row]);
                let sums = chain.sums(&e);
                let len = positions.len();
                for (t, &p) in positions.iter().enumerate() {
                    let at = (row * seq + p) * k;
                    for j in 0..k {
                        de[at + j] += g * sums.marginal(t, j);
                    }
                    de[at + y[t]] -= g;
                }
                for t in 0..len - 1 {
                    for (ij, d) in dt.iter_mut().enumerate() {
                        *d += g * sums.pair(&chain, t, ij / k, ij % k);
                    }
                    dt[y[t] * k + y[t + 1]] -= g;
                }
                for j in 0..k {
                    db[j] += g * sums.marginal(0, j);
                    db[k + j] += g * sums.marginal(len - 1, j);
                }
                db[y[0]] -= g;
                db[k + y[len - 1]] -= g;
            }
            Ok(())
        })?;
        let f32s = |v: Vec<f64>| v.into_iter().map(|x| x as f32).collect::<Vec<f32>>();
        let dev = emissions.device();
        Ok((
            Some(Tensor::from_vec(f32s(de), emissions.shape(), dev)?),
            Some(Tensor::from_vec(f32s(dt), (k, k), dev)?),
            Some(Tensor::from_vec(f32s(db), (2, k), dev)?),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::tags::NUM_TAGS;
    use candle_core::{DType, Device, Var};

    const K: usize = NUM_TAGS;

    fn log_sum_exp(values: impl Iterator<Item = f64> + Clone) -> f64 {
        let max = values.clone().fold(f64::NEG_INFINITY, f64::max);
        max + values.map(|v| (v - max).exp()).sum::<f64>().ln()
    }

    fn values(n: usize, seed: f32, scale: f32) -> Vec<f32> {
        (0..n)
            .map(|i| ((i as f32 + seed) * 0.77).sin() * scale)
            .collect()
    }

    fn crf(seed: f32) -> (Crf, Var, Var) {
        let t = Var::from_vec(values(K * K, seed, 0.8), (K, K), &Device::Cpu).unwrap();
        let b = Var::from_vec(values(2 * K, seed + 3.0, 0.8), (2, K), &Device::Cpu).unwrap();
        let crf = Crf {
            transitions: t.as_tensor().clone(),
            boundary: b.as_tensor().clone(),
        };
        (crf, t, b)
    }

    /// Every tag sequence of `len` tokens the BIO scheme allows (`len` small).
    fn paths(len: usize) -> Vec<Vec<usize>> {
        let mut out: Vec<Vec<usize>> = vec![vec![]];
        for _ in 0..len {
            let mut next = Vec::new();
            for p in &out {
                for j in (0..K).filter(|&j| p.last().is_none_or(|&i| allowed(Some(i), j))) {
                    let mut q = p.clone();
                    q.push(j);
                    next.push(q);
                }
            }
            out = next;
        }
        out
    }

    #[test]
    fn the_partition_function_and_marginals_are_those_of_every_path_enumerated() {
        let (crf, _, _) = crf(1.0);
        let chain = Chain::read(&crf.transitions, &crf.boundary, K).unwrap();
        let len = 3;
        let e: Vec<f64> = values(len * K, 5.0, 2.0)
            .into_iter()
            .map(f64::from)
            .collect();
        let all = paths(len);
        // 11 tags, but an I- tag only after its own B- or I-: 1 + 5 + 5 = 11 choices at the
        // start, fewer after.
        assert!(all.len() < K.pow(3) && all.len() > 100, "{}", all.len());
        let scores: Vec<f64> = all.iter().map(|y| chain.score(&e, y)).collect();
        let log_z = log_sum_exp(scores.iter().copied());
        let sums = chain.sums(&e);
        assert!((sums.log_z - log_z).abs() < 1e-9, "{} {log_z}", sums.log_z);
        for t in 0..len {
            for j in 0..K {
                let brute: f64 = all
                    .iter()
                    .zip(&scores)
                    .filter(|(y, _)| y[t] == j)
                    .map(|(_, s)| (s - log_z).exp())
                    .sum();
                let m = sums.marginal(t, j);
                assert!((m - brute).abs() < 1e-9, "t {t} tag {j}: {m} {brute}");
            }
        }
        // A forbidden sequence (O then I-DRUG) has no probability.
        assert_eq!(chain.score(&e, &[0, 2, 2]), f64::NEG_INFINITY);
    }

    /// The same likelihood composed of candle ops, which candle differentiates itself: the
    /// forward algorithm with forbidden pairs at -1e4, and the gold score gathered.
    fn composed(e: &Tensor, t: &Tensor, b: &Tensor, y: &[Vec<u32>]) -> Tensor {
        let forbid: Vec<f32> = (0..K * K)
            .map(|ij| match allowed(Some(ij / K), ij % K) {
                true => 0.0,
                false => -1e4,
            })
            .collect();
        let t = (t + Tensor::from_vec(forbid, (K, K), &Device::Cpu).unwrap()).unwrap();
        let mut total = Tensor::zeros((), DType::F32, &Device::Cpu).unwrap();
        for (row, tags) in y.iter().enumerate() {
            let er = e.get(row).unwrap();
            let mut alpha = (er.get(0).unwrap() + b.get(0).unwrap()).unwrap();
            let mut gold = (er.get(0).unwrap().get(tags[0] as usize).unwrap()
                + b.get(0).unwrap().get(tags[0] as usize).unwrap())
            .unwrap();
            for i in 1..tags.len() {
                let step = alpha
                    .unsqueeze(1)
                    .unwrap()
                    .broadcast_add(&t)
                    .unwrap()
                    .log_sum_exp(0)
                    .unwrap();
                alpha = (step + er.get(i).unwrap()).unwrap();
                let pair = t
                    .get(tags[i - 1] as usize)
                    .unwrap()
                    .get(tags[i] as usize)
                    .unwrap();
                gold = (gold + pair + er.get(i).unwrap().get(tags[i] as usize).unwrap()).unwrap();
            }
            let last = *tags.last().unwrap() as usize;
            let log_z = (alpha + b.get(1).unwrap()).unwrap().log_sum_exp(0).unwrap();
            gold = (gold + b.get(1).unwrap().get(last).unwrap()).unwrap();
            total = (total + (log_z - gold).unwrap()).unwrap();
        }
        total
    }

    fn close(a: &Tensor, b: &Tensor, tol: f32) {
        let a: Vec<f32> = a.flatten_all().unwrap().to_vec1().unwrap();
        let b: Vec<f32> = b.flatten_all().unwrap().to_vec1().unwrap();
        assert_eq!(a.len(), b.len());
        for (i, (x, y)) in a.iter().zip(&b).enumerate() {
            assert!((x - y).abs() <= tol * (1.0 + y.abs()), "{i}: {x} vs {y}");
        }
    }

    #[test]
    fn the_likelihood_and_its_gradients_match_candles_composed_ops() {
        let (crf, t, b) = crf(2.0);
        let (batch, seq) = (2, 6);
        let e = Var::from_vec(
            values(batch * seq * K, 9.0, 3.0),
            (batch, seq, K),
            &Device::Cpu,
        )
        .unwrap();
        // Row 0: B-DRUG I-DRUG O B-DOSE, then padding; row 1 all real, opening inside a span.
        let y0 = [1u32, 2, 0, 3, 0, 0];
        let y1 = [2u32, 2, 0, 9, 10, 0];
        let mask = [1., 1., 1., 1., 0., 0., 1., 1., 1., 1., 1., 1.];
        let targets: Vec<u32> = y0.iter().chain(&y1).copied().collect();
        let nll = crf.nll(e.as_tensor(), targets, mask.to_vec()).unwrap();
        let reference = composed(
            e.as_tensor(),
            t.as_tensor(),
            b.as_tensor(),
            &[y0[..4].to_vec(), y1.to_vec()],
        );
        close(&nll.sum_all().unwrap(), &reference, 1e-5);
        let ours = nll.sum_all().unwrap().backward().unwrap();
        let theirs = reference.backward().unwrap();
        for v in [&e, &t, &b] {
            close(ours.get(v).unwrap(), theirs.get(v).unwrap(), 1e-5);
        }
        // Padding gets no gradient.
        let de: Vec<f32> = ours
            .get(&e)
            .unwrap()
            .get(0)
            .unwrap()
            .flatten_all()
            .unwrap()
            .to_vec1()
            .unwrap();
        assert!(de[4 * K..].iter().all(|&v| v == 0.0));
    }

    #[test]
    fn padding_anywhere_reads_the_real_tokens_in_order() {
        let (crf, _, _) = crf(3.0);
        let packed = Tensor::from_vec(values(4 * K, 1.0, 2.0), (1, 4, K), &Device::Cpu).unwrap();
        // The same four tokens with padding at the start and in the middle.
        let pad = Tensor::zeros((1, 1, K), DType::F32, &Device::Cpu).unwrap();
        let spread = Tensor::cat(
            &[
                &pad,
                &packed.narrow(1, 0, 2).unwrap(),
                &pad,
                &packed.narrow(1, 2, 2).unwrap(),
            ],
            1,
        )
        .unwrap();
        let a = crf.nll(&packed, vec![1, 2, 0, 5], vec![1.; 4]).unwrap();
        let b = crf
            .nll(
                &spread,
                vec![0, 1, 2, 0, 0, 5],
                vec![0., 1., 1., 0., 1., 1.],
            )
            .unwrap();
        close(&a, &b, 1e-6);
        let m = |x: &Tensor, mask: Vec<f32>, n: usize| {
            let mask = Tensor::from_vec(mask, (1, n), &Device::Cpu).unwrap();
            crf.log_marginals(x, &mask).unwrap()
        };
        let ma = m(&packed, vec![1.; 4], 4);
        let mb = m(&spread, vec![0., 1., 1., 0., 1., 1.], 6);
        close(
            &ma.narrow(1, 0, 2).unwrap(),
            &mb.narrow(1, 1, 2).unwrap(),
            1e-6,
        );
        close(
            &ma.narrow(1, 2, 2).unwrap(),
            &mb.narrow(1, 4, 2).unwrap(),
            1e-6,
        );
        // Each real token's marginals sum to one; a padding position is uniform.
        let rows: Vec<Vec<f32>> = mb.get(0).unwrap().exp().unwrap().to_vec2().unwrap();
        for (i, r) in rows.iter().enumerate() {
            let s: f32 = r.iter().sum();
            assert!((s - 1.0).abs() < 1e-5, "{i}: {s}");
        }
        assert!(rows[0].iter().all(|&p| (p - 1.0 / K as f32).abs() < 1e-6));
    }

    #[test]
    fn a_gold_sequence_the_scheme_forbids_and_bad_sizes_are_named_errors() {
        let (crf, _, _) = crf(4.0);
        let e = Tensor::zeros((1, 3, K), DType::F32, &Device::Cpu).unwrap();
        let err = crf.nll(&e, vec![0, 2, 0], vec![1.; 3]).unwrap_err();
        assert!(err.to_string().contains("forbids"), "{err}");
        let err = crf.nll(&e, vec![0, 0], vec![1.; 2]).unwrap_err();
        assert!(err.to_string().contains("emissions"), "{err}");
        let err = crf.nll(&e, vec![0, 99, 0], vec![1.; 3]).unwrap_err();
        assert!(err.to_string().contains("target tag 99"), "{err}");
    }
}
