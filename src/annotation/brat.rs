//! BRAT standoff: one text-bound annotation a line, `T3<TAB>DRUG 1043 1048<TAB>Norco`, with
//! character offsets into the letter text. A span may cross a line break; the text column then
//! shows a space.

use std::fmt::Write as _;
use std::path::Path;

use super::{validate_spans, EntitySpan, Label};
use crate::error::{Error, Result};
use crate::letter::{CharIndex, Span};

/// The span text as BRAT writes it: line breaks become spaces.
pub fn column_text(text: &str) -> String {
    text.chars()
        .map(|c| if c == '\n' || c == '\r' { ' ' } else { c })
        .collect()
}

/// Reads `path` and checks it against the letter `text`.
pub fn load(path: &Path, text: &str) -> Result<Vec<EntitySpan>> {
    use crate::letter::source::{read_bounded, DEFAULT_MAX_INPUT_BYTES, DEFAULT_READ_TIMEOUT};
    let bytes = read_bounded(path, DEFAULT_MAX_INPUT_BYTES, DEFAULT_READ_TIMEOUT)?;
    let content = String::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
        path: path.into(),
        offset: e.utf8_error().valid_up_to(),
    })?;
    parse(path, &content, text)
}

/// Parses `.ann` content. Every span must lie inside `text`, match its text column, carry a
/// known label and not overlap another; the error names the file and line.
pub fn parse(path: &Path, content: &str, text: &str) -> Result<Vec<EntitySpan>> {
    let chars = CharIndex::new(text);
    let mut spans = Vec::new();
    let mut lines = Vec::new();
    for (i, raw) in content.lines().enumerate() {
        let line_no = i + 1;
        let err = |message: String| Error::Annotation {
            path: path.into(),
            line: line_no,
            message,
        };
        if raw.trim().is_empty() || !raw.starts_with('T') {
            // Notes, attributes and relations carry no entity span.
            continue;
        }
        let mut cols = raw.splitn(3, '\t');
        let _id = cols.next();
        let body = cols
            .next()
            .ok_or_else(|| err("expected `T<n><TAB>LABEL START END<TAB>text`".into()))?;
        let column = cols.next().unwrap_or("");
        if body.contains(';') {
            return Err(err("discontinuous spans are not used in this corpus".into()));
        }
        let mut parts = body.split(' ');
        let (Some(label), Some(start), Some(end), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(err(format!("expected `LABEL START END`, found {body:?}")));
        };
        let label: Label = label.parse().map_err(err)?;
        let parse_offset = |s: &str| {
            s.parse::<usize>()
                .map_err(|_| err(format!("offset {s:?} is not a whole number")))
        };
        let (start, end) = (parse_offset(start)?, parse_offset(end)?);
        if start >= end {
            return Err(err(format!("span {start}..{end} is empty or reversed")));
        }
        if end > chars.char_len() {
            return Err(err(format!(
                "span {start}..{end} is past the end of the letter ({} characters)",
                chars.char_len()
            )));
        }
        let actual = column_text(chars.slice(text, Span::new(start, end)));
        if actual != column {
            return Err(err(format!(
                "text {column:?} does not match the letter at {start}..{end}, which reads {actual:?}"
            )));
        }
        spans.push(EntitySpan { start, end, label });
        lines.push(line_no);
    }
    validate_spans(&spans, chars.char_len()).map_err(|(i, message)| Error::Annotation {
        path: path.into(),
        line: lines[i],
        message,
    })?;
    Ok(spans)
}

/// Writes spans as `.ann` content, numbered `T1..` in the order given.
pub fn write(spans: &[EntitySpan], text: &str) -> String {
    let chars = CharIndex::new(text);
    let mut out = String::new();
    for (i, s) in spans.iter().enumerate() {
        let column = column_text(chars.slice(text, s.span()));
        let _ = writeln!(
            out,
            "T{}\t{} {} {}\t{}",
            i + 1,
            s.label,
            s.start,
            s.end,
            column
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "Norco 10/325mg #90 for low\nback pain";

    #[test]
    fn parses_and_writes_back() {
        let ann = "T1\tDRUG 0 5\tNorco\nT2\tDOSE 6 14\t10/325mg\nT3\tQUANTITY 15 18\t#90\nT4\tDIAGNOSIS 23 36\tlow back pain\n";
        let spans = parse(Path::new("a.ann"), ann, TEXT).unwrap();
        assert_eq!(spans.len(), 4);
        assert_eq!(spans[3].label, Label::Diagnosis);
        assert_eq!(write(&spans, TEXT), ann);
    }

    #[test]
    fn errors_name_the_line() {
        let bad = [
            ("T1\tDRUG 0 5\tNorco\nT2\tDRUG 0 99\tx\n", 2, "past the end"),
            ("T1\tDRUG 5 0\tNorco\n", 1, "reversed"),
            ("T1\tDRUG 0 5\tNorco\nT2\tDOSE 3 8\tco 10\n", 2, "overlap"),
            ("T1\tMEDICINE 0 5\tNorco\n", 1, "unknown label"),
            ("T1\tDRUG 0 5\tNorce\n", 1, "does not match"),
            ("T1\tDRUG 0 x\tNorco\n", 1, "not a whole number"),
        ];
        for (ann, line, what) in bad {
            match parse(Path::new("bad.ann"), ann, TEXT) {
                Err(Error::Annotation {
                    line: l, message, ..
                }) => {
                    assert_eq!(l, line, "{ann:?}");
                    assert!(message.contains(what), "{message}");
                }
                other => panic!("{ann:?} gave {other:?}"),
            }
        }
    }
}
