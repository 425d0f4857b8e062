//! Reading a letter's text from a `.txt` or `.pdf` file, or from any reader (stdin).
//!
//! Untrusted input: sizes are bounded, binary and non-UTF-8 files are refused with the offending
//! byte, and the PDF extractor (which may panic on malformed files) runs behind `catch_unwind`.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Once;

use super::sandbox::PdfReader;
use crate::error::{Error, Result};

/// Default largest input accepted, in bytes (a long letter is ~40 kB of text, ~200 kB of PDF).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// How inputs are read: the size limit and the PDF reader.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Inputs larger than this many bytes are refused before they are read.
    pub max_bytes: u64,
    pub pdf: PdfReader,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: DEFAULT_MAX_INPUT_BYTES,
            pdf: PdfReader::InProcess,
        }
    }
}

/// How a letter's text was obtained.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    Text,
    Pdf,
}

/// Decides from the name (and, for stdin, the content) whether input is a PDF.
pub fn is_pdf(path: &Path, head: &[u8]) -> bool {
    head.starts_with(b"%PDF")
        || path
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("pdf"))
}

/// Reads a letter file and returns its text.
pub fn read_letter_text(path: &Path, options: &ReadOptions) -> Result<(String, SourceKind)> {
    let max_bytes = options.max_bytes;
    let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
    if meta.is_dir() {
        return Err(Error::Format {
            path: path.into(),
            message: "is a directory".into(),
        });
    }
    if meta.len() > max_bytes {
        return Err(Error::TooLarge {
            path: path.into(),
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    decode_letter_bytes(path, &bytes, &options.pdf)
}

/// Reads all of `reader` (bounded by `max_bytes`) as a letter named `name`.
pub fn read_letter_from(
    name: &Path,
    reader: &mut dyn Read,
    options: &ReadOptions,
) -> Result<(String, SourceKind)> {
    let max_bytes = options.max_bytes;
    let mut bytes = Vec::new();
    reader
        .take(max_bytes + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(name, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::TooLarge {
            path: name.into(),
            size: bytes.len() as u64,
            limit: max_bytes,
        });
    }
    decode_letter_bytes(name, &bytes, &options.pdf)
}

/// Turns raw file bytes into letter text: PDF extraction or text decoding.
pub fn decode_letter_bytes(
    path: &Path,
    bytes: &[u8],
    pdf: &PdfReader,
) -> Result<(String, SourceKind)> {
    if bytes.is_empty() {
        return Err(Error::Empty { path: path.into() });
    }
    if is_pdf(path, &bytes[..bytes.len().min(1024)]) {
        let text = match pdf {
            PdfReader::InProcess => pdf_text(path, bytes),
            PdfReader::Isolated(sandbox) => sandbox.extract(path, bytes),
        };
        return text.map(|t| (t, SourceKind::Pdf));
    }
    decode_text(path, bytes).map(|t| (t, SourceKind::Text))
}

/// Decodes text bytes: UTF-8 (BOM stripped) or UTF-16 with a BOM. Anything else is refused.
pub fn decode_text(path: &Path, bytes: &[u8]) -> Result<String> {
    let text = if let Some(rest) = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]) {
        utf8(path, rest, 3)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFF, 0xFE]) {
        utf16(path, rest, u16::from_le_bytes)?
    } else if let Some(rest) = bytes.strip_prefix(&[0xFE, 0xFF]) {
        utf16(path, rest, u16::from_be_bytes)?
    } else {
        if let Some(offset) = bytes.iter().position(|&b| b == 0) {
            return Err(Error::Binary {
                path: path.into(),
                offset,
            });
        }
        utf8(path, bytes, 0)?
    };
    if text.trim().is_empty() {
        return Err(Error::Empty { path: path.into() });
    }
    Ok(text)
}

fn utf8(path: &Path, bytes: &[u8], skipped: usize) -> Result<String> {
    match std::str::from_utf8(bytes) {
        Ok(s) => Ok(s.to_owned()),
        Err(e) => Err(Error::NotUtf8 {
            path: path.into(),
            offset: skipped + e.valid_up_to(),
        }),
    }
}

fn utf16(path: &Path, bytes: &[u8], unit: fn([u8; 2]) -> u16) -> Result<String> {
    if !bytes.len().is_multiple_of(2) {
        return Err(Error::Format {
            path: path.into(),
            message: "UTF-16 text with an odd number of bytes".into(),
        });
    }
    let units = bytes.chunks_exact(2).map(|c| unit([c[0], c[1]]));
    char::decode_utf16(units)
        .enumerate()
        .map(|(i, r)| {
            r.map_err(|_| Error::Format {
                path: path.into(),
                message: format!("invalid UTF-16 at byte {}", 2 + 2 * i),
            })
        })
        .collect()
}

