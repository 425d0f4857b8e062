//! `imr parse`: letters in, one JSON line of structure per letter out.

use std::io::{self, Write};
use std::path::PathBuf;

use clap::Args;
use rayon::prelude::*;

use super::predict::OutputFormat;
use super::{display_name, emit, InputArgs, Outcome};
use crate::letter;
use crate::letter::input::read;
use crate::output;
use crate::output::record::LetterRecord;

#[derive(Debug, Args)]
pub struct ParseArgs {
    /// Letters: `.txt` or `.pdf` files, directories (searched for both), or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[command(flatten)]
    input: InputArgs,
    /// How the records are printed: one JSON line per letter, or one CSV row per disputed
    /// item (the columns of `predict --format csv`, the model's left empty).
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    format: OutputFormat,
}

/// Letters are read in parallel in chunks of this many; output keeps input order.
const CHUNK: usize = 64;

pub(crate) fn run(args: ParseArgs) -> anyhow::Result<Outcome> {
    let inputs = letter::source::expand_inputs(&args.files);
    let options = args.input.read_options()?;
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let csv = matches!(args.format, OutputFormat::Csv);
    if csv {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(output::csv::CSV_HEADER)?;
        emit_csv(&mut out, w)?;
    }
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
            if csv {
                let mut w = csv::Writer::from_writer(Vec::new());
                output::csv::write_rows(&mut w, r)?;
                emit_csv(&mut out, w)?;
            } else {
                emit(&mut out, &r.to_line())?;
            }
        }
        out.flush()?;
    }
    Ok(if failed == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}

/// Moves what the CSV writer holds to the output (a closed pipe ends the run quietly, as
/// `emit` does for JSON lines).
fn emit_csv(out: &mut impl Write, w: csv::Writer<Vec<u8>>) -> anyhow::Result<()> {
    let bytes = w
        .into_inner()
        .map_err(|e| anyhow::anyhow!("{}", e.error()))?;
    let text = String::from_utf8(bytes).expect("CSV of strings is UTF-8");
    if let Some(line) = text.strip_suffix('\n') {
        emit(out, line)?;
    } else if !text.is_empty() {
        emit(out, &text)?;
    }
    Ok(())
}
