//! `imr predict`: letters in, one JSON line per letter (or one CSV row per disputed item) out.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{display_name, emit, load_model, DecodeArgs, InputArgs, Outcome, ThreadArgs};
use crate::artifacts::Model;
use crate::letter::input::{self, Input};
use crate::letter::{self, Letter, ReadOptions};
use crate::normalize::Normalizer;
use crate::output::record::LetterRecord;
use crate::output::{self, records_file};
use crate::predict::Inference;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per letter.
    Jsonl,
    /// One row per disputed item, for spreadsheets.
    Csv,
    /// Pre-annotation for Prodigy or doccano: one `{"file", "text", "spans"}` line per letter.
    Prodigy,
    /// One self-contained HTML page of the letters, entities highlighted by label, each item
    /// with its decisions and probability.
    Html,
    /// Pre-annotation for BRAT: `-o DIR` (new, or an empty folder) gets `NAME.txt` and
    /// `NAME.ann` per letter, which `train` and `eval` read back.
    Brat,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum InputFormat {
    Files,
    Jsonl,
}

#[derive(Debug, Args)]
pub struct PredictArgs {
    /// Letters: `.txt` or `.pdf` files, directories (searched for both), or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Model directory (default: $IMR_MODEL, else models/default).
    #[arg(long)]
    model: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = OutputFormat::Jsonl)]
    format: OutputFormat,
    #[command(flatten)]
    input: InputArgs,
    #[command(flatten)]
    decoding: DecodeArgs,
    #[command(flatten)]
    threads: ThreadArgs,
    /// Write the records to FILE instead of stdout; each chunk of letters is on disk before
    /// the next is read.
    #[arg(long, short = 'o', value_name = "FILE")]
    output: Option<PathBuf>,
    /// Audit: keep only the items whose predicted decision contradicts the letter's stated
    /// decision (letters worth a second look); letters without such an item are left out.
    #[arg(long)]
    disagreements: bool,
    /// `files`: FILES are letters (`.txt`, `.pdf`, directories). `jsonl`: FILES are JSONL
    /// files (`-` for stdin), one letter per line as `{"file": NAME, "text": TEXT}`, read as
    /// they come: `imr predict --input-format jsonl -` is a filter for a pipeline stage.
    #[arg(long, value_enum, default_value_t = InputFormat::Files)]
    input_format: InputFormat,
    /// Predict each letter alone as soon as it is read, and write and flush its record before
    /// reading the next: for a co-process that sends several lines at once and wants each
    /// answer as it is done (`--input-format jsonl -` otherwise predicts whatever has arrived
    /// together, up to 32 letters, and answers them together). Slower on many letters.
    #[arg(long)]
    flush_each: bool,
    /// With --output: keep the letters already in FILE (matched by their `file` name, so
    /// give the same inputs) and predict only the others.
    #[arg(long, requires = "output")]
    resume: bool,
}

enum Sink<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
    Prodigy(W),
    Html(W),
    Brat(output::annotations::BratFolder),
}

/// Letters read and predicted together at most; output keeps input order.
const CHUNK: usize = 32;

/// Reads, parses and predicts a chunk of inputs; each input gets a record, failed or not,
/// with the words of its letter (for the progress bar).
fn predict_chunk(
    model: &Model,
    inputs: Vec<Input>,
    options: &ReadOptions,
    decoding: &DecodeArgs,
) -> Vec<(LetterRecord, usize)> {
    let letters: Vec<Result<Letter, String>> = inputs.par_iter().map(|i| i.read(options)).collect();
    let ok: Vec<&Letter> = letters.iter().filter_map(|l| l.as_ref().ok()).collect();
    let inference = decoding.apply(Inference::of(model));
    let mut predictions = inference.predict_on_cores(&ok).into_iter();
    // Records (normalisation included) are built on all cores, in input order.
    let paired: Vec<_> = inputs
        .iter()
        .zip(letters)
        .map(|(input, letter)| {
            let p = letter.is_ok().then(|| {
                predictions
                    .next()
                    .expect("one prediction per parsed letter")
            });
            (input, letter, p)
        })
        .collect();
    paired
        .into_par_iter()
        .map(|(input, letter, prediction)| {
            let name = input.name();
            let (mut r, words) = match (letter, prediction) {
                (Err(e), _) => (LetterRecord::failed(name, e), 0),
                (Ok(l), Some(Ok(p))) => (
                    LetterRecord::predicted(name, &l, &p, Normalizer::built_in()),
                    l.text.split_whitespace().count(),
                ),
                (Ok(_), Some(Err(e))) => {
                    (LetterRecord::failed(name, format!("{name}: model: {e}")), 0)
                }
                (Ok(_), None) => unreachable!("a parsed letter has its prediction"),
            };
            r.meta = input.meta().cloned();
            (r, words)
        })
        .collect()
}

