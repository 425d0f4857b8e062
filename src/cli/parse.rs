//! `imr parse`: letters in, one JSON line of structure per letter out.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;

use super::{display_name, emit, InputArgs, Outcome};
use crate::letter;
use crate::letter::input::read;
use crate::output::record::LetterRecord;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Letters: `.txt` or `.pdf` files, directories (searched for both), or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    input: InputArgs,
}

/// Letters are read in parallel in chunks of this many; output keeps input order.
const CHUNK: usize = 64;

pub(crate) fn run(args: ParseArgs) -> anyhow::Result<Outcome> {
    let inputs = letter::source::expand_inputs(&args.files);
    let options = args.input.read_options()?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let mut failed = 0usize;
    for chunk in inputs.chunks(CHUNK) {
        let records: Vec<LetterRecord> = chunk
            .par_iter()
            .map(|found| match found {
                Ok(path) => {
                    let name = display_name(path);
                    match read(path, &options) {
                        Ok(l) => LetterRecord::from_letter(&name, &l),
                        Err(e) => LetterRecord::failed(&name, e.to_string()),
                    }
                }
                Err(e) => LetterRecord::failed(
                    &e.path().map_or_else(String::new, display_name),
                    e.to_string(),
                ),
            })
            .collect();
        for r in &records {
            failed += usize::from(r.error.is_some());
            emit(&mut out, &r.to_line())?;
        }
        out.flush()?;
    }
    Ok(if failed == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}
