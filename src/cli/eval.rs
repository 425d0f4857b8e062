//! `imr eval`: a model on labelled letters -> an accuracy report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::train::{lexicons, load_letters, EncoderArgs};
use super::{load_model, DecodeArgs, Outcome};
use crate::cv::{cross_validate, CvReport};
use crate::eval::{self, EvalReport};
use crate::predict::Inference;
use crate::train::{Progress, TrainConfig};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::BTreeMap;

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
        let title = format!("imr accuracy report: {}", model.path.display());
        write_report(path, &title, &report, None, &scored)?;
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        EvalFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        EvalFormat::Text => write!(out, "{}", text_report(&report))?,
        EvalFormat::Markdown => write!(out, "{}", markdown_report(&report))?,
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
        let scored: Vec<eval::Scored> = letters
            .iter()
            .zip(report.pooled_predictions.iter().cloned())
            .map(|(letter, prediction)| eval::Scored { letter, prediction })
            .collect();
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
        EvalFormat::Text => write!(out, "{}", cv_text(&report))?,
        EvalFormat::Markdown => write!(out, "{}", cv_markdown(&report))?,
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
        .map_err(|e| anyhow::anyhow!("drawing the report: {e}"))?;
    std::fs::write(path, page).with_context(|| format!("{}: cannot write", path.display()))?;
    eprintln!("imr eval: report written to {}", path.display());
    Ok(())
}

/// Mean ± std over folds, then the pooled report.
pub fn cv_text(r: &CvReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}-fold cross-validation over {} letters (seed {})\n",
        r.k, r.letters, r.seed
    );
    let _ = writeln!(s, "{:<44} {:>7} {:>7}", "figure", "mean", "std");
    for (key, mean) in &r.mean {
        let _ = writeln!(s, "{key:<44} {mean:>7.3} {:>7.3}", r.std[key]);
    }
    let _ = writeln!(
        s,
        "\nentity decoding (imr predict --decode), same models:\n{:<14} {:>18} {:>18}",
        "decoding", "strict micro-F1", "lenient micro-F1"
    );
    for (name, d) in &r.decodings {
        let _ = writeln!(
            s,
            "{name:<14} {:>10.3} ± {:.3} {:>10.3} ± {:.3}",
            d.strict_micro_f1.mean,
            d.strict_micro_f1.std,
            d.lenient_micro_f1.mean,
            d.lenient_micro_f1.std
        );
    }
    let (columns, rows) = comparison_rows(r);
    let _ = write!(s, "\non the same folds (mean ± std):\n{:<28}", "");
    for c in &columns {
        let _ = write!(s, " {c:>28}");
    }
    let _ = writeln!(s);
    for (label, cells) in rows {
        let _ = write!(s, "{label:<28}");
        for c in cells {
            let _ = write!(s, " {c:>28}");
        }
        let _ = writeln!(s);
    }
    let _ = writeln!(
        s,
        "\npooled out-of-fold predictions:\n{}",
        text_report(&r.pooled)
    );
    s
}

/// The report as an aligned plain-text table.
pub fn text_report(r: &EvalReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "letters {}, items expected {} found {}",
        r.letters, r.items.expected, r.items.found
    );
    let _ = writeln!(
        s,
        "\nentities            strict P   R     F1     lenient P   R     F1   support"
    );
    for (label, st, le) in r.entities.rows() {
        let _ = writeln!(
            s,
            "  {label:<16}  {:.3} {:.3} {:.3}      {:.3} {:.3} {:.3}  {:>6}",
            st.precision, st.recall, st.f1, le.precision, le.recall, le.f1, st.support
        );
    }
    let d = &r.decisions.model;
    let b = &r.decisions.majority_baseline;
    let auc = d.roc_auc.map_or("n/a".to_string(), |a| format!("{a:.3}"));
    let _ = writeln!(
        s,
        "\ndecisions ({} items)      model   majority baseline",
        d.n
    );
    let _ = writeln!(
        s,
        "  accuracy                {:.3}   {:.3}",
        d.accuracy, b.accuracy
    );
    let _ = writeln!(
        s,
        "  macro-F1                {:.3}   {:.3}",
        d.macro_f1, b.macro_f1
    );
    for c in ["Upheld", "Overturned"] {
        let (m, x) = (&d.per_class[c], &b.per_class[c]);
        let _ = writeln!(
            s,
            "  {c:<11} P/R/F1   {:.3}/{:.3}/{:.3}   {:.3}/{:.3}/{:.3}",
            m.precision, m.recall, m.f1, x.precision, x.recall, x.f1
        );
    }
    let _ = writeln!(
        s,
        "  ROC-AUC                 {auc}\n  Brier                   {:.4}",
        d.brier
    );
    let _ = writeln!(s, "  confusion (stated -> predicted): Upheld->Upheld {}, Upheld->Overturned {}, Overturned->Upheld {}, Overturned->Overturned {}",
        d.confusion["Upheld"]["Upheld"], d.confusion["Upheld"]["Overturned"],
        d.confusion["Overturned"]["Upheld"], d.confusion["Overturned"]["Overturned"]);
    if let Some(m) = &r.masked_conclusion {
        let _ = writeln!(
            s,
            "  verdict sentences masked: accuracy {:.3}, macro-F1 {:.3}, Overturned recall {:.3}, ROC-AUC {}",
            m.accuracy,
            m.macro_f1,
            m.per_class["Overturned"].recall,
            m.roc_auc.map_or("n/a".to_string(), |a| format!("{a:.3}"))
        );
    }
    s
}

