//! `imr summarize`: a batch of `predict` records in one view. Overturn rates with 95% Wilson
//! intervals, overall and by generic drug, treatment kind, guideline, reviewer specialty and
//! year of the decision. Records are read one line at a time and only counts are kept, so a
//! file of any length takes the same memory.
//!
//! An item counts as Overturned by the letter's stated decision where it has one, else by the
//! prediction.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use plotters::prelude::*;

use super::report::{boxed, esc};
use crate::error::BoxError;
use crate::normalize::{Citation, Guideline};
use crate::words::Words;

/// Words of a request that name a kind of treatment, by kind (`tables.txt`).
static IMAGING: Words = Words("TREATMENT_IMAGING");
static THERAPY: Words = Words("TREATMENT_THERAPY");
static INJECTION: Words = Words("TREATMENT_INJECTION");
static SURGERY: Words = Words("TREATMENT_SURGERY");
static EQUIPMENT: Words = Words("TREATMENT_EQUIPMENT");

/// The part of a record `summarize` reads; other fields are passed over.
#[derive(Debug, Deserialize)]
struct Record {
    #[serde(default)]
    reviewer_specialty: Option<String>,
    #[serde(default)]
    decision_date: Option<String>,
    #[serde(default)]
    items: Vec<Item>,
    #[serde(default)]
    error: Option<String>,
}

#[derive(Debug, Deserialize)]
struct Item {
    request: String,
    #[serde(default)]
    stated_decision: Option<String>,
    #[serde(default)]
    predicted_decision: Option<String>,
    #[serde(default)]
    guidelines: Vec<Citation>,
    #[serde(default)]
    medications: Vec<Medication>,
}

#[derive(Debug, Deserialize)]
struct Medication {
    #[serde(default)]
    drug: Option<String>,
    #[serde(default)]
    generic: Option<String>,
}

/// The treatment kinds, in the order they are tried on a request.
pub const KINDS: [&str; 7] = [
    "medication",
    "imaging",
    "therapy",
    "injection",
    "surgery",
    "equipment",
    "other",
];

/// A request's kind of treatment: a medication when the model found a drug in it, else the
/// first kind whose words the request has (words of a kind in `tables.txt`, a word matching
/// where it starts a word of the request: `arthroscop` matches `arthroscopic`).
pub fn treatment_kind(request: &str, has_drug: bool) -> &'static str {
    if has_drug {
        return "medication";
    }
    let words: Vec<String> = request
        .split(|c: char| !c.is_alphanumeric() && c != '-')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    let has = |table: &Words| {
        table.iter().any(|t| {
            words.iter().any(|w| match t.strip_prefix('-') {
                Some(end) => w.ends_with(end),
                None => w.starts_with(t),
            })
        })
    };
    // Equipment before therapy: a `cold therapy unit` is equipment.
    for (kind, table) in [
        ("imaging", &IMAGING),
        ("injection", &INJECTION),
        ("surgery", &SURGERY),
        ("equipment", &EQUIPMENT),
        ("therapy", &THERAPY),
    ] {
        if has(table) {
            return kind;
        }
    }
    "other"
}

/// A year from a date as letters write it (`12/19/2016`, `2016-12-19`).
fn year(date: &str) -> Option<u16> {
    date.split(|c: char| !c.is_ascii_digit())
        .filter(|p| p.len() == 4)
        .find_map(|p| p.parse::<u16>().ok().filter(|y| (1990..=2100).contains(y)))
}

/// Items and Overturned items of one group, with the 95% Wilson interval of the rate.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rate {
    pub items: u64,
    pub overturned: u64,
    pub rate: f64,
    pub low: f64,
    pub high: f64,
}

/// The 95% Wilson score interval of `k` successes in `n`.
pub fn wilson(k: u64, n: u64) -> (f64, f64) {
    if n == 0 {
        return (0.0, 1.0);
    }
    let (k, n) = (k as f64, n as f64);
    let z = 1.959_963_985_f64;
    let p = k / n;
    let denom = 1.0 + z * z / n;
    let centre = (p + z * z / (2.0 * n)) / denom;
    let half = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt() / denom;
    ((centre - half).max(0.0), (centre + half).min(1.0))
}

