//! K-fold cross-validation: split by letter (stratified on having an Overturned item, seeded),
//! train on K-1 folds (holding out a dev part of them for early stopping and calibration),
//! evaluate on the remaining fold. Figures are reported per fold, as mean ± std over folds, and
//! pooled over all out-of-fold predictions.

use std::collections::BTreeMap;
use std::path::Path;

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::annotation::corpus::LabelledLetter;
use crate::artifacts::Model;
use crate::decode::memory::Memory;
use crate::decode::rules::RulesOff;
use crate::decode::Decoding;
use crate::encode::lexicon::Lexicon;
use crate::error::{Error, Result};
use crate::eval::baselines::{
    dictionary_entities, mask_conclusions, rationale_examples, BowLogReg,
};
use crate::eval::{report, EntityReport, EvalReport, Scored};
use crate::predict::{Inference, LetterPrediction};
use crate::train::{self, has_overturned, Progress, TrainConfig};

/// Fold index of each letter: each stratum (with / without an Overturned item) is shuffled
/// with `seed` and dealt round-robin.
pub fn assign_folds(letters: &[LabelledLetter], k: usize, seed: u64) -> Vec<usize> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0xF01D);
    let mut fold = vec![0; letters.len()];
    let mut next = 0;
    for want in [true, false] {
        let mut idx: Vec<usize> = (0..letters.len())
            .filter(|&i| has_overturned(&letters[i]) == want)
            .collect();
        idx.shuffle(&mut rng);
        for i in idx {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}

/// How many folds (the first ones) the errors of a cross-validation are read on: the report's
/// error tables show only their letters, and every rule or setting is to be written from
/// them. The other folds are sealed: a change is judged by its gain there (README, "How a
/// rule earns its place"). With K folds, at most K - 1 are read.
pub const READ_FOLDS: usize = 2;

/// The folds read (0-based) of a K-fold cross-validation.
pub fn read_folds(k: usize) -> std::ops::Range<usize> {
    0..READ_FOLDS.min(k.saturating_sub(1))
}

#[derive(Debug, Clone, Serialize)]
pub struct CvReport {
    pub k: usize,
    pub seed: u64,
    pub letters: usize,
    /// The folds whose errors may be read (1-based; `READ_FOLDS`); the others are sealed.
    pub read_folds: Vec<usize>,
    pub sealed_folds: Vec<usize>,
    /// Per letter, in input order: whether it is in a sealed fold.
    #[serde(skip)]
    pub sealed_letters: Vec<bool>,
    /// Every figure as `mean` and `std` over the folds, by a dotted name.
    pub mean: BTreeMap<String, f64>,
    pub std: BTreeMap<String, f64>,
    /// All out-of-fold predictions scored together.
    pub pooled: EvalReport,
    pub folds: Vec<EvalReport>,
    /// The entity figures under each decoding (`imr predict --decode`), on the same models:
    /// the report above uses the default decoding.
    pub decodings: BTreeMap<String, DecodingFigures>,
    /// Each pass of the `rules` decoding switched off alone (`--rules-off NAME`), on the same
    /// models: what the pass is worth, fold by fold.
    pub rules_off: BTreeMap<String, PassEffect>,
    /// On the same folds: `baseline` (dictionary tagger for entities, bag-of-words logistic
    /// regression trained on the fold's training letters for decisions); with
    /// `--mask-conclusion` also `model_masked_conclusion` and `baseline_masked_conclusion`
    /// (decisions with every rationale's verdict sentences blanked out).
    pub comparisons: BTreeMap<String, Comparison>,
    /// The out-of-fold prediction of every letter, in input order (for the HTML report).
    #[serde(skip)]
    pub pooled_predictions: Vec<LetterPrediction>,
}

/// The figures shown when the model is set beside its comparisons: (flattened key, label).
pub const KEY_FIGURES: [(&str, &str); 13] = [
    ("entities.strict.micro.f1", "entities strict micro-F1"),
    ("entities.lenient.micro.f1", "entities lenient micro-F1"),
    ("entities.strict.DRUG.f1", "DRUG strict F1"),
    ("entities.strict.DOSE.f1", "DOSE strict F1"),
    ("entities.strict.QUANTITY.f1", "QUANTITY strict F1"),
    (
        "entities.strict.GUIDELINE_PAGE.f1",
        "GUIDELINE_PAGE strict F1",
    ),
    ("entities.strict.DIAGNOSIS.f1", "DIAGNOSIS strict F1"),
    ("entities.lenient.DIAGNOSIS.f1", "DIAGNOSIS lenient F1"),
    ("decisions.accuracy", "decision accuracy"),
    ("decisions.macro_f1", "decision macro-F1"),
    ("decisions.Overturned.recall", "Overturned recall"),
    ("decisions.roc_auc", "decision ROC-AUC"),
    ("decisions.brier", "Brier score"),
];

/// Another predictor (or input) scored on the same folds as the model.
#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub mean: BTreeMap<String, f64>,
    pub std: BTreeMap<String, f64>,
    pub pooled: EvalReport,
    pub folds: Vec<EvalReport>,
}

