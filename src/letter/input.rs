//! The inputs of a batch: letter files, and letters given inline as JSONL lines
//! (`{"file": NAME, "text": TEXT, ...}`), read lazily and bounded.

use std::io;
use std::path::{Path, PathBuf};

use super::{Letter, ReadOptions};
use crate::error::escape_path;

/// Reads a letter from a file, or from stdin for `-`.
pub fn read(path: &Path, options: &ReadOptions) -> crate::Result<Letter> {
    if path.as_os_str() == "-" {
        let (text, kind) = super::source::read_letter_from(path, &mut io::stdin().lock(), options)?;
        super::parse_letter(path, text, kind)
    } else {
        Letter::read_with(path, options)
    }
}

/// One input letter: a file to read, or a letter's text given inline (`--input-format jsonl`,
/// with the input line's other fields), or an input that could not be understood.
pub enum Input {
    Path {
        path: PathBuf,
        name: String,
    },
    Inline {
        name: String,
        text: String,
        meta: Option<serde_json::Map<String, serde_json::Value>>,
    },
    Bad {
        name: String,
        error: String,
    },
}

impl Input {
    /// The name its record carries in `file`.
    pub fn name(&self) -> &str {
        match self {
            Input::Path { name, .. } | Input::Inline { name, .. } | Input::Bad { name, .. } => name,
        }
    }

    /// The letter, or the message its record carries in `error`.
    pub fn read(&self, options: &ReadOptions) -> Result<Letter, String> {
        match self {
            Input::Path { path, .. } => read(path, options).map_err(|e| e.to_string()),
            Input::Inline { name, text, .. } => {
                Letter::from_text(name.as_str(), text.clone()).map_err(|e| e.to_string())
            }
            Input::Bad { error, .. } => Err(error.clone()),
        }
    }

    pub fn meta(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        match self {
            Input::Inline { meta, .. } => meta.as_ref(),
            _ => None,
        }
    }
}

/// The lines of JSONL files (`-` for stdin), read lazily: each `{"text": ..., "file": ...}`
/// (`file`, else `id`, names the record; else `SOURCE:LINE`). A line longer than `max_bytes`
/// is an error record, skipped without being held in memory.
pub fn jsonl_inputs(sources: Vec<PathBuf>, max_bytes: u64) -> impl Iterator<Item = Input> {
    use std::io::BufRead;
    sources.into_iter().flat_map(move |source| {
        let label = escape_path(&source);
        let reader: Result<Box<dyn BufRead + Send>, String> = if source.as_os_str() == "-" {
            Ok(Box::new(io::BufReader::new(io::stdin())))
        } else {
            std::fs::File::open(&source)
                .map(|f| Box::new(io::BufReader::new(f)) as Box<dyn BufRead + Send>)
                .map_err(|e| format!("{label}: {e}"))
        };
        let lines: Box<dyn Iterator<Item = Input> + Send> = match reader {
            Err(error) => Box::new(std::iter::once(Input::Bad {
                name: label.clone(),
                error,
            })),
            Ok(mut r) => {
                let (mut line_no, mut ended) = (0, false);
                Box::new(std::iter::from_fn(move || {
                    while !ended {
                        line_no += 1;
                        let at = format!("{label}:{line_no}");
                        match lines::next(&mut r, max_bytes) {
                            Ok(None) => ended = true,
                            Ok(Some(lines::Line::Text(bytes))) => {
                                if !bytes.iter().all(u8::is_ascii_whitespace) {
                                    return Some(jsonl_input(&at, &bytes));
                                }
                            }
                            Ok(Some(lines::Line::TooLong)) => {
                                return Some(Input::Bad {
                                    error: format!(
                                        "{at}: line over the input limit of {max_bytes} bytes"
                                    ),
                                    name: at,
                                })
                            }
                            Err(e) => {
                                // A read error would repeat forever: it ends this source.
                                ended = true;
                                return Some(Input::Bad {
                                    error: format!("{at}: {e}"),
                                    name: at,
                                });
                            }
                        }
                    }
                    None
                }))
            }
        };
        lines
    })
}

fn jsonl_input(at: &str, line: &[u8]) -> Input {
    let bad = |error: String| Input::Bad {
        name: at.to_string(),
        error: format!("{at}: {error}"),
    };
    let v: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return bad(format!("not a JSON object: {e}")),
    };
    let serde_json::Value::Object(mut fields) = v else {
        return bad("not a JSON object".into());
    };
    let key = ["file", "id"].into_iter().find(|k| {
        matches!(
            fields.get(*k),
            Some(serde_json::Value::String(_) | serde_json::Value::Number(_))
        )
    });
    let name = match key.and_then(|k| fields.remove(k)) {
        Some(serde_json::Value::String(s)) => s,
        Some(n) => n.to_string(),
        None => at.to_string(),
    };
    match fields.remove("text") {
        Some(serde_json::Value::String(text)) => Input::Inline {
            name,
            text,
            meta: (!fields.is_empty()).then_some(fields),
        },
        _ => Input::Bad {
            error: format!("{at}: no \"text\" string"),
            name,
        },
    }
}

/// Reading lines with a bound on their length.
pub mod lines {
    use std::io::{self, BufRead};

    pub enum Line {
        /// The line's bytes, without its newline.
        Text(Vec<u8>),
        /// Longer than the bound: read through and dropped.
        TooLong,
    }

    /// The next line of `r`, holding at most `max` bytes of it: a longer one is consumed to
    /// its end (an endless one to the end of input) without being kept.
    pub fn next(r: &mut dyn BufRead, max: u64) -> io::Result<Option<Line>> {
        let mut line = Vec::new();
        let (mut seen, mut too_long) = (false, false);
        loop {
            let chunk = match r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            seen = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            if !too_long {
                if (line.len() + part.len()) as u64 > max {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(part);
                }
            }
            let used = newline.map_or(chunk.len(), |i| i + 1);
            r.consume(used);
            if newline.is_some() {
                break;
            }
        }
        let line = if too_long {
            Line::TooLong
        } else {
            Line::Text(line)
        };
        Ok(seen.then_some(line))
    }

    #[cfg(test)]
    mod tests {
        use super::{next, Line};

        fn all(input: &[u8], max: u64) -> Vec<Option<Vec<u8>>> {
            // A small buffer, so that lines cross the reader's refills.
            let mut r = std::io::BufReader::with_capacity(4, input);
            let mut out = Vec::new();
            while let Some(line) = next(&mut r, max).unwrap() {
                out.push(match line {
                    Line::Text(t) => Some(t),
                    Line::TooLong => None,
                });
            }
            out
        }

        #[test]
        fn lines_longer_than_the_bound_are_dropped_whole() {
            let got = all(b"ab\nabcdefghij\n\nxyz", 5);
            assert_eq!(
                got,
                [
                    Some(b"ab".to_vec()),
                    None,
                    Some(vec![]),
                    Some(b"xyz".to_vec())
                ]
            );
            // Exactly at the bound is kept; an endless line is one dropped line.
            assert_eq!(all(b"abcde\n", 5), [Some(b"abcde".to_vec())]);
            assert_eq!(all(&[b'x'; 1000], 5), [None]);
            assert!(all(b"", 5).is_empty());
        }
    }
}
