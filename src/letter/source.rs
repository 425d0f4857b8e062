//! Reading a letter's text from a `.txt` or `.pdf` file, or from any reader (stdin).
//!
//! Untrusted input: sizes are bounded, binary and non-UTF-8 files are refused with the offending
//! byte, and the PDF extractor (which may panic on malformed files) runs behind `catch_unwind`.

use std::cell::Cell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Once;
use std::time::Duration;

use super::sandbox::PdfReader;
use crate::error::{Error, Result};

/// Default largest input accepted, in bytes (a long letter is ~40 kB of text, ~200 kB of PDF).
pub const DEFAULT_MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;
/// Default time a pipe or device given as an input may send nothing before it is given up.
pub const DEFAULT_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// How inputs are read: the size limit and the PDF reader.
#[derive(Debug, Clone)]
pub struct ReadOptions {
    /// Inputs larger than this many bytes are refused (before they are read, where their size
    /// is known).
    pub max_bytes: u64,
    /// How long a pipe or device may send nothing before it is given up.
    pub read_timeout: Duration,
    pub pdf: PdfReader,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            max_bytes: DEFAULT_MAX_INPUT_BYTES,
            read_timeout: DEFAULT_READ_TIMEOUT,
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
    let bytes = read_bounded(path, options.max_bytes, options.read_timeout)?;
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
        .take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(name, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(Error::TooLargeStream {
            path: name.into(),
            limit: max_bytes,
        });
    }
    decode_letter_bytes(name, &bytes, &options.pdf)
}

