//! JSONL annotations as doccano and Prodigy export them: one document a line,
//! `{"text": ..., "spans": [{"start", "end", "label"}]}`, offsets in characters.

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
        let doc: Document = serde_json::from_str(line).map_err(|e| err(e.to_string()))?;
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
        let bad = r#"{"text":"Norco","spans":[{"start":0,"end":9,"label":"DRUG"}]}"#;
        assert!(matches!(
            parse(Path::new("b.jsonl"), &format!("\n{bad}")),
            Err(Error::Annotation { line: 2, .. })
        ));
    }
}
