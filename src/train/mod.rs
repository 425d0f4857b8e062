//! Training: labelled letters in, a trained network, tokenizer, lexicon and calibration out.
//!
//! Reproducible: weights are initialised, batches shuffled and dropout masks drawn from
//! generators seeded by `TrainConfig::seed` (candle's CPU device cannot be seeded).

pub mod augment;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::annotation::corpus::LabelledLetter;
use crate::annotation::tags::NUM_TAGS;
use crate::artifacts::{ConfigFile, EpochLog, Model};
use crate::decode::memory::Memory;
use crate::decode::{Calibration, Decoding};
use crate::encode::features::FEATURE_DIM;
use crate::encode::lexicon::Lexicon;
use crate::encode::{make_batch, EncodedLetter, Piece};
use crate::error::Result;
use crate::eval;
use crate::eval::baselines::mask_conclusions;
use crate::model::{Dropout, ImrModel, ModelConfig, TagHead, FORMAT_VERSION};
use crate::predict::Inference;
use crate::tokenize::{spans_to_bio, LetterTokenizer};
use crate::Decision;
use augment::{augment, Replacements};
use rayon::prelude::*;

/// Everything that decides what model comes out, besides the data: the network to train and
/// how to train it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(into = "TrainConfigFile", from = "TrainConfigFile")]
pub struct TrainConfig {
    /// The network. Its `vocab_size` is what the tokenizer is trained to (the model gets the
    /// size it reached); `format_version`, `feature_dim` and `num_tags` are this imr's.
    pub model: ModelConfig,
    pub seed: u64,
    pub epochs: usize,
    pub learning_rate: f64,
    /// Tagging windows per step (decision batches are half as large).
    pub batch_size: usize,
    /// Tokens per training window.
    pub train_window: usize,
    /// Share of the letters held out as dev letters (early stopping, calibration) when no dev
    /// letters are given: `imr train` without `--dev`, and each fold of a cross-validation.
    pub dev_fraction: f64,
    /// Epochs without dev improvement before stopping.
    pub patience: usize,
    /// Weight of the decision loss beside the tagging loss.
    pub decision_weight: f64,
    /// Share of training tokens replaced by `[UNK]`.
    pub word_dropout: f32,
    /// The model is the mean of the weights after each of the schedule's last this many epochs
    /// (those that ran, if early stopping cut them short). 0 or 1: the best epoch on dev is.
    pub average_last: usize,
    /// Share of the decision head's training rationales read with their verdict sentences
    /// blanked (`eval::baselines::mask_conclusions`), so that it learns from the reasons.
    pub mask_verdicts: f32,
    /// Share of the training letters read, each epoch, as a variant with their gold mentions
    /// replaced by other names and forms (`augment.rs`).
    pub augment: f32,
    /// Whether drug-lexicon entries that the training letters use only as ordinary words are
    /// dropped from the lexicon before training (`Lexicon::common_words`).
    pub lexicon_filter: bool,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            model: ModelConfig {
                format_version: FORMAT_VERSION,
                vocab_size: 4000,
                embed_dim: 96,
                feature_dim: FEATURE_DIM,
                hidden: 128,
                kernel: 3,
                dilations: vec![1, 2, 4, 8],
                dropout: 0.3,
                num_tags: NUM_TAGS,
                window: 1024,
                window_margin: 32,
                rationale_tokens: 384,
                attention_layers: 0,
                attention_heads: 0,
                attention_radius: 0,
                lstm_units: 0,
                // Averaging the two taggers measured better than either
                // (docs/EXPERIMENTS.md, "What was measured").
                lstm_tagger_units: 64,
                // Off, as are mention replacement and the lexicon filter: with all three the
                // 5-fold CV was lower on entities and decisions in 4 folds of 5
                // (docs/EXPERIMENTS.md, 2026-12-02).
                ngram_dim: 0,
                // The 5-fold CV's model alone rose from 0.808 to 0.830 strict micro-F1 with
                // CRF heads, in every fold (docs/EXPERIMENTS.md, 2026-12-03).
                crf: true,
            },
            seed: 13,
            epochs: 30,
            learning_rate: 2e-3,
            batch_size: 16,
            train_window: 256,
            dev_fraction: DEV_FRACTION,
            patience: 8,
            decision_weight: 0.5,
            word_dropout: 0.1,
            average_last: 10,
            // Off: on one held-out split, blanking half the verdicts cost the unmasked
            // decisions and did not raise the masked ones (docs/EXPERIMENTS.md, 2026-12-02).
            mask_verdicts: 0.0,
            augment: 0.0,
            lexicon_filter: false,
        }
    }
}

/// The default share of dev letters.
const DEV_FRACTION: f64 = 0.15;

fn default_dev_fraction() -> f64 {
    DEV_FRACTION
}

fn is_default_dev_fraction(x: &f64) -> bool {
    *x == DEV_FRACTION
}

fn is_zero_f32(x: &f32) -> bool {
    *x == 0.0
}