impl Rate {
    fn of(items: u64, overturned: u64) -> Rate {
        let (low, high) = wilson(overturned, items);
        Rate {
            items,
            overturned,
            rate: if items == 0 {
                0.0
            } else {
                overturned as f64 / items as f64
            },
            low,
            high,
        }
    }
}

/// The groupings, in the order they are printed.
pub const GROUPS: [&str; 5] = ["generic", "treatment", "guideline", "specialty", "year"];

/// Counts as the records are read.
#[derive(Debug, Default)]
pub struct Tally {
    letters: u64,
    failed: u64,
    /// Items with neither a stated nor a predicted decision (from `parse`, say): not counted.
    undecided: u64,
    all: (u64, u64),
    groups: HashMap<&'static str, HashMap<String, (u64, u64)>>,
}

/// A line that is not a record of `predict` or `parse`.
#[derive(Debug)]
pub struct BadLine(pub String);

impl Tally {
    /// Counts one JSONL line (a blank line is passed over).
    pub fn add_line(&mut self, line: &str) -> Result<(), BadLine> {
        if line.trim().is_empty() {
            return Ok(());
        }
        let r: Record = serde_json::from_str(line).map_err(|e| BadLine(e.to_string()))?;
        self.letters += 1;
        if r.error.is_some() {
            self.failed += 1;
            return Ok(());
        }
        let specialty = r
            .reviewer_specialty
            .as_deref()
            .map(crate::letter::fold_whitespace)
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "(not stated)".into());
        let year = r
            .decision_date
            .as_deref()
            .and_then(year)
            .map_or_else(|| "(not stated)".into(), |y| y.to_string());
        for item in &r.items {
            let decision = item
                .stated_decision
                .as_deref()
                .or(item.predicted_decision.as_deref());
            let overturned = match decision {
                Some("Overturned") => 1,
                Some(_) => 0,
                None => {
                    self.undecided += 1;
                    continue;
                }
            };
            self.all.0 += 1;
            self.all.1 += overturned;
            let mut count = |group: &'static str, key: String| {
                let c = self
                    .groups
                    .entry(group)
                    .or_default()
                    .entry(key)
                    .or_default();
                c.0 += 1;
                c.1 += overturned;
            };
            let mut generics: Vec<&str> = item
                .medications
                .iter()
                .filter_map(|m| m.generic.as_deref())
                .collect();
            generics.sort_unstable();
            generics.dedup();
            for g in &generics {
                count("generic", (*g).to_string());
            }
            count(
                "treatment",
                treatment_kind(
                    &item.request,
                    item.medications.iter().any(|m| m.drug.is_some()),
                )
                .to_string(),
            );
            let mut guidelines: Vec<String> = item
                .guidelines
                .iter()
                .map(|c| match (&c.guideline, &c.chapter) {
                    (Guideline::Mtus, Some(ch)) => format!("MTUS: {ch}"),
                    (g, _) => g.to_string(),
                })
                .collect();
            guidelines.sort();
            guidelines.dedup();
            for g in guidelines {
                count("guideline", g);
            }
            count("specialty", specialty.clone());
            count("year", year.clone());
        }
        Ok(())
    }

    pub fn summary(&self) -> Summary {
        let mut groups = Vec::new();
        for name in GROUPS {
            let mut rows: Vec<(String, Rate)> = self
                .groups
                .get(name)
                .map(|g| {
                    g.iter()
                        .map(|(k, &(n, o))| (k.clone(), Rate::of(n, o)))
                        .collect()
                })
                .unwrap_or_default();
            if name == "year" {
                rows.sort_by(|a, b| a.0.cmp(&b.0));
            } else {
                rows.sort_by(|a, b| b.1.items.cmp(&a.1.items).then(a.0.cmp(&b.0)));
            }
            groups.push(Group {
                name: name.to_string(),
                rows: rows
                    .into_iter()
                    .map(|(key, rate)| Row { key, rate })
                    .collect(),
            });
        }
        Summary {
            letters: self.letters,
            failed: self.failed,
            undecided_items: self.undecided,
            overall: Rate::of(self.all.0, self.all.1),
            groups,
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Row {
    pub key: String,
    #[serde(flatten)]
    pub rate: Rate,
}

#[derive(Debug, Clone, Serialize)]
pub struct Group {
    pub name: String,
    pub rows: Vec<Row>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub letters: u64,
    /// Records of inputs that failed.
    pub failed: u64,
    pub undecided_items: u64,
    pub overall: Rate,
    pub groups: Vec<Group>,
}

fn pct(x: f64) -> String {
    format!("{:.1}%", 100.0 * x)
}

impl Summary {
    /// Text tables, each group's first `top` rows.
    pub fn text(&self, top: usize) -> String {
        let mut s = String::new();
        let o = &self.overall;
        let _ = writeln!(
            s,
            "{} letters ({} failed), {} items: {} Overturned, {} [{} - {}] (95% Wilson)",
            self.letters,
            self.failed,
            o.items,
            o.overturned,
            pct(o.rate),
            pct(o.low),
            pct(o.high)
        );
        for g in &self.groups {
            let _ = writeln!(s, "\nby {} ({} groups)", g.name, g.rows.len());
            let width = g
                .rows
                .iter()
                .take(top)
                .map(|r| r.key.chars().count())
                .max()
                .unwrap_or(0)
                .min(60);
            for r in g.rows.iter().take(top) {
                let key: String = r.key.chars().take(60).collect();
                let _ = writeln!(
                    s,
                    "  {key:width$}  {:>7} items  {:>6} overturned  {:>6}  [{} - {}]",
                    r.rate.items,
                    r.rate.overturned,
                    pct(r.rate.rate),
                    pct(r.rate.low),
                    pct(r.rate.high),
                );
            }
        }
        s
    }

    /// One CSV row per group and key, `overall` first.
    pub fn csv(&self) -> csv::Result<String> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["group", "key", "items", "overturned", "rate", "low", "high"])?;
        let row = |g: &str, k: &str, r: &Rate| {
            vec![
                g.to_string(),
                k.to_string(),
                r.items.to_string(),
                r.overturned.to_string(),
                format!("{:.4}", r.rate),
                format!("{:.4}", r.low),
                format!("{:.4}", r.high),
            ]
        };
        w.write_record(row("overall", "", &self.overall))?;
        for g in &self.groups {
            for r in &g.rows {
                w.write_record(row(&g.name, &r.key, &r.rate))?;
            }
        }
        let bytes = w.into_inner().map_err(|e| e.into_error())?;
        Ok(String::from_utf8(bytes).expect("CSV of strings is UTF-8"))
    }
}

