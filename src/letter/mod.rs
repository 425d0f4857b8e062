//! Letters: reading a `.txt` or `.pdf` IMR determination and finding its parts — header fields,
//! the clinical case summary and the disputed items with their decisions and rationales — each
//! with its character span in the letter text.

pub mod input;
mod parse;
pub mod sandbox;
pub mod source;
pub mod span;
pub mod verdict;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use parse::parse_letter;
pub use sandbox::{PdfReader, PdfSandbox};
pub use source::{ReadOptions, SourceKind, DEFAULT_MAX_INPUT_BYTES};
pub use span::{CharIndex, Span};

use crate::error::Result;

/// The outcome of one disputed item.
///
/// `Upheld`: the denial stands (not medically necessary); `Overturned`: the denial is reversed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Decision {
    Upheld,
    Overturned,
}

impl Decision {
    pub const ALL: [Decision; 2] = [Decision::Upheld, Decision::Overturned];

    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Upheld => "Upheld",
            Decision::Overturned => "Overturned",
        }
    }

    pub fn index(self) -> usize {
        self as usize
    }
}

impl std::fmt::Display for Decision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A piece of the letter: its text (whitespace folded to single spaces) and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Field {
    pub text: String,
    pub span: Span,
}

/// The fields of the letter's header block. Older letters lack some of them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Header {
    pub case_number: Option<Field>,
    pub date_assigned: Option<Field>,
    pub date_of_injury: Option<Field>,
    pub decision_date: Option<Field>,
    pub ur_denial_date: Option<Field>,
    pub application_received: Option<Field>,
    pub priority: Option<Field>,
    pub reviewer_specialty: Option<Field>,
}

/// One treatment in dispute, as the letter states it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DisputedItem {
    /// The whole item statement: any partial-authorisation preamble through the decision word.
    pub statement: Span,
    /// What was decided: the item text, or the remaining IMR-eligible portion of a request that
    /// the claims administrator partly authorised.
    pub request: Field,
    /// The full original request, where the letter says one was partly authorised.
    pub original_request: Option<Field>,
    pub stated_decision: Option<Decision>,
    pub decision_span: Option<Span>,
    pub claims_administrator_guideline: Option<Field>,
    pub maximus_guideline: Option<Field>,
    /// The text after `Decision rationale:` up to the next item's statement or the end.
    pub rationale: Span,
}

/// A parsed IMR determination letter.
#[derive(Debug, Clone)]
pub struct Letter {
    /// Where the letter came from (`-` for stdin).
    pub path: PathBuf,
    pub source: SourceKind,
    pub text: String,
    pub chars: CharIndex,
    pub header: Header,
    pub case_summary: Option<Span>,
    pub items: Vec<DisputedItem>,
}

impl Letter {
    /// Reads and parses a letter file (`.txt` or `.pdf`).
    pub fn read(path: &Path) -> Result<Letter> {
        Letter::read_with(path, &ReadOptions::default())
    }

    /// Reads and parses a letter file with a size limit and a choice of PDF reader.
    pub fn read_with(path: &Path, options: &ReadOptions) -> Result<Letter> {
        let (text, kind) = source::read_letter_text(path, options)?;
        parse_letter(path, text, kind)
    }

    /// Parses text that is already in memory.
    pub fn from_text(path: impl Into<PathBuf>, text: String) -> Result<Letter> {
        parse_letter(&path.into(), text, SourceKind::Text)
    }

    /// The text of a character span of this letter.
    pub fn slice(&self, span: Span) -> &str {
        self.chars.slice(&self.text, span)
    }

    pub fn char_len(&self) -> usize {
        self.chars.char_len()
    }
}

/// Folds every run of whitespace (line breaks included) into one space.
pub fn fold_whitespace(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
