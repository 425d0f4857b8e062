//! The command line: clap-derive commands, each of which only orchestrates library calls.
//!
//! Exit codes: 0 every input succeeded; 1 some inputs failed (each has an error record);
//! 2 usage error, or a model or data set that cannot be used at all.

mod parse;

use std::io::{self, Write};
use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Read California workers' compensation IMR determination letters: find their disputed
/// items, tag drugs, doses, quantities, diagnoses and guideline pages, and predict each item's
/// decision (Upheld / Overturned).
#[derive(Debug, Parser)]
#[command(name = "imr", version, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Parse letters into structure (header, case summary, disputed items with their stated
    /// decisions, guideline citations and rationales) without any model: one JSON line per
    /// letter, spans in characters of the letter text.
    Parse(parse::ParseArgs),
}

/// Outcome of a batch command.
pub(crate) enum Outcome {
    AllGood,
    SomeFailed,
}

pub fn run() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Parse(args) => parse::run(args),
    };
    match result {
        Ok(Outcome::AllGood) => ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imr: error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// A closed pipe (`imr parse ... | head`) ends the output early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// Name used for an input in records: `-` for stdin, else the path as given.
pub(crate) fn display_name(path: &Path) -> String {
    path.display().to_string()
}

/// Writes one line to stdout, flushing so that lines stream as letters finish.
pub(crate) fn emit(out: &mut impl Write, line: &str) -> io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}
