//! The library's typed error. Every variant names the input it is about, so that a batch can
//! report one bad letter and carry on with the others.

use std::path::PathBuf;

/// What went wrong, and with which file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: empty file")]
    Empty { path: PathBuf },
    #[error("{path}: binary file (NUL byte at byte {offset}), not a letter")]
    Binary { path: PathBuf, offset: usize },
    #[error("{path}: not UTF-8 text (invalid byte sequence at byte {offset})")]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{path}: {size} bytes is over the input limit of {limit} bytes")]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    #[error("{path}: cannot read PDF: {message}")]
    Pdf { path: PathBuf, message: String },
    #[error("{path}: PDF has no text layer (scanned image?); run OCR first")]
    PdfNoText { path: PathBuf },
    #[error("{path}: not an IMR letter: no \"IMR ISSUES, DECISIONS AND RATIONALES\" section")]
    NoItemsSection { path: PathBuf },
    #[error("{path}: items section has no \"Decision rationale:\" (cut off?)")]
    NoItems { path: PathBuf },
    #[error("{path}:{line}: {message}")]
    Annotation {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{path}: {message}")]
    Format { path: PathBuf, message: String },
    #[error("{path}: model: {message}")]
    Model { path: PathBuf, message: String },
    #[error("{} files cannot be used:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<Error>),
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