/// `TrainConfig` as `config.json` ("training") and the cross-validation's fold fingerprints
/// hold it: one flat object, the network's settings among the training's. The inference
/// settings of the network (window, margin, rationale length) are not recorded: training
/// does not choose them.
#[derive(Serialize, Deserialize)]
struct TrainConfigFile {
    seed: u64,
    epochs: usize,
    learning_rate: f64,
    batch_size: usize,
    train_window: usize,
    #[serde(
        default = "default_dev_fraction",
        skip_serializing_if = "is_default_dev_fraction"
    )]
    dev_fraction: f64,
    vocab_size: usize,
    embed_dim: usize,
    hidden: usize,
    kernel: usize,
    dilations: Vec<usize>,
    dropout: f32,
    patience: usize,
    decision_weight: f64,
    word_dropout: f32,
    #[serde(default)]
    average_last: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    attention_layers: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    attention_heads: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    attention_radius: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    lstm_units: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    lstm_tagger_units: usize,
    #[serde(default, skip_serializing_if = "crate::model::is_zero")]
    ngram_dim: usize,
    #[serde(default, skip_serializing_if = "is_zero_f32")]
    mask_verdicts: f32,
    #[serde(default, skip_serializing_if = "is_zero_f32")]
    augment: f32,
    #[serde(default, skip_serializing_if = "crate::model::is_false")]
    lexicon_filter: bool,
    #[serde(default, skip_serializing_if = "crate::model::is_false")]
    crf: bool,
}

impl From<TrainConfig> for TrainConfigFile {
    fn from(c: TrainConfig) -> Self {
        let m = c.model;
        TrainConfigFile {
            seed: c.seed,
            epochs: c.epochs,
            learning_rate: c.learning_rate,
            batch_size: c.batch_size,
            train_window: c.train_window,
            dev_fraction: c.dev_fraction,
            vocab_size: m.vocab_size,
            embed_dim: m.embed_dim,
            hidden: m.hidden,
            kernel: m.kernel,
            dilations: m.dilations,
            dropout: m.dropout,
            patience: c.patience,
            decision_weight: c.decision_weight,
            word_dropout: c.word_dropout,
            average_last: c.average_last,
            attention_layers: m.attention_layers,
            attention_heads: m.attention_heads,
            attention_radius: m.attention_radius,
            lstm_units: m.lstm_units,
            lstm_tagger_units: m.lstm_tagger_units,
            ngram_dim: m.ngram_dim,
            crf: m.crf,
            mask_verdicts: c.mask_verdicts,
            augment: c.augment,
            lexicon_filter: c.lexicon_filter,
        }
    }
}

impl From<TrainConfigFile> for TrainConfig {
    fn from(f: TrainConfigFile) -> Self {
        let d = TrainConfig::default();
        TrainConfig {
            model: ModelConfig {
                vocab_size: f.vocab_size,
                embed_dim: f.embed_dim,
                hidden: f.hidden,
                kernel: f.kernel,
                dilations: f.dilations,
                dropout: f.dropout,
                attention_layers: f.attention_layers,
                attention_heads: f.attention_heads,
                attention_radius: f.attention_radius,
                lstm_units: f.lstm_units,
                lstm_tagger_units: f.lstm_tagger_units,
                ngram_dim: f.ngram_dim,
                crf: f.crf,
                ..d.model
            },
            seed: f.seed,
            epochs: f.epochs,
            learning_rate: f.learning_rate,
            batch_size: f.batch_size,
            train_window: f.train_window,
            dev_fraction: f.dev_fraction,
            patience: f.patience,
            decision_weight: f.decision_weight,
            word_dropout: f.word_dropout,
            average_last: f.average_last,
            mask_verdicts: f.mask_verdicts,
            augment: f.augment,
            lexicon_filter: f.lexicon_filter,
        }
    }
}

/// Progress reports: a step finished, or an epoch with its log line.
pub enum Progress<'a> {
    Start {
        epochs: usize,
        steps_per_epoch: usize,
    },
    Step,
    Epoch(&'a EpochLog),
}

/// Splits letters into training and dev sets, stratified on whether a letter has an
/// Overturned item, seeded. `fraction` of each stratum (at least one letter of each
/// non-empty stratum when `fraction > 0`) goes to dev.
pub fn split_dev(
    letters: Vec<LabelledLetter>,
    fraction: f64,
    seed: u64,
) -> (Vec<LabelledLetter>, Vec<LabelledLetter>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xD5E7);
    let (mut pos, mut neg): (Vec<_>, Vec<_>) = letters.into_iter().partition(has_overturned);
    pos.shuffle(&mut rng);
    neg.shuffle(&mut rng);
    let mut train = Vec::new();
    let mut dev = Vec::new();
    for group in [pos, neg] {
        let n_dev = if fraction > 0.0 && !group.is_empty() {
            ((group.len() as f64 * fraction).round() as usize).clamp(1, group.len())
        } else {
            0
        };
        for (i, l) in group.into_iter().enumerate() {
            if i < n_dev {
                dev.push(l)
            } else {
                train.push(l)
            }
        }
    }
    let by_name = |a: &LabelledLetter, b: &LabelledLetter| a.letter.path.cmp(&b.letter.path);
    train.sort_by(by_name);
    dev.sort_by(by_name);
    (train, dev)
}

