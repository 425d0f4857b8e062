//! The accuracy report as an aligned plain-text table and as Markdown tables (`imr eval
//! --format text|markdown`), for one evaluation and for a cross-validation.

use std::collections::BTreeMap;

use crate::cv::CvReport;
use crate::eval::EvalReport;

/// Fold numbers as `1, 2`.
fn folds(f: &[usize]) -> String {
    f.iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A rule's row: its strict micro-F1 with the pass off, then its gains, each `cell` as the
/// format lays it out (`true` for a gain).
fn pass_cells(p: &crate::cv::PassEffect, cell: impl Fn(String, bool) -> String) -> String {
    p.columns()
        .iter()
        .enumerate()
        .map(|(i, m)| cell(m.cell(i > 0), i > 0))
        .collect()
}

/// Mean ± std over folds, then the pooled report.
pub fn cv(r: &CvReport) -> String {
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
        "\nerrors are read on folds {} only; sealed: folds {} (README, \"How a rule earns its place\")",
        folds(&r.read_folds),
        folds(&r.sealed_folds)
    );
    let _ = writeln!(
        s,
        "\nentity decoding (imr predict --decode), same models:\n{:<14} {:>18} {:>18} {:>18} {:>18}",
        "decoding", "strict micro-F1", "lenient micro-F1", "strict, read", "strict, sealed"
    );
    for (name, d) in &r.decodings {
        let cells: String = d
            .columns()
            .iter()
            .map(|m| format!(" {:>18}", m.cell(false)))
            .collect();
        let _ = writeln!(s, "{name:<14}{cells}");
    }
    let _ = writeln!(
        s,
        "\neach rule switched off alone (--rules-off NAME), same models:\n{:<16} {:>18} {:>18} {:>18} {:>18}",
        "rule", "strict micro-F1", "its gain", "gain, read", "gain, sealed"
    );
    for (name, p) in &r.rules_off {
        let _ = writeln!(
            s,
            "{name:<16}{}",
            pass_cells(p, |c, gain| {
                format!(" {c:>w$}", w = if gain { 19 } else { 18 })
            })
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
        report(&r.pooled)
    );
    s
}

/// The report as an aligned plain-text table.
pub fn report(r: &EvalReport) -> String {
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
pub fn markdown(r: &EvalReport) -> String {
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
        "\nErrors are read on folds {} only; sealed: folds {}.\n\n\
         | entity decoding | strict micro-F1 | lenient micro-F1 | strict, folds read | strict, sealed folds |\n|---|---:|---:|---:|---:|",
        folds(&r.read_folds),
        folds(&r.sealed_folds)
    );
    for (name, d) in &r.decodings {
        let cells: Vec<String> = d.columns().iter().map(|m| m.cell(false)).collect();
        let _ = writeln!(s, "| {name} | {} |", cells.join(" | "));
    }
    let _ = writeln!(
        s,
        "\n| rule switched off alone | strict micro-F1 | its gain (fold mean ± std) | gain, folds read | gain, sealed folds |\n|---|---:|---:|---:|---:|"
    );
    for (name, p) in &r.rules_off {
        let _ = writeln!(s, "| {name} |{}", pass_cells(p, |c, _| format!(" {c} |")));
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
        markdown(&r.pooled)
    );
    s
}
