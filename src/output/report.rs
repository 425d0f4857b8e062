//! The accuracy report as one self-contained HTML page: the summary tables, charts drawn with
//! plotters as inline SVG (entity F1 per label, confusion matrix, ROC, precision-recall for
//! Overturned, reliability), then every error: each wrong decision and each entity false
//! positive / false negative in its context, filterable by label. No network, no external asset.

use crate::error::BoxError;
use std::fmt::Write as _;

use plotters::prelude::*;

use crate::annotation::EntitySpan;
use crate::cv::CvReport;
use crate::eval::{EvalReport, Scored};
use crate::Decision;

/// Escapes text for HTML.
pub(crate) fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// (stated, P(Overturned)) of every item with a stated decision.
fn decision_pairs(scored: &[Scored]) -> Vec<(bool, f64)> {
    scored
        .iter()
        .flat_map(|s| {
            s.letter
                .letter
                .items
                .iter()
                .zip(&s.prediction.p_overturned)
                .filter_map(|(item, &p)| {
                    item.stated_decision
                        .map(|d| (d == Decision::Overturned, f64::from(p)))
                })
        })
        .collect()
}

/// Points of the ROC curve (false positive rate, true positive rate), thresholds high to low.
pub fn roc_points(pairs: &[(bool, f64)]) -> Vec<(f64, f64)> {
    let pos = pairs.iter().filter(|p| p.0).count().max(1) as f64;
    let neg = pairs.iter().filter(|p| !p.0).count().max(1) as f64;
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut pts = vec![(0.0, 0.0)];
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        // Tied scores move together: one diagonal step.
        let t = sorted[i].1;
        while i < sorted.len() && sorted[i].1 == t {
            if sorted[i].0 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            i += 1;
        }
        pts.push((fp / neg, tp / pos));
    }
    pts
}

/// Points of the precision-recall curve for the positive class: (recall, precision).
pub fn pr_points(pairs: &[(bool, f64)]) -> Vec<(f64, f64)> {
    let pos = pairs.iter().filter(|p| p.0).count().max(1) as f64;
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| b.1.total_cmp(&a.1));
    let mut pts = Vec::new();
    let (mut tp, mut n) = (0.0, 0.0);
    let mut i = 0;
    while i < sorted.len() {
        let t = sorted[i].1;
        while i < sorted.len() && sorted[i].1 == t {
            tp += f64::from(u8::from(sorted[i].0));
            n += 1.0;
            i += 1;
        }
        pts.push((tp / pos, tp / n));
    }
    pts
}

/// Reliability bins: (mean predicted probability, observed frequency, count) of ten equal-width
/// bins, empty bins left out.
pub fn reliability_bins(pairs: &[(bool, f64)]) -> Vec<(f64, f64, usize)> {
    let mut bins = [(0.0, 0.0, 0usize); 10];
    for &(y, p) in pairs {
        let b = ((p * 10.0) as usize).min(9);
        bins[b].0 += p;
        bins[b].1 += f64::from(u8::from(y));
        bins[b].2 += 1;
    }
    bins.iter()
        .filter(|b| b.2 > 0)
        .map(|&(s, y, n)| (s / n as f64, y / n as f64, n))
        .collect()
}

type Chart<'a> = ChartContext<
    'a,
    SVGBackend<'a>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

/// A unit-square line chart (ROC, PR, reliability) as an SVG string.
fn unit_chart(
    title: &str,
    x_desc: &str,
    y_desc: &str,
    draw: impl FnOnce(&mut Chart) -> Result<(), BoxError>,
) -> Result<String, BoxError> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (420, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(12)
            .x_label_area_size(36)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..1f64, 0f64..1.02f64)
            .map_err(boxed)?;
        chart
            .configure_mesh()
            .x_desc(x_desc)
            .y_desc(y_desc)
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(boxed)?;
        draw(&mut chart)?;
        root.present().map_err(boxed)?;
    }
    Ok(svg)
}