pub fn has_overturned(l: &LabelledLetter) -> bool {
    l.letter
        .items
        .iter()
        .any(|i| i.stated_decision == Some(Decision::Overturned))
}

fn stable_hash(s: &str) -> u64 {
    // FNV-1a: stable across runs and platforms, unlike std's hasher.
    s.bytes().fold(0xcbf29ce484222325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100000001b3)
    })
}

/// Overwrites every variable with values from a generator seeded by `seed` and the variable's
/// name: norms start at 1/0, biases at 0, matrices uniform in ±1/sqrt(fan_in).
fn seeded_init(varmap: &VarMap, seed: u64) -> candle_core::Result<()> {
    let data = varmap.data().lock().expect("varmap lock");
    for (name, var) in data.iter() {
        let dims = var.dims().to_vec();
        let n: usize = dims.iter().product();
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ stable_hash(name));
        let values: Vec<f32> = if name.ends_with("norm.weight") {
            vec![1.0; n]
        } else if name.ends_with("bias") {
            vec![0.0; n]
        } else {
            let bound = if name.contains("embed") {
                0.1
            } else {
                1.0 / (*dims.last().unwrap_or(&1) as f32).sqrt()
            };
            (0..n).map(|_| rng.random_range(-bound..bound)).collect()
        };
        var.set(&Tensor::from_vec(values, dims.as_slice(), var.device())?)?;
    }
    Ok(())
}

fn snapshot(varmap: &VarMap) -> candle_core::Result<Vec<(Var, Tensor)>> {
    let data = varmap.data().lock().expect("varmap lock");
    data.values()
        .map(|v| Ok((v.clone(), v.as_tensor().copy()?)))
        .collect()
}

fn restore(saved: &[(Var, Tensor)]) -> candle_core::Result<()> {
    for (var, t) in saved {
        var.set(t)?;
    }
    Ok(())
}

/// What epochs (and the weight average) are chosen by on dev: entity strict micro-F1 and
/// decision ROC-AUC, half each. Threshold-free for decisions: the threshold is set afterwards by
/// calibration, so a macro-F1 at the raw logit's 0.5 would only add noise to the choice.
fn dev_score(r: &eval::EvalReport) -> f64 {
    0.5 * r.entities.strict.micro.f1 + 0.5 * r.decisions.model.roc_auc.unwrap_or(0.5)
}

/// log(sigmoid(z)), computed stably: min(z, 0) - log(1 + exp(-|z|)).
fn log_sigmoid(z: &Tensor) -> candle_core::Result<Tensor> {
    let neg_abs = z.abs()?.neg()?;
    z.minimum(0f32)? - (neg_abs.exp()? + 1.0)?.log()?
}

/// What one training step needs to compute the loss of part of its batch.
struct StepContext<'a> {
    model: &'a ImrModel,
    /// This epoch's tagging letters (an augmented variant or the original) and their targets.
    tagged: &'a [(&'a EncodedLetter, &'a [u32])],
    /// The original letters, for the decision batches, and each with its verdicts blanked.
    encoded: &'a [EncodedLetter],
    masked: &'a [Option<EncodedLetter>],
    pad_id: u32,
    unk_id: u32,
    word_dropout: f32,
    rationale_tokens: usize,
    pos_weight: f32,
    decision_weight: f64,
    /// Real tokens in the whole step's tagging batch, and rationales in its decision batch:
    /// each shard divides by these so that the shards' gradients add up to the batch's.
    tag_tokens: usize,
    decisions: usize,
    device: &'a Device,
}

