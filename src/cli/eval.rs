//! `imr eval`: a model on labelled letters -> an accuracy report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::{resolve_model, Outcome};
use crate::artifacts::ModelDir;
use crate::eval::{self, EvalReport};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum EvalFormat {
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Model directory (default: models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    /// Labelled letters (`CASE.txt` with `CASE.ann`): directories or `.txt` files.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = EvalFormat::Text)]
    format: EvalFormat,
}

pub(crate) fn run(args: EvalArgs) -> anyhow::Result<Outcome> {
    let model_path = resolve_model(args.model.as_deref())?;
    let model = ModelDir::load(&model_path)?;
    let letters = crate::corpus::load(&args.data).context("reading labelled letters")?;
    anyhow::ensure!(
        !letters.is_empty(),
        "no labelled letters under {:?}",
        args.data
    );
    let (report, _) = eval::evaluate(&model.inference(), &letters)?;
    let mut out = std::io::stdout().lock();
    match args.format {
        EvalFormat::Json => writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?,
        EvalFormat::Text => write!(out, "{}", text_report(&report))?,
    }
    Ok(Outcome::AllGood)
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
    for (label, st) in &r.entities.strict.per_label {
        let le = &r.entities.lenient.per_label[label];
        let _ = writeln!(
            s,
            "  {label:<16}  {:.3} {:.3} {:.3}      {:.3} {:.3} {:.3}  {:>6}",
            st.precision, st.recall, st.f1, le.precision, le.recall, le.f1, st.support
        );
    }
    let (st, le) = (&r.entities.strict.micro, &r.entities.lenient.micro);
    let _ = writeln!(
        s,
        "  {:<16}  {:.3} {:.3} {:.3}      {:.3} {:.3} {:.3}  {:>6}",
        "micro", st.precision, st.recall, st.f1, le.precision, le.recall, le.f1, st.support
    );
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
    s
}
