//! JSONL annotations as Prodigy and doccano export them: one document a line, offsets in
//! characters. Read: Prodigy's `{"text", "spans": [{"start", "end", "label"}]}`, doccano's
//! `{"text", "label": [[start, end, "LABEL"]]}` and its newer `{"text", "entities":
//! [{"start_offset", "end_offset", "label"}]}`. Written: the Prodigy form.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{validate_spans, EntitySpan};
use crate::error::{Error, Result};

/// One annotated text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Document {
    /// Where the text came from, when known (not part of the doccano form; kept if present).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub text: String,
    pub spans: Vec<EntitySpan>,
}

impl Document {
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("a document always serializes")
    }
}

/// A line as any of the three forms has it.
#[derive(Debug, Deserialize)]
struct Line {
    #[serde(default)]
    file: Option<String>,
    text: String,
    #[serde(default)]
    spans: Option<Vec<EntitySpan>>,
    #[serde(default)]
    label: Option<Vec<(usize, usize, super::Label)>>,
    #[serde(default)]
    entities: Option<Vec<DoccanoEntity>>,
}

#[derive(Debug, Deserialize)]
struct DoccanoEntity {
    start_offset: usize,
    end_offset: usize,
    label: super::Label,
}

impl Line {
    fn document(self) -> std::result::Result<Document, String> {
        let spans = match (self.spans, self.label, self.entities) {
            (Some(s), _, _) => s,
            (None, Some(l), _) => l
                .into_iter()
                .map(|(start, end, label)| EntitySpan { start, end, label })
                .collect(),
            (None, None, Some(e)) => e
                .into_iter()
                .map(|e| EntitySpan {
                    start: e.start_offset,
                    end: e.end_offset,
                    label: e.label,
                })
                .collect(),
            (None, None, None) => {
                return Err("no `spans` (Prodigy), `label` or `entities` (doccano)".into())
            }
        };
        let mut spans = spans;
        spans.sort();
        Ok(Document {
            file: self.file,
            text: self.text,
            spans,
        })
    }
}

/// Parses JSONL content; each line is validated against its own text.
pub fn parse(path: &Path, content: &str) -> Result<Vec<Document>> {
    let mut docs = Vec::new();
    for (i, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |message: String| Error::Annotation {
            path: path.into(),
            line: i + 1,
            message,
        };
        let line: Line = serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
        let doc = line.document().map_err(err)?;
        let n = doc.text.chars().count();
        validate_spans(&doc.spans, n).map_err(|(_, m)| err(m))?;
        docs.push(doc);
    }
    Ok(docs)
}

pub fn load(path: &Path) -> Result<Vec<Document>> {
    let content = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    parse(path, &content)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::Label;

    #[test]
    fn round_trips_and_checks_spans() {
        let line = r#"{"text":"Norco #90","spans":[{"start":0,"end":5,"label":"DRUG"},{"start":6,"end":9,"label":"QUANTITY"}]}"#;
        let docs = parse(Path::new("a.jsonl"), line).unwrap();
        assert_eq!(docs[0].spans[1].label, Label::Quantity);
        assert_eq!(docs[0].to_line(), line);
        // doccano's two export forms give the same document.
        let old = r#"{"id":7,"text":"Norco #90","label":[[6,9,"QUANTITY"],[0,5,"DRUG"]]}"#;
        let new = r#"{"text":"Norco #90","entities":[{"id":1,"start_offset":0,"end_offset":5,"label":"DRUG"},{"id":2,"start_offset":6,"end_offset":9,"label":"QUANTITY"}],"relations":[]}"#;
        for form in [old, new] {
            let d = parse(Path::new("d.jsonl"), form).unwrap();
            assert_eq!(d[0].spans, docs[0].spans, "{form}");
        }
        assert!(matches!(
            parse(Path::new("c.jsonl"), r#"{"text":"Norco"}"#),
            Err(Error::Annotation { line: 1, .. })
        ));
        let bad = r#"{"text":"Norco","spans":[{"start":0,"end":9,"label":"DRUG"}]}"#;
        assert!(matches!(
            parse(Path::new("b.jsonl"), &format!("\n{bad}")),
            Err(Error::Annotation { line: 2, .. })
        ));
    }
}