impl StepContext<'_> {
    fn with_word_dropout(
        &self,
        mut batch: crate::encode::Batch,
        dropout: &mut Dropout,
    ) -> Result<crate::encode::Batch> {
        if self.word_dropout > 0.0 {
            let (b, seq) = batch.ids.dims2()?;
            let mut ids: Vec<u32> = batch.ids.flatten_all()?.to_vec1()?;
            let mask: Vec<f32> = batch.mask.flatten_all()?.to_vec1()?;
            dropout.drop_words(&mut ids, &mask, self.word_dropout, self.unk_id);
            batch.ids = Tensor::from_vec(ids, (b, seq), self.device)?;
        }
        Ok(batch)
    }

    /// A head's negative log-likelihood of the targets per real token of the whole step.
    fn tag_loss(
        &self,
        head: &TagHead,
        logits: &Tensor,
        targets: &Tensor,
        mask: &Tensor,
    ) -> Result<Tensor> {
        Ok((head.loss(logits, targets, mask)? / self.tag_tokens as f64)?)
    }

    /// Loss of one shard, and its gradients. The second tagger draws its dropout from its own
    /// generator, so that the main tagger and decision head train as they would without it.
    fn shard(
        &self,
        windows: &[(usize, usize, usize)],
        items: &[DecisionPick],
        dropout: &mut Dropout,
        lstm_dropout: &mut Dropout,
    ) -> Result<ShardLoss> {
        let mut loss: Option<Tensor> = None;
        let mut tag_part = 0.0;
        let mut lstm_part = None;
        let mut dec_part = 0.0;
        if !windows.is_empty() {
            let pieces: Vec<Piece> = windows
                .iter()
                .map(|&(li, s, e)| Piece {
                    letter: self.tagged[li].0,
                    positions: (s..e).collect(),
                })
                .collect();
            let batch =
                self.with_word_dropout(make_batch(&pieces, self.pad_id, self.device)?, dropout)?;
            let mut tgt = vec![0u32; windows.len() * batch.seq];
            for (bi, &(li, s, e)) in windows.iter().enumerate() {
                tgt[bi * batch.seq..bi * batch.seq + (e - s)]
                    .copy_from_slice(&self.tagged[li].1[s..e]);
            }
            let tgt = Tensor::from_vec(tgt, (windows.len(), batch.seq), self.device)?;
            let (main_head, lstm_head) = self.model.tag_heads();
            let logits = self.model.tag_logits(&batch, Some(dropout))?;
            let mut tag_loss = self.tag_loss(main_head, &logits, &tgt, &batch.mask)?;
            tag_part = f64::from(tag_loss.to_scalar::<f32>()?);
            if let (Some(logits), Some(head)) = (
                self.model.lstm_tag_logits(&batch, Some(lstm_dropout))?,
                lstm_head,
            ) {
                let second = self.tag_loss(head, &logits, &tgt, &batch.mask)?;
                lstm_part = Some(f64::from(second.to_scalar::<f32>()?));
                tag_loss = (tag_loss + second)?;
            }
            loss = Some(tag_loss);
        }
        if !items.is_empty() {
            let pieces: Vec<Piece> = items
                .iter()
                .map(|p| {
                    let letter = match &self.masked[p.letter] {
                        // A rationale that was all verdict has nothing left to learn from.
                        Some(m) if p.masked && !m.rationales[p.item].is_empty() => m,
                        _ => &self.encoded[p.letter],
                    };
                    Piece {
                        letter,
                        positions: letter.rationale_tokens(p.item, self.rationale_tokens),
                    }
                })
                .collect();
            let b =
                self.with_word_dropout(make_batch(&pieces, self.pad_id, self.device)?, dropout)?;
            let z = self.model.decision_logits(&b, Some(dropout))?;
            let y = Tensor::from_vec(
                items.iter().map(|p| p.overturned).collect::<Vec<_>>(),
                items.len(),
                self.device,
            )?;
            // Class-weighted binary cross-entropy: Overturned counts pos_weight times.
            let pos = (y.clone() * f64::from(self.pos_weight))?.mul(&log_sigmoid(&z)?)?;
            let neg = (y.ones_like()? - &y)?.mul(&log_sigmoid(&z.neg()?)?)?;
            let dec_loss = ((pos + neg)?.sum_all()?.neg()? / self.decisions as f64)?;
            dec_part = f64::from(dec_loss.to_scalar::<f32>()?);
            let weighted = (dec_loss * self.decision_weight)?;
            loss = Some(match loss {
                Some(l) => (l + weighted)?,
                None => weighted,
            });
        }
        Ok(ShardLoss {
            grads: loss.map(|l| l.backward()).transpose()?,
            tag: tag_part,
            lstm_tag: lstm_part,
            decision: dec_part,
        })
    }
}

/// One shard's gradients and its parts of the step's losses.
struct ShardLoss {
    grads: Option<candle_core::backprop::GradStore>,
    tag: f64,
    lstm_tag: Option<f64>,
    decision: f64,
}

