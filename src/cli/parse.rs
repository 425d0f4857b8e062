//! `imr parse`: letters in, one JSON line of structure per letter out.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{display_name, emit, InputArgs, Outcome};
use crate::letter;
use crate::letter::input::read;
use crate::output;
use crate::output::record::LetterRecord;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum ParseFormat {
    /// One JSON object per letter.
    Jsonl,
    /// One row per disputed item (the columns of `predict --format csv`, the model's empty).
    Csv,
}

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Letters: `.txt` or `.pdf` files, directories (searched for both), or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    input: InputArgs,
    #[arg(long, value_enum, default_value_t = ParseFormat::Jsonl)]
    format: ParseFormat,
}

/// Letters are read in parallel in chunks of this many; output keeps input order.
const CHUNK: usize = 64;

pub(crate) fn run(args: ParseArgs) -> anyhow::Result<Outcome> {
    let inputs = letter::source::expand_inputs(&args.files);
    let options = args.input.read_options()?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    // CSV goes through a writer of its own on the same output; a closed pipe ends the run
    // the way it does for `predict --format csv`.
    let mut csv = match args.format {
        ParseFormat::Csv => {
            let mut w = csv::Writer::from_writer(io::BufWriter::new(io::stdout().lock()));
            w.write_record(output::csv::CSV_HEADER)?;
            Some(w)
        }
        ParseFormat::Jsonl => None,
    };
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
            match &mut csv {
                Some(w) => output::csv::write_rows(w, r)?,
                None => emit(&mut out, &r.to_line())?,
            }
        }
        match &mut csv {
            Some(w) => w.flush()?,
            None => out.flush()?,
        }
    }
    Ok(if failed == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}