fn entity_f1_chart(r: &EvalReport) -> Result<String, BoxError> {
    let labels: Vec<&String> = r.entities.strict.per_label.keys().collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (640, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let n = labels.len() as f64;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Entity F1 per label (blue strict, orange lenient)",
                ("sans-serif", 16),
            )
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(44)
            .build_cartesian_2d(0f64..n, 0f64..1.02f64)
            .map_err(boxed)?;
        let names: Vec<String> = labels.iter().map(|l| l.to_string()).collect();
        chart
            .configure_mesh()
            .disable_x_mesh()
            .x_labels(labels.len() * 2 + 1)
            .x_label_formatter(&|x| {
                let i = x.floor() as usize;
                if (x - i as f64 - 0.5).abs() < 1e-6 && i < names.len() {
                    names[i].clone()
                } else {
                    String::new()
                }
            })
            .y_desc("F1")
            .draw()
            .map_err(boxed)?;
        let strict = RGBColor(31, 119, 180);
        let lenient = RGBColor(255, 127, 14);
        for (i, l) in labels.iter().enumerate() {
            let x = i as f64;
            let s = r.entities.strict.per_label[*l].f1;
            let le = r.entities.lenient.per_label[*l].f1;
            chart
                .draw_series([
                    Rectangle::new([(x + 0.12, 0.0), (x + 0.48, s)], strict.filled()),
                    Rectangle::new([(x + 0.52, 0.0), (x + 0.88, le)], lenient.filled()),
                ])
                .map_err(boxed)?;
        }
        root.present().map_err(boxed)?;
    }
    Ok(svg)
}

fn confusion_chart(r: &EvalReport) -> Result<String, BoxError> {
    let c = &r.decisions.model.confusion;
    let classes = ["Upheld", "Overturned"];
    let max = classes
        .iter()
        .flat_map(|a| classes.iter().map(move |b| c[*a][*b]))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (420, 360)).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let root = root
            .titled(
                "Decisions: stated (rows) vs predicted (columns)",
                ("sans-serif", 16),
            )
            .map_err(boxed)?;
        let (x0, y0, cell) = (120i32, 40i32, 120i32);
        for (i, stated) in classes.iter().enumerate() {
            root.draw(&Text::new(
                stated.to_string(),
                (10, y0 + cell * i as i32 + cell / 2),
                ("sans-serif", 14),
            ))
            .map_err(boxed)?;
            for (j, predicted) in classes.iter().enumerate() {
                let n = c[*stated][*predicted];
                // Log scale: the diagonal holds hundreds, the errors a handful.
                let t = ((n as f64 + 1.0).ln() / (max + 1.0).ln()).clamp(0.0, 1.0);
                let shade = (245.0 - 170.0 * t) as u8;
                let color = if i == j {
                    RGBColor(shade, 230, shade)
                } else {
                    RGBColor(250, shade, shade)
                };
                let (x, y) = (x0 + cell * j as i32, y0 + cell * i as i32);
                root.draw(&Rectangle::new(
                    [(x, y), (x + cell - 4, y + cell - 4)],
                    color.filled(),
                ))
                .map_err(boxed)?;
                root.draw(&Text::new(
                    n.to_string(),
                    (x + cell / 2 - 12, y + cell / 2 - 8),
                    ("sans-serif", 22),
                ))
                .map_err(boxed)?;
            }
        }
        for (j, predicted) in classes.iter().enumerate() {
            root.draw(&Text::new(
                predicted.to_string(),
                (x0 + cell * j as i32 + 20, y0 + 2 * cell + 6),
                ("sans-serif", 14),
            ))
            .map_err(boxed)?;
        }
        root.present().map_err(boxed)?;
    }
    Ok(svg)
}