/// Out-of-fold predictions gathered fold by fold.
#[derive(Default, Clone)]
struct Pool {
    predictions: Vec<(usize, LetterPrediction)>,
    folds: Vec<EvalReport>,
}

impl Pool {
    fn add(&mut self, test_idx: &[usize], test: &[LabelledLetter], preds: Vec<LetterPrediction>) {
        let scored: Vec<Scored> = test
            .iter()
            .zip(preds.iter().cloned())
            .map(|(letter, prediction)| Scored { letter, prediction })
            .collect();
        self.folds.push(report(&scored));
        self.predictions.extend(test_idx.iter().copied().zip(preds));
    }

    /// The comparison over all folds, and the out-of-fold predictions in letter order.
    fn finish(mut self, letters: &[LabelledLetter]) -> (Comparison, Vec<LetterPrediction>) {
        self.predictions.sort_by_key(|p| p.0);
        let scored: Vec<Scored> = self
            .predictions
            .into_iter()
            .map(|(i, prediction)| Scored {
                letter: &letters[i],
                prediction,
            })
            .collect();
        let (mean, std) = mean_std(&self.folds);
        let comparison = Comparison {
            mean,
            std,
            pooled: report(&scored),
            folds: self.folds,
        };
        (
            comparison,
            scored.into_iter().map(|s| s.prediction).collect(),
        )
    }
}

/// Mean and std over folds of every flattened figure.
fn mean_std(reports: &[EvalReport]) -> (BTreeMap<String, f64>, BTreeMap<String, f64>) {
    let flat: Vec<BTreeMap<String, f64>> = reports.iter().map(flatten).collect();
    let mut mean = BTreeMap::new();
    let mut std = BTreeMap::new();
    let keys: std::collections::BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).collect();
    for key in keys {
        let vals: Vec<f64> = flat.iter().filter_map(|m| m.get(key).copied()).collect();
        let m = MeanStd::of(&vals);
        mean.insert(key.clone(), m.mean);
        std.insert(key.clone(), m.std);
    }
    (mean, std)
}

/// Baseline predictions for letters: dictionary entities and bag-of-words P(Overturned).
fn baseline_predictions(
    letters: &[&crate::Letter],
    bow: &BowLogReg,
    lexicon: &Lexicon,
) -> Vec<LetterPrediction> {
    letters
        .iter()
        .map(|l| {
            LetterPrediction::new(
                dictionary_entities(l, lexicon)
                    .into_iter()
                    .map(|e| (e, 1.0))
                    .collect(),
                Vec::new(),
                l.items
                    .iter()
                    .map(|it| bow.probability(l.slice(it.rationale)) as f32)
                    .collect(),
            )
        })
        .collect()
}

#[derive(Debug, Clone, Serialize)]
pub struct DecodingFigures {
    /// Strict and lenient micro-F1 as `mean` and `std` over the folds.
    pub strict_micro_f1: MeanStd,
    pub lenient_micro_f1: MeanStd,
    /// Strict micro-F1 over the folds read and over the sealed folds alone.
    pub strict_read: MeanStd,
    pub strict_sealed: MeanStd,
    /// Strict micro-F1 of each fold, in fold order: two runs on the same folds are compared
    /// fold by fold, a difference against the spread of the paired differences.
    pub strict_by_fold: Vec<f64>,
    /// All out-of-fold predictions scored together.
    pub pooled: EntityReport,
}

/// What one pass of the `rules` decoding does, measured by switching it off alone.
#[derive(Debug, Clone, Serialize)]
pub struct PassEffect {
    /// Strict micro-F1 with the pass off, `mean` and `std` over the folds.
    pub strict_micro_f1: MeanStd,
    /// Its gain: strict micro-F1 of the default decoding minus that with the pass off, fold
    /// by fold, as `mean` and `std` over the folds (a gain smaller than its std is noise).
    pub gain: MeanStd,
    /// The gain over the folds read and over the sealed folds alone: a pass whose gain does
    /// not hold on the sealed folds goes.
    pub gain_read: MeanStd,
    pub gain_sealed: MeanStd,
    /// Per label, the pooled strict F1 of the default decoding minus that with the pass off.
    pub gain_by_label: BTreeMap<String, f64>,
}

