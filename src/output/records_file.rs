//! The file `predict -o` writes: never one of the inputs, one writer at a time (an advisory
//! lock), and picked up where an interrupted run left it (`--resume`).

use std::collections::HashSet;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use crate::error::{escape_path, Error, Result};

/// `-o FILE` must not be one of the inputs (a letter named, a letter found in a folder, or a
/// JSONL input): writing the records would destroy it. Compared by file identity, so that
/// another spelling of the same path is caught too.
pub fn refuse_output_among_inputs<'a>(
    out: &Path,
    inputs: impl Iterator<Item = &'a PathBuf>,
) -> Result<()> {
    let Ok(out_meta) = std::fs::metadata(out) else {
        return Ok(()); // not there yet: it cannot be an input
    };
    for input in inputs {
        if input.as_os_str() == "-" {
            continue;
        }
        if let Ok(meta) = std::fs::metadata(input) {
            if same_file(&meta, &out_meta) {
                return Err(Error::Format {
                    path: out.into(),
                    message: format!(
                        "is also an input ({}); refusing to overwrite it with the records",
                        escape_path(input)
                    ),
                });
            }
        }
    }
    Ok(())
}

#[cfg(unix)]
fn same_file(a: &std::fs::Metadata, b: &std::fs::Metadata) -> bool {
    use std::os::unix::fs::MetadataExt;
    (a.dev(), a.ino()) == (b.dev(), b.ino())
}

#[cfg(not(unix))]
fn same_file(_: &std::fs::Metadata, _: &std::fs::Metadata) -> bool {
    false
}

/// Takes the advisory lock of `file` (opened on `path`) or says who holds it.
pub fn lock(file: &File, path: &Path) -> Result<()> {
    match file.try_lock() {
        Ok(()) => Ok(()),
        Err(std::fs::TryLockError::WouldBlock) => Err(Error::Format {
            path: path.into(),
            message: "another imr predict is writing to it; refusing a second writer".into(),
        }),
        Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, e)),
    }
}

/// Opens `path` for the records, emptied, once the lock is ours: a second run with the same
/// `-o` is refused before it empties the first one's file.
pub fn create_locked(path: &Path) -> Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    lock(&file, path)?;
    if is_regular(&file) {
        file.set_len(0).map_err(|e| Error::io(path, e))?;
    }
    Ok(file)
}

/// A regular file (not `/dev/stdout`, a pipe or a device), which can be emptied and synced.
pub fn is_regular(file: &File) -> bool {
    file.metadata().is_ok_and(|m| m.is_file())
}

pub struct Done {
    /// The `file` of every complete line.
    pub files: HashSet<String>,
    /// The output, positioned after its last complete line.
    pub file: File,
    /// Bytes of an unfinished last line that were cut off.
    pub dropped_bytes: u64,
}

/// The fields of a predict record (`record::LetterRecord`).
const FIELDS: [&str; 15] = [
    "file",
    "source",
    "case_number",
    "date_assigned",
    "date_of_injury",
    "decision_date",
    "ur_denial_date",
    "application_received",
    "priority",
    "reviewer_specialty",
    "case_summary_span",
    "items",
    "entities",
    "error",
    "meta",
];

/// The `file` of a line if it is a predict record: only the record's fields, a `file`
/// string, `items` and `error`, and the model's `entities` unless the letter failed. A
/// `parse` record or an input line is not one.
pub fn record_name(line: &str) -> Option<String> {
    let serde_json::Value::Object(v) = serde_json::from_str(line).ok()? else {
        return None;
    };
    let shaped = v.keys().all(|k| FIELDS.contains(&k.as_str()))
        && v.get("items").is_some_and(|i| i.is_array())
        && match v.get("error")? {
            serde_json::Value::Null => v.get("entities").is_some_and(|e| e.is_array()),
            serde_json::Value::String(_) => true,
            _ => false,
        };
    shaped.then(|| v.get("file")?.as_str().map(str::to_string))?
}

/// How every record line begins (`LetterRecord` serializes `file` first).
const RECORD_START: &str = "{\"file\":";

/// Opens (or creates) `path` for appending after its last complete record, and lists the
/// letters it already holds. Only a last line without its newline that begins as a record
/// does is taken as cut by the interruption: it is dropped and its letter predicted again.
/// A complete line that is not a predict record means the file is not ours: refused,
/// untouched.
pub fn resume(path: &Path) -> Result<Done> {
    let io_err = |e| Error::io(path, e);
    let not_ours = |line: usize| Error::Line {
        path: path.into(),
        line,
        message: "not a predict record; refusing to resume into it".into(),
    };
    let mut file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map_err(io_err)?;
    lock(&file, path)?;
    let mut files = HashSet::new();
    let mut good_end = 0u64;
    let mut reader = BufReader::new(&mut file);
    let mut line = String::new();
    let mut lineno = 0;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(io_err)?;
        if n == 0 {
            break;
        }
        lineno += 1;
        match line.strip_suffix('\n') {
            Some(complete) => match record_name(complete) {
                Some(file) => {
                    files.insert(file);
                    good_end += n as u64;
                }
                None => return Err(not_ours(lineno)),
            },
            None => {
                let cut = line.starts_with(RECORD_START) || RECORD_START.starts_with(&line);
                if !cut {
                    return Err(not_ours(lineno));
                }
                break;
            }
        }
    }
    let len = file.metadata().map_err(io_err)?.len();
    file.set_len(good_end).map_err(io_err)?;
    file.seek(SeekFrom::Start(good_end)).map_err(io_err)?;
    Ok(Done {
        files,
        file,
        dropped_bytes: len - good_end,
    })
}

#[cfg(test)]
mod tests {
    use super::record_name;

    #[test]
    fn only_predict_records_count_as_done() {
        let ok = r#"{"file":"a.txt","items":[],"entities":[],"error":null}"#;
        assert_eq!(record_name(ok).as_deref(), Some("a.txt"));
        let failed = r#"{"file":"b.txt","items":[],"error":"b.txt: empty file"}"#;
        assert_eq!(record_name(failed).as_deref(), Some("b.txt"));
        // A parse record has no entities; an input line has a text.
        let parsed = r#"{"file":"a.txt","items":[],"error":null}"#;
        assert_eq!(record_name(parsed), None);
        let input = r#"{"file":"a.txt","text":"Dear ..."}"#;
        assert_eq!(record_name(input), None);
        assert_eq!(record_name(r#"{"file":3,"items":[],"error":"x"}"#), None);
        assert_eq!(record_name("[1, 2]"), None);
    }
}