/// A horizontal bar chart of rates with their intervals, sorted by rate (the highest on top),
/// as SVG.
fn rate_bars(title: &str, rows: &[&Row]) -> Result<String, BoxError> {
    let mut rows: Vec<&Row> = rows.to_vec();
    // The chart's first row is its bottom one.
    rows.sort_by(|a, b| a.rate.rate.total_cmp(&b.rate.rate).then(b.key.cmp(&a.key)));
    let n = rows.len().max(1);
    let height = 70 + 22 * n as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, height)).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let label = |i: usize| -> String {
            rows.get(i)
                .map(|r| {
                    let k: String = r.key.chars().take(38).collect();
                    format!("{k} ({})", r.rate.items)
                })
                .unwrap_or_default()
        };
        let top = rows
            .iter()
            .map(|r| r.rate.high)
            .fold(0.0f64, f64::max)
            .max(0.05);
        let mut chart = ChartBuilder::on(&root)
            .caption(title, ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(300)
            .build_cartesian_2d(0f64..(top * 1.05).min(1.0), (0..n).into_segmented())
            .map_err(boxed)?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(n)
            .y_label_formatter(&|v| match v {
                SegmentValue::CenterOf(i) => label(*i),
                _ => String::new(),
            })
            .x_label_formatter(&|x| format!("{:.0}%", 100.0 * x))
            .x_desc("Overturned (95% Wilson interval); items in brackets")
            .draw()
            .map_err(boxed)?;
        let bar = RGBColor(70, 130, 180);
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                Rectangle::new(
                    [
                        (0.0, SegmentValue::Exact(i)),
                        (r.rate.rate, SegmentValue::Exact(i + 1)),
                    ],
                    bar.mix(0.7).filled(),
                )
            }))
            .map_err(boxed)?;
        chart
            .draw_series(rows.iter().enumerate().map(|(i, r)| {
                PathElement::new(
                    vec![
                        (r.rate.low, SegmentValue::CenterOf(i)),
                        (r.rate.high, SegmentValue::CenterOf(i)),
                    ],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(boxed)?;
        root.present().map_err(boxed)?;
    }
    Ok(svg)
}

/// The overturn rate by year, with its interval, as SVG.
fn year_series(rows: &[&Row]) -> Result<String, BoxError> {
    let points: Vec<(u16, &Rate)> = rows
        .iter()
        .filter_map(|r| r.key.parse::<u16>().ok().map(|y| (y, &r.rate)))
        .collect();
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 320)).into_drawing_area();
        root.fill(&WHITE).map_err(boxed)?;
        let (first, last) = match (points.first(), points.last()) {
            (Some(a), Some(b)) => (a.0 as i32, b.0 as i32),
            _ => (2015, 2016),
        };
        let top = points
            .iter()
            .map(|p| p.1.high)
            .fold(0.0f64, f64::max)
            .max(0.05);
        let mut chart = ChartBuilder::on(&root)
            .caption("Overturned by year of the decision", ("sans-serif", 16))
            .margin(10)
            .x_label_area_size(30)
            .y_label_area_size(50)
            .build_cartesian_2d((first - 1)..(last + 1), 0f64..(top * 1.05).min(1.0))
            .map_err(boxed)?;
        chart
            .configure_mesh()
            .x_label_formatter(&|y| y.to_string())
            .y_label_formatter(&|x| format!("{:.0}%", 100.0 * x))
            .draw()
            .map_err(boxed)?;
        let line = RGBColor(70, 130, 180);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(y, r)| (*y as i32, r.rate)),
                line.stroke_width(2),
            ))
            .map_err(boxed)?;
        chart
            .draw_series(points.iter().map(|(y, r)| {
                PathElement::new(
                    vec![(*y as i32, r.low), (*y as i32, r.high)],
                    BLACK.stroke_width(2),
                )
            }))
            .map_err(boxed)?;
        chart
            .draw_series(
                points
                    .iter()
                    .map(|(y, r)| Circle::new((*y as i32, r.rate), 4, line.filled())),
            )
            .map_err(boxed)?;
        root.present().map_err(boxed)?;
    }
    Ok(svg)
}