fn curve_charts(scored: &[Scored], brier: f64) -> Result<[String; 3], BoxError> {
    let pairs = decision_pairs(scored);
    let blue = RGBColor(31, 119, 180);
    let grey = RGBColor(160, 160, 160);
    let roc = unit_chart(
        "ROC (positive: Overturned)",
        "false positive rate",
        "true positive rate",
        |c| {
            c.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], grey))
                .map_err(boxed)?;
            c.draw_series(LineSeries::new(roc_points(&pairs), blue.stroke_width(2)))
                .map_err(boxed)?;
            Ok(())
        },
    )?;
    let pr = unit_chart(
        "Precision-recall for Overturned",
        "recall",
        "precision",
        |c| {
            c.draw_series(LineSeries::new(pr_points(&pairs), blue.stroke_width(2)))
                .map_err(boxed)?;
            Ok(())
        },
    )?;
    let bins = reliability_bins(&pairs);
    let reliability = unit_chart(
        &format!("Reliability (Brier {brier:.4})"),
        "mean predicted P(Overturned)",
        "observed share Overturned",
        |c| {
            c.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], grey))
                .map_err(boxed)?;
            c.draw_series(LineSeries::new(
                bins.iter().map(|b| (b.0, b.1)),
                blue.stroke_width(2),
            ))
            .map_err(boxed)?;
            c.draw_series(
                bins.iter()
                    .map(|b| Circle::new((b.0, b.1), 3 + (b.2 as f64).ln() as i32, blue.filled())),
            )
            .map_err(boxed)?;
            Ok(())
        },
    )?;
    Ok([roc, pr, reliability])
}

fn figure_table(r: &EvalReport, out: &mut String) {
    let _ = writeln!(
        out,
        "<table><tr><th>entity</th><th>strict P</th><th>strict R</th><th>strict F1</th>\
         <th>lenient P</th><th>lenient R</th><th>lenient F1</th><th>support</th></tr>"
    );
    for (label, st, le) in r.entities.rows() {
        let _ = writeln!(
            out,
            "<tr><td>{label}</td><td>{:.3}</td><td>{:.3}</td><td><b>{:.3}</b></td><td>{:.3}</td>\
             <td>{:.3}</td><td>{:.3}</td><td>{}</td></tr>",
            st.precision, st.recall, st.f1, le.precision, le.recall, le.f1, st.support
        );
    }
    let _ = writeln!(out, "</table>");
    let d = &r.decisions.model;
    let b = &r.decisions.majority_baseline;
    let auc = |a: Option<f64>| a.map_or("n/a".to_string(), |a| format!("{a:.3}"));
    let _ = writeln!(
        out,
        "<table><tr><th>decisions ({} items)</th><th>model</th><th>majority baseline</th></tr>\
         <tr><td>accuracy</td><td>{:.3}</td><td>{:.3}</td></tr>\
         <tr><td>macro-F1</td><td><b>{:.3}</b></td><td>{:.3}</td></tr>",
        d.n, d.accuracy, b.accuracy, d.macro_f1, b.macro_f1
    );
    for c in ["Upheld", "Overturned"] {
        let (m, x) = (&d.per_class[c], &b.per_class[c]);
        let _ = writeln!(
            out,
            "<tr><td>{c} P / R / F1</td><td>{:.3} / {:.3} / {:.3}</td><td>{:.3} / {:.3} / {:.3}</td></tr>",
            m.precision, m.recall, m.f1, x.precision, x.recall, x.f1
        );
    }
    let _ = writeln!(
        out,
        "<tr><td>ROC-AUC</td><td>{}</td><td>{}</td></tr><tr><td>Brier</td><td>{:.4}</td><td>{:.4}</td></tr>",
        auc(d.roc_auc),
        auc(b.roc_auc),
        d.brier,
        b.brier
    );
    if let Some(m) = &r.masked_conclusion {
        let _ = writeln!(
            out,
            "<tr><td>verdict sentences masked: macro-F1 / Overturned recall / ROC-AUC</td>\
             <td>{:.3} / {:.3} / {}</td><td></td></tr>",
            m.macro_f1,
            m.per_class["Overturned"].recall,
            auc(m.roc_auc)
        );
    }
    let _ = writeln!(out, "</table>");
}

