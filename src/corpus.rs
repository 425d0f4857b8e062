//! Labelled letters: a letter's `.txt` with its gold `.ann` beside it. This is what `train` and
//! `eval` read; the stated decisions come from the letters themselves.

use std::path::{Path, PathBuf};

use crate::annotation::{brat, EntitySpan};
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

/// Lists the labelled letters under `paths` (directories are searched for `.txt` files that
/// have an `.ann` beside them; files are taken as given), sorted for reproducibility.
pub fn find_labelled(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut found = Vec::new();
            collect(p, &mut found)?;
            found.sort();
            out.extend(found);
        } else if p.exists() {
            out.push(p.with_extension("txt"));
        } else {
            return Err(Error::io(
                p,
                std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or directory"),
            ));
        }
    }
    Ok(out)
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in std::fs::read_dir(dir).map_err(|e| Error::io(dir, e))? {
        let path = entry.map_err(|e| Error::io(dir, e))?.path();
        if path.is_dir() {
            collect(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "txt")
            && path.with_extension("ann").exists()
        {
            out.push(path);
        }
    }
    Ok(())
}

/// Reads every labelled letter under `paths`. Any bad one fails the load, since training or
/// scoring on a silently shrunken corpus is worse than not running; the error lists every bad
/// file and what is wrong with it, so that one run finds them all.
pub fn load(paths: &[PathBuf]) -> Result<Vec<LabelledLetter>> {
    let mut letters = Vec::new();
    let mut errors = Vec::new();
    for p in find_labelled(paths)? {
        match LabelledLetter::read(&p) {
            Ok(l) => letters.push(l),
            Err(e) => errors.push(e),
        }
    }
    match errors.len() {
        0 => Ok(letters),
        1 => Err(errors.remove(0)),
        _ => Err(Error::Many(errors)),
    }
}