/// Trains on `train`, choosing the epoch and fitting the calibration on `dev`. The steps:
/// a tokenizer from the training letters, a seeded network, the letters encoded once, then
/// epochs of shuffled windows (each step's batch split between the two cores) scored on `dev`
/// until it stops improving, the weights of the last epochs averaged, the decision calibrated
/// on `dev`, and the memory of the gold's phrases.
pub fn train(
    cfg: &TrainConfig,
    train: &[LabelledLetter],
    dev: &[LabelledLetter],
    lexicon: Lexicon,
    progress: &mut dyn FnMut(Progress),
) -> Result<Model> {
    let device = Device::Cpu;
    let texts: Vec<&str> = train.iter().map(|l| l.letter.text.as_str()).collect();
    let tokenizer = LetterTokenizer::train(&texts, cfg.model.vocab_size)?;
    let mcfg = ModelConfig {
        vocab_size: tokenizer.vocab_size(),
        ..cfg.model.clone()
    };
    let varmap = VarMap::new();
    let network = ImrModel::new(&mcfg, VarBuilder::from_varmap(&varmap, DType::F32, &device))?;
    seeded_init(&varmap, cfg.seed)?;
    // A lexicon filtered by an earlier training (the built-in model's) is filtered afresh,
    // by these training letters only.
    let lexicon = lexicon.with_all_drugs();
    let common_words = if cfg.lexicon_filter {
        lexicon.common_words(train)
    } else {
        Vec::new()
    };
    let lexicon = lexicon.without_drugs(&common_words);
    let examples = Examples::new(train, &tokenizer, &lexicon, cfg.mask_verdicts > 0.0)?;
    let replacements = Replacements::from_lexicon(&lexicon);
    let mut rng = ChaCha8Rng::seed_from_u64(cfg.seed);
    let mut opt = AdamW::new(
        varmap.all_vars(),
        ParamsAdamW {
            lr: cfg.learning_rate,
            weight_decay: 0.01,
            ..Default::default()
        },
    )?;
    progress(Progress::Start {
        epochs: cfg.epochs,
        steps_per_epoch: examples.steps_per_epoch(cfg),
    });
    let no_memory = Memory::default();
    let parts = Parts {
        cfg,
        mcfg: &mcfg,
        network: &network,
        tokenizer: &tokenizer,
        lexicon: &lexicon,
        memory: &no_memory,
        device: &device,
    };
    let mut choice = WeightChoice::new(cfg);
    let mut log = Vec::new();
    for epoch in 1..=cfg.epochs {
        let t0 = std::time::Instant::now();
        // Linear decay to a tenth of the rate by the last epoch: late epochs refine.
        let progress_frac = (epoch - 1) as f64 / cfg.epochs.max(2).saturating_sub(1) as f64;
        opt.set_learning_rate(cfg.learning_rate * (1.0 - 0.9 * progress_frac));
        let variants = examples.variants(train, &parts, &replacements, epoch)?;
        let mut entry = run_epoch(
            &parts, &examples, &variants, epoch, &mut rng, &mut opt, &varmap, progress,
        )?;
        choice.add_to_average(epoch, &varmap)?;
        let score = parts
            .score_on_dev(dev, Some(&mut entry))?
            .unwrap_or(epoch as f64);
        let stop = choice.keep_if_best(score, &varmap, &mut entry)?;
        entry.seconds = t0.elapsed().as_secs_f64();
        progress(Progress::Epoch(&entry));
        log.push(entry);
        if stop {
            break;
        }
    }
    let (weights, dev_scores) = choice.finish(&log, &parts, dev)?;
    let calibration = parts.calibrate(dev, examples.pos_weight)?;
    let config = ConfigFile {
        format_version: FORMAT_VERSION,
        model: mcfg.clone(),
        calibration,
        training: serde_json::json!({
            "config": cfg,
            "train_letters": train.len(),
            "dev_letters": dev.len(),
            "train_items": examples.items.len(),
            "masked_rationales": examples.masked.iter().flatten().count(),
            "lexicon_common_words": common_words,
            "overturned_weight": examples.pos_weight,
            "epochs_run": log.len(),
            "weights": weights,
            "dev_scores": dev_scores,
        }),
    };
    let labelled: Vec<&LabelledLetter> = train.iter().chain(dev).collect();
    Ok(Model {
        path: None,
        config,
        tokenizer,
        lexicon,
        memory: Memory::from_letters(&labelled),
        network,
        varmap,
        log,
        device,
    })
}

/// The training letters encoded once: tokens and features, BIO targets, and the items with a
/// stated decision (letter, item, 1 for Overturned) with the weight of the rare class.
struct Examples {
    encoded: Vec<EncodedLetter>,
    targets: Vec<Vec<u32>>,
    /// Each letter with its rationales' verdict sentences blanked, when masking is on and the
    /// masked letter parses to the same items.
    masked: Vec<Option<EncodedLetter>>,
    items: Vec<(usize, usize, f32)>,
    pos_weight: f32,
}

/// One item of a decision batch: which letter and item, 1 for Overturned, and whether it is
/// read with its verdicts blanked.
#[derive(Debug, Clone, Copy)]
struct DecisionPick {
    letter: usize,
    item: usize,
    overturned: f32,
    masked: bool,
}

/// An epoch's augmented variant of a training letter: encoded, and its BIO targets.
type Variant = Option<(EncodedLetter, Vec<u32>)>;

fn bio_targets(e: &EncodedLetter, l: &LabelledLetter) -> Vec<u32> {
    spans_to_bio(&e.tokens.offsets, &l.entities)
        .0
        .into_iter()
        .map(|t| t as u32)
        .collect()
}