impl DecodingFigures {
    /// The columns the reports show, in order: strict and lenient micro-F1, strict on the
    /// folds read and on the sealed folds.
    pub fn columns(&self) -> [MeanStd; 4] {
        [
            self.strict_micro_f1,
            self.lenient_micro_f1,
            self.strict_read,
            self.strict_sealed,
        ]
    }
}

impl PassEffect {
    /// The columns the reports show, in order: strict micro-F1 with the pass off, then its
    /// gain over all folds, the folds read and the sealed folds.
    pub fn columns(&self) -> [MeanStd; 4] {
        [
            self.strict_micro_f1,
            self.gain,
            self.gain_read,
            self.gain_sealed,
        ]
    }
}

impl CvReport {
    /// The out-of-fold predictions set beside their letters (`letters` as cross-validated).
    pub fn scored<'a>(&self, letters: &'a [LabelledLetter]) -> Vec<Scored<'a>> {
        letters
            .iter()
            .zip(self.pooled_predictions.iter().cloned())
            .map(|(letter, prediction)| Scored { letter, prediction })
            .collect()
    }
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct MeanStd {
    pub mean: f64,
    pub std: f64,
}

impl MeanStd {
    /// `mean ± std`, to 3 decimals, or signed to 4 for a gain.
    pub fn cell(&self, gain: bool) -> String {
        if gain {
            format!("{:+.4} ± {:.4}", self.mean, self.std)
        } else {
            format!("{:.3} ± {:.3}", self.mean, self.std)
        }
    }

    /// Mean and sample standard deviation.
    pub fn of(vals: &[f64]) -> MeanStd {
        let mean = vals.iter().sum::<f64>() / vals.len().max(1) as f64;
        let var =
            vals.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (vals.len().max(2) - 1) as f64;
        MeanStd {
            mean,
            std: var.sqrt(),
        }
    }
}

/// Mean and std of per-fold values over the folds read and over the sealed folds.
fn split_read(per_fold: &[f64], k: usize) -> (MeanStd, MeanStd) {
    let read = read_folds(k);
    let part = |sealed: bool| -> Vec<f64> {
        per_fold
            .iter()
            .enumerate()
            .filter(|(f, _)| read.contains(f) != sealed)
            .map(|(_, &v)| v)
            .collect()
    };
    (MeanStd::of(&part(false)), MeanStd::of(&part(true)))
}

/// The figures of a report by dotted name, for averaging.
pub fn flatten(r: &EvalReport) -> BTreeMap<String, f64> {
    let mut m = BTreeMap::new();
    for (mode, s) in [
        ("strict", &r.entities.strict),
        ("lenient", &r.entities.lenient),
    ] {
        for (k, v) in [
            ("precision", s.micro.precision),
            ("recall", s.micro.recall),
            ("f1", s.micro.f1),
        ] {
            m.insert(format!("entities.{mode}.micro.{k}"), v);
        }
        // A fold where a label has no gold and no prediction says nothing about it: leave it
        // out of that label's mean rather than count it as F1 = 0.
        for (label, p) in s.per_label.iter().filter(|(_, p)| p.is_defined()) {
            m.insert(format!("entities.{mode}.{label}.f1"), p.f1);
        }
    }
    let d = &r.decisions.model;
    m.insert("decisions.accuracy".into(), d.accuracy);
    m.insert("decisions.macro_f1".into(), d.macro_f1);
    if let Some(a) = d.roc_auc {
        m.insert("decisions.roc_auc".into(), a);
    }
    m.insert("decisions.brier".into(), d.brier);
    for (class, p) in d.per_class.iter().filter(|(_, p)| p.is_defined()) {
        m.insert(format!("decisions.{class}.precision"), p.precision);
        m.insert(format!("decisions.{class}.recall"), p.recall);
        m.insert(format!("decisions.{class}.f1"), p.f1);
    }
    let b = &r.decisions.majority_baseline;
    m.insert("baseline.majority.accuracy".into(), b.accuracy);
    m.insert("baseline.majority.macro_f1".into(), b.macro_f1);
    m
}

