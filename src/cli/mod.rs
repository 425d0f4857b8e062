//! The command line: clap-derive commands, each of which only orchestrates library calls.
//!
//! Exit codes: 0 every input succeeded; 1 some inputs failed (each has an error record);
//! 2 usage error, or a model or data set that cannot be used at all.

mod eval;
mod parse;
mod predict;
mod summarize;
mod train;

use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::artifacts::Model;
use crate::decode::rules::RulesOff;
use crate::decode::Decoding;
use crate::letter::sandbox::{DEFAULT_PDF_MEMORY, DEFAULT_PDF_TIMEOUT};
use crate::letter::source::DEFAULT_READ_TIMEOUT;
use crate::letter::{PdfReader, PdfSandbox, ReadOptions, DEFAULT_MAX_INPUT_BYTES};
use crate::predict::Inference;

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
    /// Train a model (tokenizer, entity tagger, decision classifier) on labelled letters
    /// (`CASE.txt` + `CASE.ann`; decisions are read from the letters) into a model directory.
    Train(train::TrainArgs),
    /// Tag entities and predict each disputed item's decision: one JSON line per letter
    /// (or one CSV row per item), using the shipped model unless --model is given.
    Predict(predict::PredictArgs),
    /// Run a model on labelled letters and report entity precision/recall/F1 (strict and
    /// lenient) and decision accuracy, macro-F1, ROC-AUC and confusion beside the majority
    /// baseline.
    Eval(eval::EvalArgs),
    /// Summarize `predict` records (JSONL): overturn rates with 95% Wilson intervals, overall
    /// and by generic drug, treatment kind, guideline, reviewer specialty and year; as text,
    /// CSV, JSON or one HTML page with charts.
    Summarize(summarize::SummarizeArgs),
    /// Internal: the PDF sandbox's child (PDF bytes on stdin, text on stdout).
    #[command(hide = true)]
    PdfText {
        #[arg(long, default_value_t = DEFAULT_MAX_INPUT_BYTES)]
        max_text_bytes: u64,
    },
}

/// How inputs are read: shared by `parse` and `predict`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct InputArgs {
    /// Refuse inputs larger than this many bytes (checked before reading where the size is
    /// known; a pipe, a device or a JSONL line is read up to the limit and refused past it).
    #[arg(long, default_value_t = DEFAULT_MAX_INPUT_BYTES)]
    max_input_bytes: u64,
    /// Give up on a pipe or device given as an input after it sends nothing for this long.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_READ_TIMEOUT.as_secs())]
    read_timeout: u64,
    /// Give up on a PDF after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_PDF_TIMEOUT.as_secs())]
    pdf_timeout: u64,
    /// Memory limit of the PDF reader, in MB.
    #[arg(long, value_name = "MB", default_value_t = DEFAULT_PDF_MEMORY / (1024 * 1024))]
    pdf_memory: u64,
}

impl InputArgs {
    /// PDFs are read in a child process with the limits; text is read here.
    pub(crate) fn read_options(&self) -> anyhow::Result<ReadOptions> {
        let sandbox = PdfSandbox::current_exe(
            std::time::Duration::from_secs(self.pdf_timeout),
            self.pdf_memory.saturating_mul(1024 * 1024),
            self.max_input_bytes,
        )?;
        Ok(ReadOptions {
            max_bytes: self.max_input_bytes,
            read_timeout: std::time::Duration::from_secs(self.read_timeout),
            pdf: PdfReader::Isolated(sandbox),
        })
    }
}

/// How entities are decoded: shared by `predict` and `eval`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct DecodeArgs {
    /// Entity decoding: `full` keeps words whole and never begins or ends a span on a
    /// function word or separator; `rules` (the default) then applies the annotation's rules;
    /// the others are ablations.
    #[arg(long, value_enum, default_value_t = Decoding::default())]
    decode: Decoding,
    /// Switch off passes of the `rules` decoding, comma-separated (all of them: the decoding
    /// is `full`'s; `--help` lists them).
    #[arg(long, value_name = "NAME,...", value_parser = parse_rules_off, long_help = rules_off_help())]
    rules_off: Option<RulesOff>,
}