impl Examples {
    fn new(
        train: &[LabelledLetter],
        tokenizer: &LetterTokenizer,
        lexicon: &Lexicon,
        mask: bool,
    ) -> Result<Self> {
        let encoded: Vec<EncodedLetter> = train
            .iter()
            .map(|l| EncodedLetter::new(&l.letter, tokenizer, lexicon))
            .collect::<Result<_>>()?;
        let targets: Vec<Vec<u32>> = train
            .iter()
            .zip(&encoded)
            .map(|(l, e)| bio_targets(e, l))
            .collect();
        let masked = train
            .iter()
            .map(|l| {
                if !mask {
                    return Ok(None);
                }
                let (m, _) = mask_conclusions(&l.letter)?;
                if m.items.len() != l.letter.items.len() {
                    return Ok(None);
                }
                EncodedLetter::new(&m, tokenizer, lexicon).map(Some)
            })
            .collect::<Result<Vec<_>>>()?;
        let items: Vec<(usize, usize, f32)> = train
            .iter()
            .enumerate()
            .flat_map(|(li, l)| {
                l.letter
                    .items
                    .iter()
                    .enumerate()
                    .filter_map(move |(ii, it)| {
                        it.stated_decision
                            .map(|d| (li, ii, f32::from(u8::from(d == Decision::Overturned))))
                    })
            })
            .collect();
        let n_pos = items.iter().filter(|i| i.2 > 0.5).count().max(1);
        let pos_weight = ((items.len() - n_pos.min(items.len())) as f32 / n_pos as f32).max(1.0);
        Ok(Examples {
            encoded,
            targets,
            masked,
            items,
            pos_weight,
        })
    }

    /// This epoch's augmented variants (`augment.rs`): each letter, with probability
    /// `TrainConfig::augment`, replaced by a variant drawn from a generator seeded by the
    /// seed, the epoch and the letter, so that they do not depend on the order of work.
    fn variants(
        &self,
        train: &[LabelledLetter],
        parts: &Parts,
        with: &Replacements,
        epoch: usize,
    ) -> Result<Vec<Variant>> {
        let share = f64::from(parts.cfg.augment);
        if share <= 0.0 {
            return Ok(vec![None; train.len()]);
        }
        train
            .par_iter()
            .enumerate()
            .map(|(li, l)| {
                let mut rng = ChaCha8Rng::seed_from_u64(
                    parts.cfg.seed ^ stable_hash(&format!("augment/{epoch}/{li}")),
                );
                if !rng.random_bool(share.min(1.0)) {
                    return Ok(None);
                }
                let Some(a) = augment(l, with, 0.5, &mut rng) else {
                    return Ok(None);
                };
                let e = EncodedLetter::new(&a.letter, parts.tokenizer, parts.lexicon)?;
                let t = bio_targets(&e, &a);
                Ok(Some((e, t)))
            })
            .collect()
    }

    fn steps_per_epoch(&self, cfg: &TrainConfig) -> usize {
        self.encoded
            .iter()
            .map(|e| e.len().div_ceil(cfg.train_window))
            .sum::<usize>()
            .div_ceil(cfg.batch_size)
    }

    /// One epoch's tagging windows `(letter, start, end)`, each letter's starting at a random
    /// shift so that edges fall in new places, all shuffled; and the items' shuffled order.
    fn epoch_order(
        &self,
        tagged: &[(&EncodedLetter, &[u32])],
        w: usize,
        rng: &mut ChaCha8Rng,
    ) -> (Vec<(usize, usize, usize)>, Vec<usize>) {
        let mut windows = Vec::new();
        for (li, (e, _)) in tagged.iter().enumerate() {
            let shift = rng.random_range(0..w / 2);
            let mut s = 0usize;
            let mut first = true;
            while s < e.len() {
                let end = if first {
                    (w - shift).min(e.len())
                } else {
                    (s + w).min(e.len())
                };
                windows.push((li, s, end));
                s = end;
                first = false;
            }
        }
        windows.shuffle(rng);
        let mut order: Vec<usize> = (0..self.items.len()).collect();
        order.shuffle(rng);
        (windows, order)
    }
}

/// The model's parts as training holds them, for the steps and the dev scoring.
struct Parts<'a> {
    cfg: &'a TrainConfig,
    mcfg: &'a ModelConfig,
    network: &'a ImrModel,
    tokenizer: &'a LetterTokenizer,
    lexicon: &'a Lexicon,
    memory: &'a Memory,
    device: &'a Device,
}

