//! The library's typed error. Every variant names the input it is about, so that a batch can
//! report one bad letter and carry on with the others.

use std::path::{Path, PathBuf};

/// What went wrong, and with which file.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: {source}", escape_path(.path))]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: empty file", escape_path(.path))]
    Empty { path: PathBuf },
    #[error("{}: binary file (NUL byte at byte {offset}), not a letter", escape_path(.path))]
    Binary { path: PathBuf, offset: usize },
    #[error("{}: not UTF-8 text (invalid byte sequence at byte {offset})", escape_path(.path))]
    NotUtf8 { path: PathBuf, offset: usize },
    #[error("{}: {size} bytes is over the input limit of {limit} bytes", escape_path(.path))]
    TooLarge {
        path: PathBuf,
        size: u64,
        limit: u64,
    },
    /// A stream (stdin, a pipe, a device) that went on past the limit: its size is unknown.
    #[error("{}: more than the input limit of {limit} bytes", escape_path(.path))]
    TooLargeStream { path: PathBuf, limit: u64 },
    #[error("{}: cannot read PDF: {message}", escape_path(.path))]
    Pdf { path: PathBuf, message: String },
    #[error("{}: PDF has no text layer (scanned image?); run OCR first", escape_path(.path))]
    PdfNoText { path: PathBuf },
    #[error("{}: not an IMR letter: no \"IMR ISSUES, DECISIONS AND RATIONALES\" section", escape_path(.path))]
    NoItemsSection { path: PathBuf },
    #[error("{}: items section has no \"Decision rationale:\" (cut off?)", escape_path(.path))]
    NoItems { path: PathBuf },
    #[error("{}:{line}: {message}", escape_path(.path))]
    Annotation {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: {message}", escape_path(.path))]
    Format { path: PathBuf, message: String },
    /// A line of a file imr reads back (a records file to resume) that is not what it should be.
    #[error("{}:{line}: {message}", escape_path(.path))]
    Line {
        path: PathBuf,
        line: usize,
        message: String,
    },
    #[error("{}: model: {message}", escape_path(.path))]
    Model { path: PathBuf, message: String },
    /// A model file that a library (serde, candle, tokenizers) could not read or write, with
    /// that library's error as the cause.
    #[error("{}: model: {what}: {source}", escape_path(.path))]
    ModelCause {
        path: PathBuf,
        what: String,
        #[source]
        source: BoxError,
    },
    #[error("{} files cannot be used:\n  {}", .0.len(), .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n  "))]
    Many(Vec<Error>),
    #[error("tensor: {0}")]
    Tensor(#[from] candle_core::Error),
}

impl Error {
    /// The file the error is about (none for a list of errors or a tensor error).
    pub fn path(&self) -> Option<&Path> {
        match self {
            Error::Io { path, .. }
            | Error::Empty { path }
            | Error::Binary { path, .. }
            | Error::NotUtf8 { path, .. }
            | Error::TooLarge { path, .. }
            | Error::TooLargeStream { path, .. }
            | Error::Pdf { path, .. }
            | Error::PdfNoText { path }
            | Error::NoItemsSection { path }
            | Error::NoItems { path }
            | Error::Annotation { path, .. }
            | Error::Format { path, .. }
            | Error::Line { path, .. }
            | Error::Model { path, .. }
            | Error::ModelCause { path, .. } => Some(path),
            Error::Many(_) | Error::Tensor(_) => None,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}

/// A path as records and messages name it, losslessly: a name that is not UTF-8 keeps each
/// byte that is not as `\xHH`, and a backslash is written `\\` so that no two paths share a
/// name (on Unix, where a backslash is an ordinary character of file names). A UTF-8 name
/// without backslashes is written as it is.
pub fn escape_path(path: &Path) -> String {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        let mut out = String::new();
        for chunk in path.as_os_str().as_bytes().utf8_chunks() {
            for c in chunk.valid().chars() {
                if c == '\\' {
                    out.push_str("\\\\");
                } else {
                    out.push(c);
                }
            }
            for b in chunk.invalid() {
                out.push_str(&format!("\\x{b:02X}"));
            }
        }
        out
    }
    #[cfg(not(unix))]
    {
        path.display().to_string()
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Another library's error, kept whole as a cause.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl Error {
    /// A model file's error with the library error that caused it.
    pub fn model_cause(
        path: impl Into<PathBuf>,
        what: impl Into<String>,
        source: impl Into<BoxError>,
    ) -> Self {
        Error::ModelCause {
            path: path.into(),
            what: what.into(),
            source: source.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    #[test]
    fn escaped_paths_are_lossless_and_distinct() {
        use std::os::unix::ffi::OsStrExt;
        let name = |b: &[u8]| escape_path(Path::new(std::ffi::OsStr::from_bytes(b)));
        assert_eq!(name(b"letters/a.txt"), "letters/a.txt");
        assert_eq!(name("caf\u{e9}.txt".as_bytes()), "caf\u{e9}.txt");
        assert_eq!(name(b"L\xff0.txt"), "L\\xFF0.txt");
        assert_eq!(name(b"a\\b"), "a\\\\b");
        // Names that a lossy display would merge stay apart, and no escape equals a name.
        let names: [&[u8]; 5] = [
            b"L\xff0.txt",
            b"L\xfe0.txt",
            "L\u{fffd}0.txt".as_bytes(),
            b"L\\xFF0.txt",
            b"L\\\xff0.txt",
        ];
        let escaped: std::collections::HashSet<String> = names.iter().map(|n| name(n)).collect();
        assert_eq!(escaped.len(), names.len(), "{escaped:?}");
    }
}