fn parse_rules_off(s: &str) -> Result<RulesOff, String> {
    RulesOff::parse(s)
}

fn rules_off_help() -> String {
    let mut help = String::from(
        "Switch off passes of the `rules` decoding, comma-separated (with all of them off the \
         decoding is `full`'s). The passes, in the order they run:",
    );
    for p in crate::decode::rules::PASSES.iter().filter(|p| p.switchable) {
        help.push_str(&format!("\n  {:<15} {}", p.name, p.doc));
    }
    help
}

impl DecodeArgs {
    /// `inference` with this decoding.
    pub(crate) fn apply<'a>(&self, inference: Inference<'a>) -> Inference<'a> {
        Inference {
            decoding: self.decode,
            rules_off: self.rules_off.clone().unwrap_or_default(),
            ..inference
        }
    }
}

/// How many threads a command computes on: shared by `predict`, `eval` and `train`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ThreadArgs {
    /// Threads to compute on (default: $RAYON_NUM_THREADS, else every core). The results do
    /// not depend on it.
    #[arg(short = 'j', long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    threads: Option<u16>,
}

impl ThreadArgs {
    /// Sizes rayon's pool and candle's matrix products (which read `RAYON_NUM_THREADS` at
    /// each product) to `--threads`. Called first, before the command starts any thread.
    pub(crate) fn apply(&self) {
        let Some(n) = self.threads else { return };
        std::env::set_var("RAYON_NUM_THREADS", n.to_string());
        // Only fails if the pool already exists, which is a bug caught by the tests.
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build_global()
            .expect("rayon's pool is built once, before any use");
    }
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
        Command::Train(args) => train::run(args),
        Command::Predict(args) => predict::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Summarize(args) => summarize::run(args),
        Command::PdfText { max_text_bytes } => {
            let code = crate::letter::sandbox::child_main(max_text_bytes);
            return ExitCode::from(u8::try_from(code).unwrap_or(1));
        }
    };
    match result {
        Ok(Outcome::AllGood) => ExitCode::SUCCESS,
        Ok(Outcome::SomeFailed) => ExitCode::from(1),
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("imr: error: {}", cause_chain(&e));
            ExitCode::from(2)
        }
    }
}

/// The error and its causes, `: `-separated, each cause left out where the message before it
/// already says it (a library error names its file and repeats its OS error, which is also
/// its source).
fn cause_chain(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if out.contains(&text) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(&text);
    }
    out
}

/// A closed pipe (`imr parse ... | head`) ends the output early; that is not an error.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    let broken = |io: &io::Error| io.kind() == io::ErrorKind::BrokenPipe;
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>().is_some_and(broken)
            || c.downcast_ref::<csv::Error>()
                .is_some_and(|e| match e.kind() {
                    csv::ErrorKind::Io(io) => broken(io),
                    _ => false,
                })
    })
}

/// Name used for an input in records: `-` for stdin, else the path as given, losslessly
/// (`crate::error::escape_path`).
pub(crate) fn display_name(path: &Path) -> String {
    crate::error::escape_path(path)
}

/// Writes one line to stdout, flushing so that lines stream as letters finish.
pub(crate) fn emit(out: &mut impl Write, line: &str) -> io::Result<()> {
    out.write_all(line.as_bytes())?;
    out.write_all(b"\n")
}

/// The model to use: `--model DIR`, else `$IMR_MODEL`, else `models/default` in the current
/// directory (a model retrained in the source tree), else the copy of the default model built
/// into this binary.
pub(crate) fn load_model(given: Option<&Path>) -> anyhow::Result<Model> {
    let dir = given
        .map(Path::to_path_buf)
        .or_else(|| std::env::var_os("IMR_MODEL").map(PathBuf::from))
        .or_else(|| Some(PathBuf::from("models/default")).filter(|p| p.is_dir()));
    Ok(match dir {
        Some(dir) => Model::load(&dir)?,
        None => Model::built_in()?,
    })
}