impl Parts<'_> {
    /// Dev evaluation and calibration read raw logits: the calibration is what is being
    /// fitted. Dev entities are scored with plain BIO decoding: the model's own tagging, for
    /// early stopping and the recorded scores, untouched by the rules of the default decoding.
    fn uncalibrated(&self) -> Inference<'_> {
        Inference {
            decoding: Decoding::Bio,
            ..Inference::new(
                self.network,
                self.mcfg,
                Calibration::identity(),
                self.tokenizer,
                self.lexicon,
                self.memory,
                self.device,
            )
        }
    }

    /// The dev score (`dev_score`), recorded in `entry` when one is given; none without dev
    /// letters.
    fn score_on_dev(
        &self,
        dev: &[LabelledLetter],
        entry: Option<&mut EpochLog>,
    ) -> Result<Option<f64>> {
        if dev.is_empty() {
            return Ok(None);
        }
        let (r, _) = eval::evaluate(&self.uncalibrated(), dev)?;
        if let Some(entry) = entry {
            entry.dev_entity_f1 = Some(r.entities.strict.micro.f1);
            entry.dev_decision_macro_f1 = Some(r.decisions.model.macro_f1);
            entry.dev_decision_auc = r.decisions.model.roc_auc;
        }
        Ok(Some(dev_score(&r)))
    }

    /// Platt scaling fitted on dev; without one, or with a fit that flips the logit's sign (a
    /// dev set too small to trust), the class weighting's shift of the logits undone.
    fn calibrate(&self, dev: &[LabelledLetter], pos_weight: f32) -> Result<Calibration> {
        let prior_corrected = Calibration {
            a: 1.0,
            b: -pos_weight.ln(),
        };
        if dev.is_empty() {
            return Ok(prior_corrected);
        }
        let refs: Vec<&crate::Letter> = dev.iter().map(|l| &l.letter).collect();
        let preds = self.uncalibrated().predict(&refs)?;
        let (mut z, mut y) = (Vec::new(), Vec::new());
        for (l, p) in dev.iter().zip(&preds) {
            for (item, &logit) in l.letter.items.iter().zip(&p.decision_logits) {
                if let Some(d) = item.stated_decision {
                    z.push(logit);
                    y.push(d == Decision::Overturned);
                }
            }
        }
        let c = Calibration::fit(&z, &y);
        Ok(if c.a > 0.0 { c } else { prior_corrected })
    }
}

/// One epoch over shuffled windows: per step a tagging batch and a decision batch, their two
/// halves forward and backward on the two cores, the gradients summed, one optimizer step.
/// Returns the epoch's log line with its mean losses.
#[allow(clippy::too_many_arguments)]
fn run_epoch(
    parts: &Parts,
    examples: &Examples,
    variants: &[Variant],
    epoch: usize,
    rng: &mut ChaCha8Rng,
    opt: &mut AdamW,
    varmap: &VarMap,
    progress: &mut dyn FnMut(Progress),
) -> Result<EpochLog> {
    let cfg = parts.cfg;
    let tagged: Vec<(&EncodedLetter, &[u32])> = examples
        .encoded
        .iter()
        .zip(&examples.targets)
        .zip(variants)
        .map(|((e, t), v)| match v {
            Some((ve, vt)) => (ve, vt.as_slice()),
            None => (e, t.as_slice()),
        })
        .collect();
    let (windows, order) = examples.epoch_order(&tagged, cfg.train_window, rng);
    let items = &examples.items;
    let dec_batch = (cfg.batch_size / 2).max(1);
    let (mut tag_sum, mut dec_sum, mut steps) = (0f64, 0f64, 0usize);
    let mut lstm_sum: Option<f64> = None;
    for (step, chunk) in windows.chunks(cfg.batch_size).enumerate() {
        let sel: Vec<DecisionPick> = if items.is_empty() {
            Vec::new()
        } else {
            (0..dec_batch)
                .map(|k| {
                    let (letter, item, overturned) =
                        items[order[(step * dec_batch + k) % items.len()]];
                    // Its own generator: masking changes no other draw of the step.
                    let mut r = ChaCha8Rng::seed_from_u64(
                        cfg.seed ^ stable_hash(&format!("mask/{epoch}/{step}/{k}")),
                    );
                    DecisionPick {
                        letter,
                        item,
                        overturned,
                        masked: r.random::<f32>() < cfg.mask_verdicts,
                    }
                })
                .collect()
        };
        let ctx = StepContext {
            model: parts.network,
            tagged: &tagged,
            encoded: &examples.encoded,
            masked: &examples.masked,
            pad_id: parts.tokenizer.pad_id(),
            unk_id: parts.tokenizer.unk_id(),
            word_dropout: cfg.word_dropout,
            rationale_tokens: parts.mcfg.rationale_tokens,
            pos_weight: examples.pos_weight,
            decision_weight: cfg.decision_weight,
            tag_tokens: chunk.iter().map(|w| w.2 - w.1).sum(),
            decisions: sel.len(),
            device: parts.device,
        };
        // Data parallel: the two halves of the batch go forward and backward on the two
        // cores, and their gradients are summed (each half's loss is already scaled by the
        // whole batch's size). Dropout seeds depend on (seed, epoch, step, half) only.
        let seed = |half: u64| cfg.seed ^ stable_hash(&format!("{epoch}/{step}/{half}"));
        let shard = |windows, items, half| {
            ctx.shard(
                windows,
                items,
                &mut Dropout::new(parts.mcfg.dropout, seed(half)),
                &mut Dropout::new(parts.mcfg.dropout, seed(half) ^ stable_hash("lstm_tagger")),
            )
        };
        let (wa, wb) = chunk.split_at(chunk.len().div_ceil(2));
        let (da, db) = sel.split_at(sel.len().div_ceil(2));
        let (ra, rb) = rayon::join(|| shard(wa, da, 0), || shard(wb, db, 1));
        let (a, b) = (ra?, rb?);
        tag_sum += a.tag + b.tag;
        dec_sum += a.decision + b.decision;
        for part in [a.lstm_tag, b.lstm_tag].into_iter().flatten() {
            *lstm_sum.get_or_insert(0.0) += part;
        }
        if let Some(grads) = sum_grads(varmap, a.grads, b.grads)? {
            opt.step(&grads)?;
        }
        steps += 1;
        progress(Progress::Step);
    }
    Ok(EpochLog {
        epoch,
        tag_loss: tag_sum / steps.max(1) as f64,
        lstm_tag_loss: lstm_sum.map(|s| s / steps.max(1) as f64),
        decision_loss: dec_sum / steps.max(1) as f64,
        seconds: 0.0,
        dev_entity_f1: None,
        dev_decision_macro_f1: None,
        dev_decision_auc: None,
        best: false,
    })
}