/// What a fold model depends on, as far as a run can tell: the training settings, the crate
/// version, feature width and model format, the lexicon's size, and every training and dev
/// letter's text and gold, hashed (FNV-1a, so that the value is the same on every build). A
/// change to the training code within one crate version is not seen: the folder is then to be
/// deleted.
fn fold_fingerprint(
    cfg: &TrainConfig,
    train_part: &[LabelledLetter],
    dev: &[LabelledLetter],
    lexicon: &Lexicon,
) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
    };
    eat(serde_json::to_string(cfg).expect("serializable").as_bytes());
    eat(env!("CARGO_PKG_VERSION").as_bytes());
    eat(&crate::encode::features::FEATURE_DIM.to_le_bytes());
    eat(&crate::model::FORMAT_VERSION.to_le_bytes());
    let (drugs, diagnoses) = lexicon.len();
    eat(&drugs.to_le_bytes());
    eat(&diagnoses.to_le_bytes());
    for (part, letters) in [(b"train", train_part), (b"dev\0\0", dev)] {
        eat(part);
        for l in letters {
            eat(l.letter.text.as_bytes());
            for e in &l.entities {
                for v in [e.start, e.end, e.label.index()] {
                    eat(&(v as u64).to_le_bytes());
                }
            }
        }
    }
    format!("{h:016x}")
}

