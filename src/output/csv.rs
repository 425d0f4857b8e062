//! One CSV row per disputed item, for spreadsheets.

use std::io::Write;

use super::record::LetterRecord;

/// The columns, in order.
pub const CSV_HEADER: [&str; 13] = [
    "file",
    "case_number",
    "item",
    "request",
    "stated_decision",
    "predicted_decision",
    "p_overturned",
    "agrees",
    "drug",
    "dose",
    "quantity",
    "rationale_span",
    "error",
];

pub fn write_rows<W: Write>(w: &mut csv::Writer<W>, r: &LetterRecord) -> csv::Result<()> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    if r.error.is_some() || r.items.is_empty() {
        let mut row = vec![String::new(); CSV_HEADER.len()];
        row[0] = r.file.clone();
        row[1] = opt(&r.case_number);
        row[12] = opt(&r.error);
        w.write_record(&row)?;
        return Ok(());
    }
    for item in &r.items {
        let i = item.index;
        let p = item.prediction.as_ref();
        w.write_record([
            r.file.clone(),
            opt(&r.case_number),
            (i + 1).to_string(),
            item.request.clone(),
            item.stated_decision
                .map(|d| d.to_string())
                .unwrap_or_default(),
            p.map(|p| p.predicted_decision.to_string())
                .unwrap_or_default(),
            p.map(|p| format!("{:.4}", p.p_overturned))
                .unwrap_or_default(),
            p.and_then(|p| p.agrees)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            p.and_then(|p| p.drug.clone()).unwrap_or_default(),
            p.and_then(|p| p.dose.clone()).unwrap_or_default(),
            p.and_then(|p| p.quantity.clone()).unwrap_or_default(),
            format!("{}-{}", item.rationale_span.start, item.rationale_span.end),
            String::new(),
        ])?;
    }
    Ok(())
}