/// The two shards' gradients added, per variable.
fn sum_grads(
    varmap: &VarMap,
    a: Option<candle_core::backprop::GradStore>,
    b: Option<candle_core::backprop::GradStore>,
) -> Result<Option<candle_core::backprop::GradStore>> {
    Ok(match (a, b) {
        (Some(mut a), Some(b)) => {
            for var in varmap.all_vars() {
                if let Some(gb) = b.get(var.as_tensor()) {
                    let sum = match a.get(var.as_tensor()) {
                        Some(ga) => (ga + gb)?,
                        None => gb.clone(),
                    };
                    a.insert(var.as_tensor(), sum);
                }
            }
            Some(a)
        }
        (a, b) => a.or(b),
    })
}

/// Which weights the model keeps: the best epoch on dev (early stopping after `patience`
/// epochs without a better one), or the mean of the weights of the schedule's last
/// `average_last` epochs that ran.
struct WeightChoice {
    patience: usize,
    average: bool,
    average_from: usize,
    best: Option<(f64, Vec<(Var, Tensor)>)>,
    since_best: usize,
    /// Running sum of the weights of the epochs from `average_from` on, and how many.
    sum: Option<Vec<(Var, Tensor)>>,
    averaged: usize,
}

impl WeightChoice {
    fn new(cfg: &TrainConfig) -> Self {
        WeightChoice {
            patience: cfg.patience,
            average: cfg.average_last > 1,
            average_from: cfg.epochs.saturating_sub(cfg.average_last) + 1,
            best: None,
            since_best: 0,
            sum: None,
            averaged: 0,
        }
    }

    fn add_to_average(&mut self, epoch: usize, varmap: &VarMap) -> Result<()> {
        if self.average && epoch >= self.average_from {
            self.sum = Some(match self.sum.take() {
                None => snapshot(varmap)?,
                Some(sum) => sum
                    .into_iter()
                    .map(|(var, t)| Ok((var.clone(), (t + var.as_tensor())?)))
                    .collect::<candle_core::Result<_>>()?,
            });
            self.averaged += 1;
        }
        Ok(())
    }

    /// Keeps the weights if `score` is the best yet (marking `entry`); true when training
    /// should stop.
    fn keep_if_best(&mut self, score: f64, varmap: &VarMap, entry: &mut EpochLog) -> Result<bool> {
        if self.best.as_ref().is_none_or(|(b, _)| score > *b) {
            self.best = Some((score, snapshot(varmap)?));
            entry.best = true;
            self.since_best = 0;
        } else {
            self.since_best += 1;
        }
        Ok(self.since_best >= self.patience)
    }

    /// Sets the network's weights to the choice, and says which they are with the dev scores.
    /// The average of the last epochs replaces the best epoch: at the end of the decaying
    /// learning rate it is the better estimate, and a best epoch picked among 30 noisy dev
    /// scores flatters itself. Both dev scores are recorded.
    fn finish(
        self,
        log: &[EpochLog],
        parts: &Parts,
        dev: &[LabelledLetter],
    ) -> Result<(String, serde_json::Map<String, serde_json::Value>)> {
        let best_epoch = log.iter().rev().find(|e| e.best).map(|e| e.epoch);
        let mut weights = best_epoch.map_or("last epoch".to_string(), |e| format!("epoch {e}"));
        let mut dev_scores = serde_json::Map::new();
        if let Some((score, _)) = self.best.as_ref().filter(|_| !dev.is_empty()) {
            dev_scores.insert("best_epoch".into(), serde_json::json!(score));
        }
        match self.sum.filter(|_| self.averaged > 1) {
            Some(sum) => {
                let mean: Vec<(Var, Tensor)> = sum
                    .into_iter()
                    .map(|(var, t)| Ok((var, (t / self.averaged as f64)?)))
                    .collect::<candle_core::Result<_>>()?;
                restore(&mean)?;
                weights = format!(
                    "mean of epochs {}-{}",
                    self.average_from,
                    self.average_from + self.averaged - 1
                );
                if let Some(score) = parts.score_on_dev(dev, None)? {
                    dev_scores.insert("average".into(), serde_json::json!(score));
                }
            }
            None => {
                if let Some((_, saved)) = &self.best {
                    restore(saved)?;
                }
            }
        }
        Ok((weights, dev_scores))
    }
}