/// Trains fold `f`'s model, or loads it from `cache/fold-F` when it was trained there on the
/// same fingerprint; a newly trained one is saved there.
fn fold_model(
    cfg: &TrainConfig,
    train_part: Vec<LabelledLetter>,
    f: usize,
    lexicon: &Lexicon,
    cache: Option<&Path>,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<Model> {
    let (tr, dev) = train::split_dev(
        train_part,
        cfg.dev_fraction,
        cfg.seed.wrapping_add(f as u64),
    );
    let fingerprint = fold_fingerprint(cfg, &tr, &dev, lexicon);
    let dir = cache.map(|c| c.join(format!("fold-{}", f + 1)));
    if let Some(dir) = &dir {
        let stamp = std::fs::read_to_string(dir.join(FINGERPRINT_FILE)).unwrap_or_default();
        if stamp.trim() == fingerprint {
            // The memory is not trained: it is rebuilt from the fold's letters, as `train`
            // builds it, so that a change to how it is built is measured on the kept networks.
            let letters: Vec<&LabelledLetter> = tr.iter().chain(&dev).collect();
            Memory::from_letters(&letters).save(&dir.join(crate::artifacts::MEMORY))?;
            return Model::load(dir);
        }
    }
    let trained = train::train(cfg, &tr, &dev, lexicon.clone(), &mut |p| progress(f, p))?;
    if let Some(dir) = &dir {
        trained.save(dir)?;
        let stamp = dir.join(FINGERPRINT_FILE);
        std::fs::write(&stamp, fingerprint + "\n").map_err(|e| Error::io(&stamp, e))?;
    }
    Ok(trained)
}

/// The file in a cached fold model's directory that says what it was trained on.
const FINGERPRINT_FILE: &str = crate::artifacts::FOLD_FINGERPRINT;

/// Runs K-fold cross-validation; `on_fold` hears of each fold as it finishes. With
/// `fold_models`, each fold's model is kept in that folder and reused by a later run on the
/// same letters and settings (to try decodings without retraining).
pub fn cross_validate(
    cfg: &TrainConfig,
    letters: &[LabelledLetter],
    k: usize,
    lexicon: &Lexicon,
    mask_conclusion: bool,
    fold_models: Option<&Path>,
    progress: &mut dyn FnMut(usize, Progress),
) -> Result<CvReport> {
    let fold_of = assign_folds(letters, k, cfg.seed);
    // Per decoding: the out-of-fold predictions by letter index, and each fold's report.
    let mut by_decoding: Vec<Pool> = vec![Pool::default(); Decoding::ALL.len()];
    let passes: Vec<&'static crate::decode::rules::Pass> = crate::decode::rules::PASSES
        .iter()
        .filter(|p| p.switchable)
        .collect();
    let mut by_pass_off: Vec<Pool> = vec![Pool::default(); passes.len()];
    let (mut baseline, mut model_masked, mut baseline_masked) =
        (Pool::default(), Pool::default(), Pool::default());
    for f in 0..k {
        let train_part: Vec<LabelledLetter> = letters
            .iter()
            .zip(&fold_of)
            .filter(|(_, &g)| g != f)
            .map(|(l, _)| l.clone())
            .collect();
        let test_idx: Vec<usize> = (0..letters.len()).filter(|&i| fold_of[i] == f).collect();
        let test: Vec<LabelledLetter> = test_idx.iter().map(|&i| letters[i].clone()).collect();
        let bow = BowLogReg::train(&rationale_examples(&train_part));
        let trained = fold_model(cfg, train_part, f, lexicon, fold_models, progress)?;
        let score = |inference: Inference, pool: &mut Pool| -> Result<()> {
            let (_, scored) = crate::eval::evaluate(&inference, &test)?;
            let predictions = scored.into_iter().map(|s| s.prediction).collect();
            pool.add(&test_idx, &test, predictions);
            Ok(())
        };
        for (d, pool) in Decoding::ALL.into_iter().zip(&mut by_decoding) {
            let inference = Inference {
                decoding: d,
                ..Inference::of(&trained)
            };
            score(inference, pool)?;
        }
        for (pass, pool) in passes.iter().zip(&mut by_pass_off) {
            let inference = Inference {
                decoding: Decoding::Rules,
                rules_off: RulesOff::one(pass),
                ..Inference::of(&trained)
            };
            score(inference, pool)?;
        }
        let plain: Vec<&crate::Letter> = test.iter().map(|l| &l.letter).collect();
        baseline.add(
            &test_idx,
            &test,
            baseline_predictions(&plain, &bow, lexicon),
        );
        if mask_conclusion {
            let masked: Vec<crate::Letter> = test
                .iter()
                .map(|l| mask_conclusions(&l.letter).map(|m| m.0))
                .collect::<Result<_>>()?;
            let refs: Vec<&crate::Letter> = masked.iter().collect();
            model_masked.add(&test_idx, &test, Inference::of(&trained).predict(&refs)?);
            baseline_masked.add(&test_idx, &test, baseline_predictions(&refs, &bow, lexicon));
        }
    }
    let mut comparisons = BTreeMap::new();
    comparisons.insert("baseline".to_string(), baseline.finish(letters).0);
    if mask_conclusion {
        comparisons.insert(
            "model_masked_conclusion".to_string(),
            model_masked.finish(letters).0,
        );
        comparisons.insert(
            "baseline_masked_conclusion".to_string(),
            baseline_masked.finish(letters).0,
        );
    }
    let mut decodings = BTreeMap::new();
    let mut model = None;
    for (d, pool) in Decoding::ALL.into_iter().zip(by_decoding) {
        let (c, predictions) = pool.finish(letters);
        let micro =
            |f: fn(&EvalReport) -> f64| MeanStd::of(&c.folds.iter().map(f).collect::<Vec<_>>());
        let strict: Vec<f64> = c.folds.iter().map(|r| r.entities.strict.micro.f1).collect();
        let (read, sealed) = split_read(&strict, k);
        decodings.insert(
            d.name().to_string(),
            DecodingFigures {
                strict_micro_f1: micro(|r| r.entities.strict.micro.f1),
                lenient_micro_f1: micro(|r| r.entities.lenient.micro.f1),
                strict_read: read,
                strict_sealed: sealed,
                strict_by_fold: strict,
                pooled: c.pooled.entities.clone(),
            },
        );
        if d == Decoding::default() {
            model = Some((c, predictions));
        }
    }
    let (model, pooled_predictions) = model.expect("the default decoding is among them");
    let strict = |r: &EvalReport| r.entities.strict.micro.f1;
    let mut rules_off = BTreeMap::new();
    for (pass, pool) in passes.iter().zip(by_pass_off) {
        let (c, _) = pool.finish(letters);
        let off: Vec<f64> = c.folds.iter().map(strict).collect();
        let gains: Vec<f64> = model
            .folds
            .iter()
            .zip(&off)
            .map(|(on, off)| strict(on) - off)
            .collect();
        let gain_by_label = model
            .pooled
            .entities
            .strict
            .per_label
            .iter()
            .map(|(label, on)| {
                let off = c
                    .pooled
                    .entities
                    .strict
                    .per_label
                    .get(label)
                    .map_or(0.0, |s| s.f1);
                (label.clone(), on.f1 - off)
            })
            .collect();
        rules_off.insert(
            pass.name.to_string(),
            PassEffect {
                strict_micro_f1: MeanStd::of(&off),
                gain: MeanStd::of(&gains),
                gain_read: split_read(&gains, k).0,
                gain_sealed: split_read(&gains, k).1,
                gain_by_label,
            },
        );
    }
    let read = read_folds(k);
    Ok(CvReport {
        k,
        seed: cfg.seed,
        letters: letters.len(),
        read_folds: read.clone().map(|f| f + 1).collect(),
        sealed_folds: (read.end..k).map(|f| f + 1).collect(),
        sealed_letters: fold_of.iter().map(|f| !read.contains(f)).collect(),
        mean: model.mean,
        std: model.std,
        pooled: model.pooled,
        folds: model.folds,
        decodings,
        rules_off,
        comparisons,
        pooled_predictions,
    })
}