thread_local! {
    static SILENCE_PANICS: Cell<bool> = const { Cell::new(false) };
}
static INSTALL_HOOK: Once = Once::new();

/// Installs (once) a panic hook that stays quiet while this thread extracts a PDF, so that a
/// malformed file gives one clean error record instead of a backtrace on stderr.
fn install_quiet_hook() {
    INSTALL_HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !SILENCE_PANICS.with(|s| s.get()) {
                previous(info);
            }
        }));
    });
}

/// Extracts the text layer of a PDF, in this process.
pub fn pdf_text(path: &Path, bytes: &[u8]) -> Result<String> {
    extract_pdf(bytes).map_err(|problem| match problem {
        None => Error::PdfNoText { path: path.into() },
        Some(message) => Error::Pdf {
            path: path.into(),
            message,
        },
    })
}

/// The text layer of a PDF; `Err(None)` when it has none, `Err(Some(why))` when it cannot be
/// read. Panics in the extractor are caught and reported quietly.
pub(crate) fn extract_pdf(bytes: &[u8]) -> std::result::Result<String, Option<String>> {
    if bytes.starts_with(b"%PDF") && !bytes.windows(5).any(|w| w == b"%%EOF") {
        return Err(Some("truncated (no %%EOF marker)".into()));
    }
    install_quiet_hook();
    SILENCE_PANICS.with(|s| s.set(true));
    let result = std::panic::catch_unwind(|| pdf_extract::extract_text_from_mem(bytes));
    SILENCE_PANICS.with(|s| s.set(false));
    let text = match result {
        Ok(Ok(text)) => text,
        Ok(Err(e)) => {
            let message = e.to_string();
            let lower = message.to_ascii_lowercase();
            return Err(Some(
                if ["encrypt", "decrypt", "password"]
                    .iter()
                    .any(|w| lower.contains(w))
                {
                    format!("encrypted PDF: needs a password ({message})")
                } else {
                    message
                },
            ));
        }
        Err(panic) => {
            let why = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("unknown cause");
            return Err(Some(format!("malformed PDF ({why})")));
        }
    };
    if text.trim().is_empty() {
        return Err(None);
    }
    Ok(text)
}

/// Expands command-line inputs: files as given, directories to their `.txt`/`.pdf` letters
/// (sorted, recursively), `-` kept as stdin. A `.txt` and a `.pdf` of the same letter in one
/// directory are both kept: they are different inputs.
pub fn expand_inputs(inputs: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" || !input.is_dir() {
            out.push(input.clone());
            continue;
        }
        let mut found = Vec::new();
        walk(input, &mut found)?;
        found.sort();
        out.extend(found);
    }
    Ok(out)
}

fn walk(dir: &Path, found: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            walk(&path, found)?;
        } else if path
            .extension()
            .and_then(|e| e.to_str())
            .is_some_and(|e| e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("pdf"))
        {
            found.push(path);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> &'static Path {
        Path::new("x.txt")
    }

    #[test]
    fn refuses_empty_binary_and_bad_utf8() {
        assert!(matches!(
            decode_letter_bytes(p(), b"", &PdfReader::InProcess),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            decode_text(p(), b"  \n "),
            Err(Error::Empty { .. })
        ));
        assert!(matches!(
            decode_text(p(), b"ab\0cd"),
            Err(Error::Binary { offset: 2, .. })
        ));
        assert!(matches!(
            decode_text(p(), b"caf\xe9 au lait"),
            Err(Error::NotUtf8 { offset: 3, .. })
        ));
    }

    #[test]
    fn decodes_utf16_with_bom() {
        let mut le = vec![0xFF, 0xFE];
        le.extend("Upheld".encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(decode_text(p(), &le).unwrap(), "Upheld");
        let mut be = vec![0xFE, 0xFF];
        be.extend("Overturned".encode_utf16().flat_map(|u| u.to_be_bytes()));
        assert_eq!(decode_text(p(), &be).unwrap(), "Overturned");
    }

    #[test]
    fn truncated_and_garbage_pdfs_are_errors_not_panics() {
        let path = Path::new("bad.pdf");
        assert!(matches!(
            decode_letter_bytes(path, b"%PDF-1.4\n1 0 obj", &PdfReader::InProcess),
            Err(Error::Pdf { .. })
        ));
        assert!(matches!(
            decode_letter_bytes(path, b"%PDF-1.4\ngarbage\n%%EOF", &PdfReader::InProcess),
            Err(Error::Pdf { .. })
        ));
    }
}