fn cv_tables(cv: &CvReport, out: &mut String) {
    let _ = writeln!(
        out,
        "<h2 id=\"cv\">Cross-validation</h2><p>{} folds over {} letters (seed {}): each figure as \
         mean ± std over the folds; the tables above score all out-of-fold predictions pooled.</p>",
        cv.k, cv.letters, cv.seed
    );
    let keys = crate::cv::KEY_FIGURES;
    let _ = write!(
        out,
        "<table id=\"baselines\"><tr><th>figure</th><th>model</th>"
    );
    for name in cv.comparisons.keys() {
        let _ = write!(out, "<th>{}</th>", esc(&name.replace('_', " ")));
    }
    let _ = writeln!(out, "</tr>");
    for (key, label) in keys {
        let cell = |mean: &std::collections::BTreeMap<String, f64>,
                    std: &std::collections::BTreeMap<String, f64>| {
            mean.get(key).map_or(String::new(), |m| {
                format!("{m:.3} ± {:.3}", std.get(key).copied().unwrap_or(0.0))
            })
        };
        let _ = write!(
            out,
            "<tr><td>{label}</td><td><b>{}</b></td>",
            cell(&cv.mean, &cv.std)
        );
        for (name, c) in &cv.comparisons {
            let v = if name.contains("masked") && key.starts_with("entities") {
                String::new()
            } else {
                cell(&c.mean, &c.std)
            };
            let _ = write!(out, "<td>{v}</td>");
        }
        let _ = writeln!(out, "</tr>");
    }
    let _ = writeln!(
        out,
        "</table><p>baseline: a dictionary tagger (the lexicons and patterns the model sees as \
         features) for entities and a bag-of-words logistic regression on the rationale for \
         decisions; masked conclusion: decisions with the rationale's verdict sentences blanked.</p>"
    );
    let _ = writeln!(
        out,
        "<table><tr><th>entity decoding</th><th>strict micro-F1</th><th>lenient micro-F1</th>\
         <th>strict, folds read</th><th>strict, sealed folds</th></tr>"
    );
    for (name, d) in &cv.decodings {
        let cells: String = d
            .columns()
            .iter()
            .map(|m| format!("<td>{}</td>", m.cell(false)))
            .collect();
        let _ = writeln!(out, "<tr><td>{name}</td>{cells}</tr>");
    }
    let _ = writeln!(out, "</table>");
    let _ = writeln!(
        out,
        "<table><tr><th>fold</th><th>letters</th><th>items</th><th>strict micro-F1</th>\
         <th>decision macro-F1</th><th>Overturned recall</th></tr>"
    );
    for (i, f) in cv.folds.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.3}</td><td>{:.3}</td><td>{:.3}</td></tr>",
            i + 1,
            f.letters,
            f.decisions.model.n,
            f.entities.strict.micro.f1,
            f.decisions.model.macro_f1,
            f.decisions.model.per_class["Overturned"].recall
        );
    }
    let _ = writeln!(out, "</table>");
}

/// The text around a span, with the span marked.
fn context(text: &[char], s: usize, e: usize) -> String {
    let a = s.saturating_sub(60);
    let b = (e + 60).min(text.len());
    let piece = |x: usize, y: usize| esc(&text[x..y].iter().collect::<String>());
    format!(
        "…{}<mark>{}</mark>{}…",
        piece(a, s),
        piece(s, e),
        piece(e, b)
    )
    .replace(['\n', '\r'], " ")
}

