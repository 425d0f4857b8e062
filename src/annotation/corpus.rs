//! Labelled letters: a letter's `.txt` with its gold `.ann` beside it. This is what `train` and
//! `eval` read; the stated decisions come from the letters themselves.

use std::path::{Path, PathBuf};

use crate::annotation::{brat, jsonl, EntitySpan};
use crate::error::{Error, Result};
use crate::letter::Letter;

/// A letter with its entity gold.
#[derive(Debug, Clone)]
pub struct LabelledLetter {
    pub letter: Letter,
    pub entities: Vec<EntitySpan>,
}

impl LabelledLetter {
    /// Reads `CASE.txt` and its `CASE.ann`.
    pub fn read(txt: &Path) -> Result<LabelledLetter> {
        let letter = Letter::read(txt)?;
        let ann = txt.with_extension("ann");
        let mut entities = brat::load(&ann, &letter.text)?;
        entities.sort();
        Ok(LabelledLetter { letter, entities })
    }

    /// A short name for reports: the file stem.
    pub fn name(&self) -> String {
        self.letter.path.file_stem().map_or_else(
            || self.letter.path.display().to_string(),
            |s| s.to_string_lossy().into_owned(),
        )
    }
}

/// The letters found under some paths: those with their `.ann` beside them, and the `.txt`
/// files without one.
#[derive(Debug, Default)]
pub struct Found {
    pub labelled: Vec<PathBuf>,
    pub unlabelled: Vec<PathBuf>,
    /// Prodigy/doccano JSONL files (`.jsonl`), each line a letter with its spans.
    pub documents: Vec<PathBuf>,
}

fn is_txt(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "txt")
}

/// Lists the letters under `paths`: directories are searched for `.txt` files (the walk of
/// `letter::source::walk`: symbolic links to directories are not followed), files are taken as
/// given (their `.ann` must exist). Sorted for reproducibility. A directory that cannot be
/// listed is an error: training or scoring on a silently shrunken corpus is worse than not
/// running.
pub fn find(paths: &[PathBuf]) -> Result<Found> {
    let mut found = Found::default();
    let mut errors = Vec::new();
    for p in paths {
        if p.is_dir() {
            for f in crate::letter::source::walk(p, is_txt) {
                match f {
                    Ok(txt) if txt.with_extension("ann").exists() => found.labelled.push(txt),
                    Ok(txt) => found.unlabelled.push(txt),
                    Err(e) => errors.push(e),
                }
            }
        } else if p.extension().is_some_and(|e| e == "jsonl") && p.exists() {
            found.documents.push(p.clone());
        } else if p.exists() {
            found.labelled.push(p.with_extension("txt"));
        } else {
            errors.push(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            ));
        }
    }
    match errors.len() {
        0 => Ok(found),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}

/// The letters of a Prodigy/doccano JSONL file: each line's text read as a letter (named by
/// its `file`, else `FILE.jsonl:LINE`) with its spans as the gold.
pub fn documents(path: &Path) -> Result<Vec<LabelledLetter>> {
    let docs = jsonl::load(path)?;
    let mut out = Vec::with_capacity(docs.len());
    for (i, doc) in docs.into_iter().enumerate() {
        let name = doc.file.clone().map_or_else(
            || PathBuf::from(format!("{}:{}", path.display(), i + 1)),
            PathBuf::from,
        );
        let letter = Letter::from_text(name, doc.text).map_err(|e| Error::Annotation {
            path: path.into(),
            line: i + 1,
            message: format!("not a letter: {e}"),
        })?;
        let mut entities = doc.spans;
        entities.sort();
        out.push(LabelledLetter { letter, entities });
    }
    Ok(out)
}

/// Reads every labelled letter under `paths`; a `.txt` without its `.ann` is refused (every
/// such file is named), since a letter left out in silence shrinks the corpus unseen.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LabelledLetter>> {
    let found = find(paths)?;
    if !found.unlabelled.is_empty() {
        let mut errors: Vec<Error> = found
            .unlabelled
            .iter()
            .map(|txt| Error::Format {
                path: txt.clone(),
                message: format!(
                    "no {} beside it (pass --allow-unlabelled to leave such letters out)",
                    txt.with_extension("ann")
                        .file_name()
                        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
                ),
            })
            .collect();
        return Err(if errors.len() == 1 {
            errors.remove(0)
        } else {
            Error::Many(errors)
        });
    }
    read_all(&found)
}

/// Reads the labelled letters under `paths`, leaving out the `.txt` files without an `.ann`;
/// returns how many were left out.
pub fn load_allowing_unlabelled(paths: &[PathBuf]) -> Result<(Vec<LabelledLetter>, usize)> {
    let found = find(paths)?;
    Ok((read_all(&found)?, found.unlabelled.len()))
}

/// Reads each letter; any bad one fails the load, and the error lists every bad file and what
/// is wrong with it, so that one run finds them all.
fn read_all(found: &Found) -> Result<Vec<LabelledLetter>> {
    let mut letters = Vec::new();
    let mut errors = Vec::new();
    for p in &found.labelled {
        match LabelledLetter::read(p) {
            Ok(l) => letters.push(l),
            Err(e) => errors.push(e),
        }
    }
    for p in &found.documents {
        match documents(p) {
            Ok(mut ls) => letters.append(&mut ls),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(letters),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}