impl Summary {
    /// One self-contained HTML page: the overall rate, then each group's chart (its `top`
    /// largest groups) and table.
    pub fn html(&self, title: &str, top: usize) -> Result<String, BoxError> {
        let o = &self.overall;
        let mut s = String::new();
        let _ = write!(
            s,
            "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{t}</title>\
             <style>body{{font-family:sans-serif;margin:2em;max-width:64em}}\
             table{{border-collapse:collapse}}td,th{{padding:2px 10px;border-bottom:1px solid #ddd;\
             text-align:right}}td:first-child,th:first-child{{text-align:left}}</style></head>\
             <body><h1>{t}</h1><p id=\"overall\">{} letters ({} failed), {} disputed items: \
             <b>{} Overturned, {}</b> [{} - {}], 95% Wilson interval. An item counts by the \
             letter's stated decision where it has one, else by the prediction.</p>",
            self.letters,
            self.failed,
            o.items,
            o.overturned,
            pct(o.rate),
            pct(o.low),
            pct(o.high),
            t = esc(title)
        );
        for g in &self.groups {
            let shown: Vec<&Row> = g.rows.iter().take(top).collect();
            let _ = write!(s, "<h2 id=\"{0}\">By {0}</h2>", esc(&g.name));
            if g.name == "year" {
                s.push_str(&year_series(&shown)?);
            } else if !shown.is_empty() {
                s.push_str(&rate_bars(
                    &format!("Overturned by {} (the {} largest)", g.name, shown.len()),
                    &shown,
                )?);
            }
            s.push_str("<table><tr><th>group</th><th>items</th><th>overturned</th><th>rate</th><th>95% interval</th></tr>");
            for r in &shown {
                let _ = write!(
                    s,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{} - {}</td></tr>",
                    esc(&r.key),
                    r.rate.items,
                    r.rate.overturned,
                    pct(r.rate.rate),
                    pct(r.rate.low),
                    pct(r.rate.high)
                );
            }
            s.push_str("</table>");
            if g.rows.len() > shown.len() {
                let _ = write!(
                    s,
                    "<p>and {} smaller groups (all in the CSV and JSON).</p>",
                    g.rows.len() - shown.len()
                );
            }
        }
        s.push_str("</body></html>\n");
        Ok(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_intervals_match_the_formula() {
        // 10 of 100: the textbook interval is [0.0552, 0.1744].
        let (l, h) = wilson(10, 100);
        assert!(
            (l - 0.0552).abs() < 5e-4 && (h - 0.1744).abs() < 5e-4,
            "{l} {h}"
        );
        assert_eq!(wilson(0, 0), (0.0, 1.0));
        let (l, h) = wilson(0, 5);
        assert_eq!(l, 0.0);
        assert!(h > 0.4 && h < 0.5, "{h}");
    }

    #[test]
    fn treatment_kinds_from_the_request() {
        assert_eq!(treatment_kind("Norco 10/325mg #90", true), "medication");
        assert_eq!(treatment_kind("MRI of the lumbar spine", false), "imaging");
        assert_eq!(
            treatment_kind("Physical therapy 2x6 for the knee", false),
            "therapy"
        );
        assert_eq!(
            treatment_kind("Lumbar epidural steroid injection L4-5", false),
            "injection"
        );
        assert_eq!(
            treatment_kind("Right knee arthroscopic meniscectomy", false),
            "surgery"
        );
        assert_eq!(treatment_kind("TENS unit purchase", false), "equipment");
        assert_eq!(
            treatment_kind("Cold therapy unit rental", false),
            "equipment"
        );
        assert_eq!(treatment_kind("Left knee meniscectomy", false), "surgery");
        assert_eq!(
            treatment_kind("Follow-up visit with the provider", false),
            "other"
        );
    }

    #[test]
    fn a_tally_counts_stated_before_predicted_and_skips_failures() {
        let mut t = Tally::default();
        let line = |stated: &str, predicted: &str, generic: &str| {
            format!(
                r#"{{"reviewer_specialty": "Orthopedic Surgery", "decision_date": "12/19/2016",
                   "items": [{{"request": "Norco", "stated_decision": {stated},
                   "predicted_decision": {predicted},
                   "medications": [{{"drug": "Norco", "generic": {generic}}}],
                   "guidelines": [{{"guideline": "MTUS", "chapter": "Chronic Pain Medical Treatment", "year": 2016}}]}}],
                   "error": null}}"#
            )
            .replace('\n', " ")
        };
        t.add_line(&line(
            "\"Overturned\"",
            "\"Upheld\"",
            "\"hydrocodone / acetaminophen\"",
        ))
        .unwrap();
        t.add_line(&line(
            "null",
            "\"Upheld\"",
            "\"hydrocodone / acetaminophen\"",
        ))
        .unwrap();
        t.add_line(&line("null", "null", "null")).unwrap();
        t.add_line(r#"{"file": "x", "items": [], "error": "x: not a letter"}"#)
            .unwrap();
        t.add_line("").unwrap();
        assert!(t.add_line("not json").is_err());
        let s = t.summary();
        assert_eq!((s.letters, s.failed, s.undecided_items), (4, 1, 1));
        assert_eq!((s.overall.items, s.overall.overturned), (2, 1));
        let group = |name: &str| s.groups.iter().find(|g| g.name == name).unwrap();
        assert_eq!(group("generic").rows[0].key, "hydrocodone / acetaminophen");
        assert_eq!(group("generic").rows[0].rate.items, 2);
        assert_eq!(group("treatment").rows[0].key, "medication");
        assert_eq!(
            group("guideline").rows[0].key,
            "MTUS: Chronic Pain Medical Treatment"
        );
        assert_eq!(group("year").rows[0].key, "2016");
        assert!(s.csv().unwrap().starts_with("group,key,items"));
        assert!(s.text(10).contains("2 items: 1 Overturned, 50.0%"));
        let page = s.html("batch", 20).unwrap();
        assert!(
            page.contains("<svg") && page.contains("id=\"year\"") && page.ends_with("</html>\n")
        );
    }
}