/// The error tables of the letters whose errors may be read: for a cross-validation, those of
/// the folds read (`cv::READ_FOLDS`), so that the sealed folds stay fit to judge a change.
fn error_tables(scored: &[Scored], cv: Option<&CvReport>, out: &mut String) {
    let shown: Vec<&Scored> = match cv {
        Some(cv) => scored
            .iter()
            .zip(&cv.sealed_letters)
            .filter(|(_, &sealed)| !sealed)
            .map(|(s, _)| s)
            .collect(),
        None => scored.iter().collect(),
    };
    if let Some(cv) = cv {
        let _ = writeln!(
            out,
            "<p id=\"sealed-note\">Errors of folds {read:?} only: the {} letters of the sealed \
             folds {sealed:?} are scored above but their errors are not shown.</p>",
            scored.len() - shown.len(),
            read = cv.read_folds,
            sealed = cv.sealed_folds
        );
    }
    let scored = shown;
    // Decisions.
    let _ = writeln!(
        out,
        "<h2 id=\"decision-errors\">Wrong decisions</h2><table><tr><th>case</th><th>request</th>\
         <th>stated</th><th>predicted</th><th>P(Overturned)</th><th>rationale, first lines</th></tr>"
    );
    let mut wrong = 0;
    for s in scored.iter().copied() {
        let l = &s.letter.letter;
        for (item, &p) in l.items.iter().zip(&s.prediction.p_overturned) {
            let Some(stated) = item.stated_decision else {
                continue;
            };
            let predicted = crate::decode::decision(f64::from(p));
            if predicted == stated {
                continue;
            }
            wrong += 1;
            let rationale: String = l.slice(item.rationale).chars().take(400).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{stated}</td><td>{predicted}</td><td>{p:.3}</td>\
                 <td class=\"ctx\">{}…</td></tr>",
                esc(&s.letter.name()),
                esc(&item.request.text),
                esc(&crate::letter::fold_whitespace(&rationale))
            );
        }
    }
    if wrong == 0 {
        let _ = writeln!(out, "<tr><td colspan=\"6\">none</td></tr>");
    }
    let _ = writeln!(out, "</table>");

    // Entities: strict errors, each with the overlapping counterpart if there is one.
    let _ = writeln!(
        out,
        "<h2 id=\"entity-errors\">Entity errors (strict)</h2>\
         <p>Show <select id=\"label-filter\" onchange=\"filterRows()\"><option value=\"\">all labels</option>\
         <option>DRUG</option><option>DOSE</option><option>QUANTITY</option><option>DIAGNOSIS</option>\
         <option>GUIDELINE_PAGE</option></select> <select id=\"kind-filter\" onchange=\"filterRows()\">\
         <option value=\"\">false positives and negatives</option><option value=\"FP\">false positives</option>\
         <option value=\"FN\">false negatives</option></select> <span id=\"shown\"></span></p>\
         <table id=\"entity-table\"><tr><th>kind</th><th>label</th><th>case</th><th>text</th>\
         <th>overlapping</th><th>context</th></tr>"
    );
    for s in scored.iter().copied() {
        let l = &s.letter.letter;
        let chars: Vec<char> = l.text.chars().collect();
        let gold = &s.letter.entities;
        let pred: Vec<EntitySpan> = s.prediction.entities.iter().map(|e| e.0).collect();
        let text = |e: &EntitySpan| chars[e.start..e.end].iter().collect::<String>();
        let row = |kind: &str, e: &EntitySpan, other: &[EntitySpan], out: &mut String| {
            let overlap: Vec<String> = other
                .iter()
                .filter(|o| o.span().overlaps(&e.span()))
                .map(|o| format!("{} “{}”", o.label.as_str(), esc(&text(o))))
                .collect();
            let _ = writeln!(
                out,
                "<tr data-label=\"{}\" data-kind=\"{kind}\"><td>{kind}</td><td>{}</td><td>{}</td>\
                 <td>{}</td><td>{}</td><td class=\"ctx\">{}</td></tr>",
                e.label.as_str(),
                e.label.as_str(),
                esc(&s.letter.name()),
                esc(&text(e)),
                overlap.join("; "),
                context(&chars, e.start, e.end)
            );
        };
        for p in pred.iter().filter(|p| !gold.contains(p)) {
            row("FP", p, gold, out);
        }
        for g in gold.iter().filter(|g| !pred.contains(g)) {
            row("FN", g, &pred, out);
        }
    }
    let _ = writeln!(out, "</table>");
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1280px;margin:1em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:.8em 0}td,th{border:1px solid #ccc;padding:3px 7px;font-size:13px;\
text-align:left;vertical-align:top}th{background:#f1f1f1}.charts{display:flex;flex-wrap:wrap;gap:10px}\
.ctx{max-width:560px;font-size:12px}mark{background:#ffe08a}";

const SCRIPT: &str = "function filterRows(){var l=document.getElementById('label-filter').value;\
var k=document.getElementById('kind-filter').value;var n=0;\
document.querySelectorAll('#entity-table tr[data-label]').forEach(function(r){\
var show=(!l||r.dataset.label===l)&&(!k||r.dataset.kind===k);r.style.display=show?'':'none';if(show)n++;});\
document.getElementById('shown').textContent=n+' rows';}window.onload=filterRows;";

/// The page for an evaluation (`cv` given: its folds, baselines and decodings too). `scored`
/// are the predictions the report scores (pooled out-of-fold ones for cross-validation).
pub fn html(
    title: &str,
    r: &EvalReport,
    cv: Option<&CvReport>,
    scored: &[Scored],
) -> Result<String, BoxError> {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
         <style>{STYLE}</style><script>{SCRIPT}</script></head><body><h1>{t}</h1>\
         <p>{} letters; {} disputed items found of {} expected. Entities: strict = exact span and \
         label, lenient = overlapping span, same label. Decisions: Overturned when \
         P(Overturned) ≥ 0.5.</p>",
        r.letters,
        r.items.found,
        r.items.expected,
        t = esc(title)
    );
    let _ = writeln!(out, "<h2 id=\"summary\">Summary</h2>");
    figure_table(r, &mut out);
    if let Some(cv) = cv {
        cv_tables(cv, &mut out);
    }
    let [roc, pr, reliability] = curve_charts(scored, r.decisions.model.brier)?;
    let _ = writeln!(
        out,
        "<h2 id=\"charts\">Charts</h2><div class=\"charts\">{}{}{}{}{}</div>",
        entity_f1_chart(r)?,
        confusion_chart(r)?,
        roc,
        pr,
        reliability
    );
    error_tables(scored, cv, &mut out);
    let _ = writeln!(out, "</body></html>");
    Ok(out)
}

/// A chart library error, kept whole as a cause (plotters' errors borrow their backend's).
pub(crate) fn boxed<E: std::error::Error + Send + Sync + 'static>(e: E) -> BoxError {
    Box::new(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roc_pr_and_reliability_on_a_known_case() {
        // Scores: positives 0.9, 0.4; negatives 0.6, 0.1.
        let pairs = [(true, 0.9), (false, 0.6), (true, 0.4), (false, 0.1)];
        assert_eq!(
            roc_points(&pairs),
            vec![(0.0, 0.0), (0.0, 0.5), (0.5, 0.5), (0.5, 1.0), (1.0, 1.0)]
        );
        let pr = pr_points(&pairs);
        assert_eq!(pr[0], (0.5, 1.0));
        assert_eq!(pr[2], (1.0, 2.0 / 3.0));
        let bins = reliability_bins(&pairs);
        assert_eq!(bins.len(), 4);
        assert_eq!(bins[0], (0.1, 0.0, 1));
        // Ties move together: one diagonal step.
        assert_eq!(
            roc_points(&[(true, 0.5), (false, 0.5)]),
            vec![(0.0, 0.0), (1.0, 1.0)]
        );
    }
}