/// The bytes of the file at `path`, at most `max_bytes` of them. A regular file is refused by
/// its size before it is read; anything else (a pipe, a device, a file that grows) is read up
/// to the limit and refused past it. The file is opened without blocking, so that a FIFO with
/// no writer cannot hang the batch, and a stream that sends nothing for `timeout` is given up.
pub fn read_bounded(path: &Path, max_bytes: u64, timeout: Duration) -> Result<Vec<u8>> {
    let io_err = |e| Error::io(path, e);
    let file = open_nonblocking(path).map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    if meta.is_dir() {
        return Err(Error::Format {
            path: path.into(),
            message: "is a directory".into(),
        });
    }
    if meta.is_file() && meta.len() > max_bytes {
        return Err(Error::TooLarge {
            path: path.into(),
            size: meta.len(),
            limit: max_bytes,
        });
    }
    let too_large = || Error::TooLargeStream {
        path: path.into(),
        limit: max_bytes,
    };
    let deadline = std::time::Instant::now() + timeout;
    let mut bytes = Vec::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut file = file;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                if (bytes.len() + n) as u64 > max_bytes {
                    return Err(too_large());
                }
                bytes.extend_from_slice(&buf[..n]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                let left = deadline.saturating_duration_since(std::time::Instant::now());
                if left.is_zero() || !wait_readable(&file, left).map_err(io_err)? {
                    return Err(Error::Format {
                        path: path.into(),
                        message: format!(
                            "nothing to read for {} s (a pipe with a stalled writer?)",
                            timeout.as_secs_f64()
                        ),
                    });
                }
            }
            Err(e) => return Err(io_err(e)),
        }
    }
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// Waits until `file` has something to read (or its writer closed it); false on time-out.
#[cfg(unix)]
fn wait_readable(file: &std::fs::File, timeout: Duration) -> std::io::Result<bool> {
    use std::os::unix::io::AsRawFd;
    let mut fd = libc::pollfd {
        fd: file.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    let ms = libc::c_int::try_from(timeout.as_millis().max(1)).unwrap_or(libc::c_int::MAX);
    loop {
        // SAFETY: one valid pollfd for the duration of the call.
        let n = unsafe { libc::poll(&mut fd, 1, ms) };
        if n >= 0 {
            return Ok(n > 0);
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

#[cfg(not(unix))]
fn wait_readable(_: &std::fs::File, _: Duration) -> std::io::Result<bool> {
    Ok(true)
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

/// An input to read, or a place under an input that could not be listed (its error).
pub type Found = std::result::Result<PathBuf, Error>;

/// Whether a file name is that of a letter: `.txt` or `.pdf`, in any case.
pub fn is_letter_name(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("txt") || e.eq_ignore_ascii_case("pdf"))
}

/// Expands command-line inputs: files as given, directories to their `.txt`/`.pdf` letters
/// (sorted, recursively), `-` kept as stdin. A `.txt` and a `.pdf` of the same letter in one
/// directory are both kept: they are different inputs. See [`walk`] for what a walk takes.
pub fn expand_inputs(inputs: &[PathBuf]) -> Vec<Found> {
    let mut out = Vec::new();
    for input in inputs {
        if input.as_os_str() == "-" || !input.is_dir() {
            out.push(Ok(input.clone()));
            continue;
        }
        out.extend(walk(input, is_letter_name));
    }
    out
}

/// The files under `dir` whose names `accept` takes, sorted, and an error for each directory
/// that cannot be listed (the rest are still walked). Like ripgrep without `-L`, a symbolic
/// link to a directory is not followed (so a link loop cannot repeat or hang the walk); a
/// link to a regular file is taken. Anything that is not a regular file (a FIFO, a socket, a
/// device) is passed over: reading it could block or never end.
pub fn walk(dir: &Path, accept: fn(&Path) -> bool) -> Vec<Found> {
    let mut found: Vec<(PathBuf, Option<Error>)> = Vec::new();
    walk_into(dir, accept, &mut found);
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found
        .into_iter()
        .map(|(p, e)| match e {
            None => Ok(p),
            Some(e) => Err(e),
        })
        .collect()
}

fn walk_into(dir: &Path, accept: fn(&Path) -> bool, found: &mut Vec<(PathBuf, Option<Error>)>) {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            found.push((dir.to_path_buf(), Some(Error::io(dir, e))));
            return;
        }
    };
    for entry in entries {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                found.push((dir.to_path_buf(), Some(Error::io(dir, e))));
                continue;
            }
        };
        let path = entry.path();
        // The entry's own type: a symbolic link is not followed here.
        let kind = match entry.file_type() {
            Ok(kind) => kind,
            Err(e) => {
                found.push((path.clone(), Some(Error::io(&path, e))));
                continue;
            }
        };
        if kind.is_dir() {
            walk_into(&path, accept, found);
        } else if accept(&path) {
            let regular = kind.is_file()
                || (kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_file()));
            if regular {
                found.push((path, None));
            }
        }
    }
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
    fn reads_are_bounded_whatever_the_file_says_its_size_is() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("a.txt");
        std::fs::write(&f, b"0123456789").unwrap();
        let t = DEFAULT_READ_TIMEOUT;
        assert_eq!(read_bounded(&f, 10, t).unwrap(), b"0123456789");
        assert!(matches!(
            read_bounded(&f, 9, t),
            Err(Error::TooLarge {
                size: 10,
                limit: 9,
                ..
            })
        ));
        // A device's size is 0: the limit holds all the same.
        if Path::new("/dev/zero").exists() {
            assert!(matches!(
                read_bounded(Path::new("/dev/zero"), 1000, t),
                Err(Error::TooLargeStream { limit: 1000, .. })
            ));
        }
        assert!(matches!(
            read_bounded(dir.path(), 1000, t),
            Err(Error::Format { .. })
        ));
        // The largest limit does not overflow.
        let max = ReadOptions {
            max_bytes: u64::MAX,
            ..ReadOptions::default()
        };
        let mut text: &[u8] = b"Dear applicant";
        assert!(read_letter_from(Path::new("-"), &mut text, &max).is_ok());
    }

    #[cfg(unix)]
    #[test]
    fn a_walk_does_not_follow_links_to_folders_and_reports_what_it_cannot_list() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("sub")).unwrap();
        std::fs::write(d.join("sub/a.txt"), b"x").unwrap();
        std::fs::write(d.join("b.PDF"), b"x").unwrap();
        std::fs::write(d.join("notes.md"), b"x").unwrap();
        std::os::unix::fs::symlink(".", d.join("sub/loop")).unwrap();
        std::os::unix::fs::symlink("sub/a.txt", d.join("c.txt")).unwrap();
        std::os::unix::fs::symlink("nowhere.txt", d.join("dangling.txt")).unwrap();
        let found: Vec<PathBuf> = walk(d, is_letter_name)
            .into_iter()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            found,
            [d.join("b.PDF"), d.join("c.txt"), d.join("sub/a.txt")]
        );
        let missing = walk(&d.join("missing"), is_letter_name);
        assert!(matches!(missing.as_slice(), [Err(Error::Io { .. })]));
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