pub(crate) fn run(args: PredictArgs) -> anyhow::Result<Outcome> {
    args.threads.apply();
    let started = std::time::Instant::now();
    // The normalisation tables are read while the model loads.
    std::thread::spawn(Normalizer::built_in);
    let model = load_model(args.model.as_deref())?;
    let options = args.input.read_options()?;
    let (inputs, total): (Box<dyn Iterator<Item = Input> + Send>, Option<usize>) =
        match args.input_format {
            InputFormat::Files => {
                let found = letter::source::expand_inputs(&args.files);
                if let Some(out) = &args.output {
                    let paths = found.iter().filter_map(|f| f.as_ref().ok());
                    records_file::refuse_output_among_inputs(out, paths)?;
                }
                let n = found.len();
                let inputs = found.into_iter().map(|f| match f {
                    Ok(path) => Input::Path {
                        name: display_name(&path),
                        path,
                    },
                    Err(e) => Input::Bad {
                        name: e.path().map_or_else(String::new, display_name),
                        error: e.to_string(),
                    },
                });
                (Box::new(inputs), Some(n))
            }
            InputFormat::Jsonl => {
                if let Some(out) = &args.output {
                    records_file::refuse_output_among_inputs(out, args.files.iter())?;
                }
                let inputs = input::jsonl_inputs(args.files.clone(), options.max_bytes);
                (Box::new(inputs), None)
            }
        };
    let mut synced: Option<std::fs::File> = None;
    let mut resumed: Option<(PathBuf, records_file::Done)> = None;
    let out_name = args
        .output
        .as_ref()
        .map_or_else(|| "standard output".to_string(), |p| display_name(p));
    let brat = matches!(args.format, OutputFormat::Brat);
    anyhow::ensure!(
        !brat || (args.output.is_some() && !args.resume),
        "--format brat needs -o DIR (a new folder) and does not --resume"
    );
    let out: Box<dyn Write> = match &args.output {
        _ if brat => Box::new(io::sink()),
        None => Box::new(io::stdout().lock()),
        Some(path) => {
            let file = if args.resume {
                anyhow::ensure!(
                    matches!(args.format, OutputFormat::Jsonl),
                    "--resume needs --format jsonl: a CSV row cannot tell whether its letter \
                     was written whole"
                );
                let done = records_file::resume(path)?;
                let file = done.file.try_clone()?;
                resumed = Some((path.clone(), done));
                file
            } else {
                records_file::create_locked(path)?
            };
            if records_file::is_regular(&file) {
                synced = Some(file.try_clone()?);
            }
            Box::new(file)
        }
    };
    let write_err = || format!("{out_name}: cannot write the records");
    let out = io::BufWriter::new(out);
    let mut sink = match args.format {
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(output::csv::CSV_HEADER)
                .with_context(write_err)?;
            Sink::Csv(Box::new(w))
        }
        OutputFormat::Jsonl => Sink::Jsonl(out),
        OutputFormat::Prodigy => Sink::Prodigy(out),
        OutputFormat::Html => {
            let mut out = out;
            out.write_all(output::letter_view::start("imr predict").as_bytes())
                .with_context(write_err)?;
            Sink::Html(out)
        }
        OutputFormat::Brat => Sink::Brat(output::annotations::BratFolder::create(
            args.output.as_deref().expect("checked above"),
        )?),
    };
    let progress = Progress::new(total);
    let mut failures: Vec<String> = Vec::new();
    let (mut letters, mut skipped) = (0usize, 0usize);
    // Inputs are listed (and JSONL lines read) by a thread of their own, a bounded channel
    // ahead: memory stays flat, and a chunk is whatever has arrived, up to CHUNK letters, so
    // that a co-process that sends one line and waits gets its answer at once.
    // Letters from files are predicted in chunks of exactly CHUNK, so that the records do not
    // depend on how fast the inputs were listed; only a stream on stdin is answered greedily.
    let greedy = matches!(args.input_format, InputFormat::Jsonl)
        && args.files.iter().any(|f| f.as_os_str() == "-");
    let (tx, rx) = std::sync::mpsc::sync_channel::<Input>(CHUNK);
    std::thread::spawn(move || {
        for input in inputs {
            if tx.send(input).is_err() {
                return;
            }
        }
    });
    let done_before = resumed.as_ref().map(|(_, d)| &d.files);
    let mut take = |input: Input, chunk: &mut Vec<Input>| {
        if done_before.is_some_and(|done| done.contains(input.name())) {
            skipped += 1;
            progress.skip();
        } else {
            chunk.push(input);
        }
    };
    let chunk_len = if args.flush_each { 1 } else { CHUNK };
    while let Ok(first) = rx.recv() {
        let mut chunk = Vec::with_capacity(chunk_len);
        take(first, &mut chunk);
        while chunk.len() < chunk_len {
            let next = if greedy {
                rx.try_recv().ok()
            } else {
                rx.recv().ok()
            };
            match next {
                Some(input) => take(input, &mut chunk),
                None => break,
            }
        }
        if chunk.is_empty() {
            continue;
        }
        let records = predict_chunk(&model, chunk, &options, &args.decoding);
        for (mut r, words) in records {
            letters += 1;
            progress.letter(words);
            if let Some(e) = &r.error {
                failures.push(e.clone());
            }
            if args.disagreements && r.error.is_none() {
                // Only the items whose prediction contradicts the letter's stated decision.
                r.items.retain(|i| {
                    i.prediction
                        .as_ref()
                        .is_some_and(|p| p.agrees == Some(false))
                });
                if r.items.is_empty() {
                    continue;
                }
            }
            match &mut sink {
                Sink::Csv(w) => output::csv::write_rows(w, &r).map_err(anyhow::Error::from),
                Sink::Jsonl(out) => emit(out, &r.to_line()).map_err(anyhow::Error::from),
                Sink::Prodigy(out) => match output::annotations::prodigy_line(&r) {
                    Some(line) => emit(out, &line).map_err(anyhow::Error::from),
                    None => Ok(()),
                },
                Sink::Html(out) => out
                    .write_all(output::letter_view::letter(&r).as_bytes())
                    .map_err(anyhow::Error::from),
                Sink::Brat(dir) => dir.write(&r).map(|_| ()).map_err(anyhow::Error::from),
            }
            .with_context(write_err)?;
        }
        // Lines go out as each chunk finishes; to a file, they are on disk before the next.
        match &mut sink {
            Sink::Csv(w) => w.flush(),
            Sink::Jsonl(out) | Sink::Prodigy(out) | Sink::Html(out) => out.flush(),
            Sink::Brat(_) => Ok(()),
        }
        .with_context(write_err)?;
        if let Some(f) = &synced {
            f.sync_data().with_context(write_err)?;
        }
    }
    if let Sink::Html(out) = &mut sink {
        out.write_all(output::letter_view::end().as_bytes())
            .and_then(|()| out.flush())
            .with_context(write_err)?;
    }
    progress.finish();
    if let Some((path, done)) = &resumed {
        eprintln!(
            "imr predict: resumed {}: {skipped} inputs were already there{}",
            display_name(path),
            if done.dropped_bytes > 0 {
                format!(
                    "; dropped an unfinished last line of {} bytes",
                    done.dropped_bytes
                )
            } else {
                String::new()
            }
        );
    }
    eprintln!("{}", summary(letters, &failures, started.elapsed()));
    Ok(if failures.is_empty() {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}

/// Failures named one by one in the summary at the most; the rest are counted.
const NAMED_FAILURES: usize = 20;

/// The batch's last word on stderr: how many letters, how many failed (each named), how long.
fn summary(letters: usize, failures: &[String], took: std::time::Duration) -> String {
    let mut s = format!(
        "imr predict: {letters} letter{}, {} failed, {:.1} s",
        if letters == 1 { "" } else { "s" },
        failures.len(),
        took.as_secs_f64()
    );
    for f in failures.iter().take(NAMED_FAILURES) {
        s.push_str("\n  ");
        s.push_str(f.lines().next().unwrap_or(f));
    }
    if failures.len() > NAMED_FAILURES {
        s.push_str(&format!(
            "\n  ... and {} more (each has its record)",
            failures.len() - NAMED_FAILURES
        ));
    }
    s
}

/// A progress bar on stderr (letters, words per second, time left), drawn only when stderr
/// is a terminal.
struct Progress {
    bar: indicatif::ProgressBar,
    words: std::cell::Cell<u64>,
    started: std::time::Instant,
}

impl Progress {
    fn new(total: Option<usize>) -> Self {
        let target = indicatif::ProgressDrawTarget::stderr();
        let (bar, template) = match total {
            Some(n) => (
                indicatif::ProgressBar::with_draw_target(Some(n as u64), target),
                "{bar:30} {pos}/{len} letters, {msg}, {eta} left",
            ),
            None => (
                indicatif::ProgressBar::with_draw_target(None, target),
                "{spinner} {pos} letters, {msg}, {elapsed}",
            ),
        };
        bar.set_style(
            indicatif::ProgressStyle::with_template(template)
                .expect("static template")
                .progress_chars("=> "),
        );
        Progress {
            bar,
            words: std::cell::Cell::new(0),
            started: std::time::Instant::now(),
        }
    }

    fn skip(&self) {
        self.bar.inc(1);
    }

    /// A letter of `words` words is done.
    fn letter(&self, words: usize) {
        if self.bar.is_hidden() {
            return;
        }
        self.words.set(self.words.get() + words as u64);
        let secs = self.started.elapsed().as_secs_f64().max(1e-3);
        self.bar
            .set_message(format!("{:.0} words/s", self.words.get() as f64 / secs));
        self.bar.inc(1);
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
