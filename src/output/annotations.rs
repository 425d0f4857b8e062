//! Predictions as annotations, to pre-annotate new letters: BRAT (`NAME.txt` with `NAME.ann`
//! beside it, what `train` reads) and Prodigy/doccano JSONL (`{"file", "text", "spans"}`, what
//! `train` also reads). Offsets are characters of the letter text in both.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use super::record::LetterRecord;
use crate::annotation::jsonl::Document;
use crate::annotation::{brat, EntitySpan};
use crate::error::{Error, Result};

/// The predicted entities of a record as gold-style spans (none for a failed input).
fn spans(r: &LetterRecord) -> Vec<EntitySpan> {
    r.entities
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .map(|e| EntitySpan::new(e.label, crate::Span::new(e.start, e.end)))
        .collect()
}

/// The Prodigy/doccano line of a predicted letter (`None` for a failed input).
pub fn prodigy_line(r: &LetterRecord) -> Option<String> {
    let text = r.text.clone()?;
    Some(
        Document {
            file: Some(r.file.clone()),
            text,
            spans: spans(r),
        }
        .to_line(),
    )
}

/// Writes each predicted letter as `NAME.txt` and `NAME.ann` into a folder of its own making:
/// a name already used in this run gets `-2`, `-3`, ...; an existing file is never replaced.
#[derive(Debug)]
pub struct BratFolder {
    dir: PathBuf,
    used: HashSet<String>,
}

impl BratFolder {
    /// Creates `dir` (it must not exist, or be an empty folder).
    pub fn create(dir: &Path) -> Result<BratFolder> {
        if dir.exists() {
            let empty = std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .next()
                .is_none();
            if !dir.is_dir() || !empty {
                return Err(Error::Format {
                    path: dir.into(),
                    message: "exists and is not an empty folder; --format brat writes a new one"
                        .into(),
                });
            }
        } else {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        Ok(BratFolder {
            dir: dir.into(),
            used: HashSet::new(),
        })
    }

    /// Writes one record's letter and entities; returns the `.txt` written (`None` for a failed
    /// input).
    pub fn write(&mut self, r: &LetterRecord) -> Result<Option<PathBuf>> {
        let Some(text) = &r.text else {
            return Ok(None);
        };
        let stem: String = Path::new(&r.file)
            .file_stem()
            .map_or_else(|| "letter".into(), |s| s.to_string_lossy().into_owned())
            .chars()
            .map(|c| {
                if c.is_alphanumeric() || "-_.".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        let mut name = stem.clone();
        let mut k = 1;
        while !self.used.insert(name.clone()) {
            k += 1;
            name = format!("{stem}-{k}");
        }
        let txt = self.dir.join(format!("{name}.txt"));
        let ann = self.dir.join(format!("{name}.ann"));
        for (path, content) in [(&txt, text.clone()), (&ann, brat::write(&spans(r), text))] {
            let mut f = OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(path)
                .map_err(|e| Error::io(path, e))?;
            f.write_all(content.as_bytes())
                .map_err(|e| Error::io(path, e))?;
        }
        Ok(Some(txt))
    }
}