/// Key figures of the model beside the comparisons run on the same folds.
fn comparison_rows(r: &CvReport) -> (Vec<String>, Vec<(String, Vec<String>)>) {
    let keys = crate::cv::KEY_FIGURES;
    let mut columns = vec!["model".to_string()];
    type Figures<'a> = (&'a BTreeMap<String, f64>, &'a BTreeMap<String, f64>);
    let mut sources: Vec<Figures> = vec![(&r.mean, &r.std)];
    for (name, c) in &r.comparisons {
        columns.push(name.replace('_', " "));
        sources.push((&c.mean, &c.std));
    }
    let masked = |name: &str| name.contains("masked");
    let rows = keys
        .iter()
        .map(|(key, label)| {
            let cells = std::iter::once("model")
                .chain(r.comparisons.keys().map(String::as_str))
                .zip(&sources)
                .map(|(name, (mean, std))| {
                    // Masking changes only decisions: entity cells stay empty there.
                    if masked(name) && key.starts_with("entities") {
                        return String::new();
                    }
                    mean.get(*key).map_or(String::new(), |m| {
                        format!("{m:.3} ± {:.3}", std.get(*key).copied().unwrap_or(0.0))
                    })
                })
                .collect();
            (label.to_string(), cells)
        })
        .collect();
    (columns, rows)
}

/// The report as Markdown: entity and decision tables.
pub fn markdown_report(r: &EvalReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} letters; {} disputed items found of {} expected.\n",
        r.letters, r.items.found, r.items.expected
    );
    let _ = writeln!(
        s,
        "| entity | strict P | strict R | strict F1 | lenient P | lenient R | lenient F1 | support |"
    );
    let _ = writeln!(s, "|---|---:|---:|---:|---:|---:|---:|---:|");
    for (label, st, le) in r.entities.rows() {
        let label = if label == "micro" { "**micro**" } else { label };
        let _ = writeln!(
            s,
            "| {label} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} | {} |",
            st.precision, st.recall, st.f1, le.precision, le.recall, le.f1, st.support
        );
    }
    let d = &r.decisions.model;
    let b = &r.decisions.majority_baseline;
    let auc = |a: Option<f64>| a.map_or("n/a".to_string(), |a| format!("{a:.3}"));
    let _ = writeln!(
        s,
        "\n| decisions ({} items) | model | majority baseline |\n|---|---:|---:|",
        d.n
    );
    let _ = writeln!(s, "| accuracy | {:.3} | {:.3} |", d.accuracy, b.accuracy);
    let _ = writeln!(s, "| macro-F1 | {:.3} | {:.3} |", d.macro_f1, b.macro_f1);
    for c in ["Upheld", "Overturned"] {
        let (m, x) = (&d.per_class[c], &b.per_class[c]);
        let _ = writeln!(
            s,
            "| {c} P / R / F1 | {:.3} / {:.3} / {:.3} | {:.3} / {:.3} / {:.3} |",
            m.precision, m.recall, m.f1, x.precision, x.recall, x.f1
        );
    }
    let _ = writeln!(s, "| ROC-AUC | {} | {} |", auc(d.roc_auc), auc(b.roc_auc));
    let _ = writeln!(s, "| Brier | {:.4} | {:.4} |", d.brier, b.brier);
    let _ = writeln!(
        s,
        "\n| stated \\ predicted | Upheld | Overturned |\n|---|---:|---:|"
    );
    for c in ["Upheld", "Overturned"] {
        let _ = writeln!(
            s,
            "| {c} | {} | {} |",
            d.confusion[c]["Upheld"], d.confusion[c]["Overturned"]
        );
    }
    if let Some(m) = &r.masked_conclusion {
        let _ = writeln!(
            s,
            "\n| verdict sentences masked | model |\n|---|---:|\n| accuracy | {:.3} |\n| macro-F1 | {:.3} |\n| Overturned recall | {:.3} |\n| ROC-AUC | {} |",
            m.accuracy,
            m.macro_f1,
            m.per_class["Overturned"].recall,
            auc(m.roc_auc)
        );
    }
    s
}

/// Cross-validation as Markdown: mean ± std per figure, the decodings, then the pooled report.
pub fn cv_markdown(r: &CvReport) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{}-fold cross-validation over {} letters (seed {}).\n\n| figure | mean | std |\n|---|---:|---:|",
        r.k, r.letters, r.seed
    );
    for (key, mean) in &r.mean {
        let _ = writeln!(s, "| {key} | {mean:.3} | {:.3} |", r.std[key]);
    }
    let _ = writeln!(
        s,
        "\n| entity decoding | strict micro-F1 | lenient micro-F1 |\n|---|---:|---:|"
    );
    for (name, d) in &r.decodings {
        let _ = writeln!(
            s,
            "| {name} | {:.3} ± {:.3} | {:.3} ± {:.3} |",
            d.strict_micro_f1.mean,
            d.strict_micro_f1.std,
            d.lenient_micro_f1.mean,
            d.lenient_micro_f1.std
        );
    }
    let (columns, rows) = comparison_rows(r);
    let _ = writeln!(
        s,
        "\n| on the same folds (mean ± std) | {} |\n|---|{}",
        columns.join(" | "),
        "---:|".repeat(columns.len())
    );
    for (label, cells) in rows {
        let _ = writeln!(s, "| {label} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\nPooled out-of-fold predictions:\n\n{}",
        markdown_report(&r.pooled)
    );
    s
}
