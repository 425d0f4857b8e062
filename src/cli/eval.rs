//! `imr eval`: a model on labelled letters -> an accuracy report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::train::{lexicons, load_letters, EncoderArgs};
use super::{load_model, DecodeArgs, Outcome};
use crate::cv::{cross_validate, CvReport};
use crate::eval::{self, EvalReport};
use crate::output::text;
use crate::predict::Inference;
use crate::train::{Progress, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalFormat {
    Text,
    Json,
    /// The summary as Markdown tables, to paste into an issue or a README.
    Markdown,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory (default: $IMR_MODEL, else models/default in the current directory,
    /// else the built-in default model); not used with --cv.
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled letters (`CASE.txt` with `CASE.ann`): directories or `.txt` files. A `.txt`
    /// without its `.ann` is an error.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// Leave out the `.txt` files that have no `.ann` beside them (saying how many) instead
    /// of refusing them.
    #[arg(long)]
    allow_unlabelled: bool,
    /// How the report is printed.
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    format: EvalFormat,
    /// With --cv every decoding is reported.
    #[command(flatten)]
    decoding: DecodeArgs,
    #[command(flatten)]
    threads: super::ThreadArgs,
    /// Also write the report as one self-contained HTML page (tables, charts, every error).
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Also score decisions with every rationale's concluding verdict sentences blanked out
    /// (those saying the request is or is not medically necessary, or opening with `Yes,` /
    /// `No,`): does the classifier read the reasoning, or only the verdict?
    #[arg(long)]
    mask_conclusion: bool,
    /// Cross-validate instead: train and evaluate K folds of --data (split by letter,
    /// stratified on having an Overturned item) with the default training settings.
    #[arg(long, value_name = "K")]
    cv: Option<usize>,
    /// Seed for the folds and the training (with --cv).
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Maximum epochs per fold (with --cv).
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Share of each fold's training letters held out as its dev letters, for early stopping
    /// and the decisions' calibration (with --cv; 0: none, every letter trains).
    #[arg(long, default_value_t = TrainConfig::default().dev_fraction, value_parser = super::train::share)]
    dev_fraction: f64,
    /// Keep each fold's trained model in DIR/fold-K and reuse it on a later run with the same
    /// letters and settings, so that decodings can be compared without retraining (with --cv).
    /// A fold is retrained when its letters, the settings, the lexicon size, the feature width,
    /// the model format or the crate version differ; after changing the training code, delete
    /// DIR. A kept fold's memory (not trained) is rebuilt from its letters.
    #[arg(long, value_name = "DIR")]
    fold_models: Option<PathBuf>,
    /// Build the folds' lexicons from this folder's `drug-lexicon/` and `icd10cm/` (with
    /// --cv). Default: the lexicon of the built-in default model.
    #[arg(long, value_name = "DIR")]
    lexicons: Option<PathBuf>,
    /// The encoder of the folds' models (with --cv).
    #[command(flatten)]
    encoder: EncoderArgs,
}

pub(crate) fn run(args: EvalArgs) -> anyhow::Result<Outcome> {
    args.threads.apply();
    if let Some(k) = args.cv {
        return run_cv(&args, k);
    }
    let model = load_model(args.model.as_deref())?;
    let letters = load_letters(&args.data, args.allow_unlabelled, "labelled")?;
    anyhow::ensure!(
        !letters.is_empty(),
        "no labelled letters under {:?}",
        args.data
    );
    let inference = args.decoding.apply(Inference::of(&model));
    let (mut report, scored) = eval::evaluate(&inference, &letters)?;
    if args.mask_conclusion {
        let masked: Vec<crate::annotation::corpus::LabelledLetter> = letters
            .iter()
            .map(|l| {
                Ok(crate::annotation::corpus::LabelledLetter {
                    letter: crate::eval::baselines::mask_conclusions(&l.letter)?.0,
                    entities: l.entities.clone(),
                })
            })
            .collect::<crate::Result<_>>()?;
        let (m, _) = eval::evaluate(&inference, &masked)?;
        report.masked_conclusion = Some(m.decisions.model);
    }
    if let Some(path) = &args.report {
        let title = format!(
            "imr accuracy report: {}",
            model.path.as_ref().map_or_else(
                || "(built-in default model)".into(),
                |p| p.display().to_string()
            )
        );
        write_report(path, &title, &report, None, &scored)?;
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        EvalFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        EvalFormat::Text => write!(out, "{}", text::report(&report))?,
        EvalFormat::Markdown => write!(out, "{}", text::markdown(&report))?,
    }
    Ok(Outcome::AllGood)
}

fn run_cv(args: &EvalArgs, k: usize) -> anyhow::Result<Outcome> {
    anyhow::ensure!(k >= 2, "--cv needs at least 2 folds");
    let letters = load_letters(&args.data, args.allow_unlabelled, "labelled")?;
    anyhow::ensure!(
        letters.len() >= k,
        "{} letters cannot make {k} folds",
        letters.len()
    );
    let lexicon = lexicons(args.lexicons.as_deref())?;
    let cfg = args.encoder.apply(TrainConfig {
        seed: args.seed,
        epochs: args.epochs,
        dev_fraction: args.dev_fraction,
        ..TrainConfig::default()
    });
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {elapsed_precise}")
            .expect("static template")
            .progress_chars("=> "),
    );
    let started = std::time::Instant::now();
    let report = cross_validate(
        &cfg,
        &letters,
        k,
        &lexicon,
        args.mask_conclusion,
        args.fold_models.as_deref(),
        &mut |fold, p| match p {
            Progress::Start {
                steps_per_epoch, ..
            } => {
                bar.set_length(steps_per_epoch as u64);
                bar.set_position(0);
                bar.set_prefix(format!("fold {}/{k} epoch 1", fold + 1));
            }
            Progress::Step => bar.inc(1),
            Progress::Epoch(e) => {
                bar.set_position(0);
                bar.set_prefix(format!("fold {}/{k} epoch {}", fold + 1, e.epoch + 1));
            }
        },
    )?;
    bar.finish_and_clear();
    if let Some(path) = &args.report {
        let scored = report.scored(&letters);
        let title = format!("imr accuracy report: {k}-fold cross-validation");
        write_report(path, &title, &report.pooled, Some(&report), &scored)?;
    }
    eprintln!(
        "imr eval: {k}-fold cross-validation took {:.0}s",
        started.elapsed().as_secs_f64()
    );
    let mut out = std::io::stdout().lock();
    match args.format {
        EvalFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        EvalFormat::Text => write!(out, "{}", text::cv(&report))?,
        EvalFormat::Markdown => write!(out, "{}", text::cv_markdown(&report))?,
    }
    Ok(Outcome::AllGood)
}

fn write_report(
    path: &std::path::Path,
    title: &str,
    report: &EvalReport,
    cv: Option<&CvReport>,
    scored: &[eval::Scored],
) -> anyhow::Result<()> {
    let page = crate::output::report::html(title, report, cv, scored)
        .map_err(anyhow::Error::from_boxed)
        .context("drawing the report")?;
    std::fs::write(path, page).with_context(|| format!("{}: cannot write", path.display()))?;
    eprintln!("imr eval: report written to {}", path.display());
    Ok(())
}
