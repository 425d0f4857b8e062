//! `imr predict`: letters in, one JSON line per letter (or one CSV row per disputed item) out.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{display_name, emit, load_model, parse::read, DecodeArgs, InputArgs, Outcome};
use crate::annotation::Label;
use crate::artifacts::ModelDir;
use crate::letter::{self, Letter, ReadOptions};
use crate::output::record::{EntityRecord, ItemPrediction, LetterRecord};
use crate::predict::{Inference, LetterPrediction};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum OutputFormat {
    /// One JSON object per letter.
    Jsonl,
    /// One row per disputed item, for spreadsheets.
    Csv,
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
    /// With --output: keep the letters already in FILE (matched by their `file` name, so
    /// give the same inputs) and predict only the others.
    #[arg(long, requires = "output")]
    resume: bool,
}

enum Sink<W: Write> {
    Jsonl(W),
    Csv(Box<csv::Writer<W>>),
}

/// Letters read and predicted together at most; output keeps input order.
const CHUNK: usize = 32;

pub(crate) fn run(args: PredictArgs) -> anyhow::Result<Outcome> {
    let started = std::time::Instant::now();
    let model = load_model(args.model.as_deref())?;
    let options = args.input.read_options()?;
    let (inputs, total): (Box<dyn Iterator<Item = Input> + Send>, Option<usize>) =
        match args.input_format {
            InputFormat::Files => {
                let found = letter::source::expand_inputs(&args.files);
                if let Some(out) = &args.output {
                    let paths = found.iter().filter_map(|f| f.as_ref().ok());
                    refuse_output_among_inputs(out, paths)?;
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
                    refuse_output_among_inputs(out, args.files.iter())?;
                }
                let inputs = jsonl_inputs(args.files.clone(), options.max_bytes);
                (Box::new(inputs), None)
            }
        };
    let mut synced: Option<std::fs::File> = None;
    let mut resumed: Option<(PathBuf, resume::Done)> = None;
    let out_name = args
        .output
        .as_ref()
        .map_or_else(|| "standard output".to_string(), |p| display_name(p));
    let out: Box<dyn Write> = match &args.output {
        None => Box::new(io::stdout().lock()),
        Some(path) => {
            let file = if args.resume {
                anyhow::ensure!(
                    matches!(args.format, OutputFormat::Jsonl),
                    "--resume needs --format jsonl: a CSV row cannot tell whether its letter \
                     was written whole"
                );
                let done = resume::open(path)?;
                let file = done.file.try_clone()?;
                resumed = Some((path.clone(), done));
                file
            } else {
                output::create_locked(path)?
            };
            if output::is_regular(&file) {
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
            w.write_record(CSV_HEADER).with_context(write_err)?;
            Sink::Csv(Box::new(w))
        }
        OutputFormat::Jsonl => Sink::Jsonl(out),
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
    while let Ok(first) = rx.recv() {
        let mut chunk = Vec::with_capacity(CHUNK);
        take(first, &mut chunk);
        while chunk.len() < CHUNK {
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
                Sink::Csv(w) => write_csv_rows(w, &r),
                Sink::Jsonl(out) => emit(out, &r.to_line()).map_err(anyhow::Error::from),
            }
            .with_context(write_err)?;
        }
        // Lines go out as each chunk finishes; to a file, they are on disk before the next.
        match &mut sink {
            Sink::Csv(w) => w.flush(),
            Sink::Jsonl(out) => out.flush(),
        }
        .with_context(write_err)?;
        if let Some(f) = &synced {
            f.sync_data().with_context(write_err)?;
        }
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

/// `-o FILE` must not be one of the inputs (a letter named, a letter found in a folder, or a
/// JSONL input): writing the records would destroy it. Compared by file identity, so that
/// another spelling of the same path is caught too.
fn refuse_output_among_inputs<'a>(
    out: &std::path::Path,
    inputs: impl Iterator<Item = &'a PathBuf>,
) -> anyhow::Result<()> {
    let Ok(out_meta) = std::fs::metadata(out) else {
        return Ok(()); // not there yet: it cannot be an input
    };
    for input in inputs {
        if input.as_os_str() == "-" {
            continue;
        }
        if let Ok(meta) = std::fs::metadata(input) {
            if same_file(&meta, &out_meta) {
                anyhow::bail!(
                    "{}: is also an input ({}); refusing to overwrite it with the records",
                    display_name(out),
                    display_name(input)
                );
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

/// One input letter: a file to read, or a letter's text given inline (`--input-format jsonl`,
/// with the input line's other fields), or an input that could not be understood.
enum Input {
    Path {
        path: PathBuf,
        name: String,
    },
    Inline {
        name: String,
        text: String,
        meta: Option<serde_json::Map<String, serde_json::Value>>,
    },
    Bad {
        name: String,
        error: String,
    },
}

impl Input {
    /// The name its record carries in `file`.
    fn name(&self) -> &str {
        match self {
            Input::Path { name, .. } | Input::Inline { name, .. } | Input::Bad { name, .. } => name,
        }
    }

    fn read(&self, options: &ReadOptions) -> Result<Letter, String> {
        match self {
            Input::Path { path, .. } => read(path, options).map_err(|e| e.to_string()),
            Input::Inline { name, text, .. } => {
                Letter::from_text(name.as_str(), text.clone()).map_err(|e| e.to_string())
            }
            Input::Bad { error, .. } => Err(error.clone()),
        }
    }

    fn meta(&self) -> Option<&serde_json::Map<String, serde_json::Value>> {
        match self {
            Input::Inline { meta, .. } => meta.as_ref(),
            _ => None,
        }
    }
}

/// The lines of JSONL files (`-` for stdin), read lazily: each `{"text": ..., "file": ...}`
/// (`file`, else `id`, names the record; else `SOURCE:LINE`). A line longer than `max_bytes`
/// is an error record, skipped without being held in memory.
fn jsonl_inputs(sources: Vec<PathBuf>, max_bytes: u64) -> impl Iterator<Item = Input> {
    use std::io::BufRead;
    sources.into_iter().flat_map(move |source| {
        let label = display_name(&source);
        let reader: Result<Box<dyn BufRead + Send>, String> = if source.as_os_str() == "-" {
            Ok(Box::new(io::BufReader::new(io::stdin())))
        } else {
            std::fs::File::open(&source)
                .map(|f| Box::new(io::BufReader::new(f)) as Box<dyn BufRead + Send>)
                .map_err(|e| format!("{label}: {e}"))
        };
        let lines: Box<dyn Iterator<Item = Input> + Send> = match reader {
            Err(error) => Box::new(std::iter::once(Input::Bad {
                name: label.clone(),
                error,
            })),
            Ok(mut r) => {
                let (mut line_no, mut ended) = (0, false);
                Box::new(std::iter::from_fn(move || {
                    while !ended {
                        line_no += 1;
                        let at = format!("{label}:{line_no}");
                        match lines::next(&mut r, max_bytes) {
                            Ok(None) => ended = true,
                            Ok(Some(lines::Line::Text(bytes))) => {
                                if !bytes.iter().all(u8::is_ascii_whitespace) {
                                    return Some(jsonl_input(&at, &bytes));
                                }
                            }
                            Ok(Some(lines::Line::TooLong)) => {
                                return Some(Input::Bad {
                                    error: format!(
                                        "{at}: line over the input limit of {max_bytes} bytes"
                                    ),
                                    name: at,
                                })
                            }
                            Err(e) => {
                                // A read error would repeat forever: it ends this source.
                                ended = true;
                                return Some(Input::Bad {
                                    error: format!("{at}: {e}"),
                                    name: at,
                                });
                            }
                        }
                    }
                    None
                }))
            }
        };
        lines
    })
}

fn jsonl_input(at: &str, line: &[u8]) -> Input {
    let bad = |error: String| Input::Bad {
        name: at.to_string(),
        error: format!("{at}: {error}"),
    };
    let v: serde_json::Value = match serde_json::from_slice(line) {
        Ok(v) => v,
        Err(e) => return bad(format!("not a JSON object: {e}")),
    };
    let serde_json::Value::Object(mut fields) = v else {
        return bad("not a JSON object".into());
    };
    let key = ["file", "id"].into_iter().find(|k| {
        matches!(
            fields.get(*k),
            Some(serde_json::Value::String(_) | serde_json::Value::Number(_))
        )
    });
    let name = match key.and_then(|k| fields.remove(k)) {
        Some(serde_json::Value::String(s)) => s,
        Some(n) => n.to_string(),
        None => at.to_string(),
    };
    match fields.remove("text") {
        Some(serde_json::Value::String(text)) => Input::Inline {
            name,
            text,
            meta: (!fields.is_empty()).then_some(fields),
        },
        _ => Input::Bad {
            error: format!("{at}: no \"text\" string"),
            name,
        },
    }
}

/// Reading lines with a bound on their length.
mod lines {
    use std::io::{self, BufRead};

    pub enum Line {
        /// The line's bytes, without its newline.
        Text(Vec<u8>),
        /// Longer than the bound: read through and dropped.
        TooLong,
    }

    /// The next line of `r`, holding at most `max` bytes of it: a longer one is consumed to
    /// its end (an endless one to the end of input) without being kept.
    pub fn next(r: &mut dyn BufRead, max: u64) -> io::Result<Option<Line>> {
        let mut line = Vec::new();
        let (mut seen, mut too_long) = (false, false);
        loop {
            let chunk = match r.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if chunk.is_empty() {
                break;
            }
            seen = true;
            let newline = chunk.iter().position(|&b| b == b'\n');
            let part = &chunk[..newline.unwrap_or(chunk.len())];
            if !too_long {
                if (line.len() + part.len()) as u64 > max {
                    too_long = true;
                    line = Vec::new();
                } else {
                    line.extend_from_slice(part);
                }
            }
            let used = newline.map_or(chunk.len(), |i| i + 1);
            r.consume(used);
            if newline.is_some() {
                break;
            }
        }
        let line = if too_long {
            Line::TooLong
        } else {
            Line::Text(line)
        };
        Ok(seen.then_some(line))
    }

    #[cfg(test)]
    mod tests {
        use super::{next, Line};

        fn all(input: &[u8], max: u64) -> Vec<Option<Vec<u8>>> {
            // A small buffer, so that lines cross the reader's refills.
            let mut r = std::io::BufReader::with_capacity(4, input);
            let mut out = Vec::new();
            while let Some(line) = next(&mut r, max).unwrap() {
                out.push(match line {
                    Line::Text(t) => Some(t),
                    Line::TooLong => None,
                });
            }
            out
        }

        #[test]
        fn lines_longer_than_the_bound_are_dropped_whole() {
            let got = all(b"ab\nabcdefghij\n\nxyz", 5);
            assert_eq!(
                got,
                [
                    Some(b"ab".to_vec()),
                    None,
                    Some(vec![]),
                    Some(b"xyz".to_vec())
                ]
            );
            // Exactly at the bound is kept; an endless line is one dropped line.
            assert_eq!(all(b"abcde\n", 5), [Some(b"abcde".to_vec())]);
            assert_eq!(all(&[b'x'; 1000], 5), [None]);
            assert!(all(b"", 5).is_empty());
        }
    }
}

/// Writing `-o FILE`: one writer at a time.
mod output {
    use std::fs::{File, OpenOptions};
    use std::path::Path;

    use anyhow::Context;

    /// Takes the advisory lock of `file` (opened on `path`) or says who holds it.
    pub fn lock(file: &File, path: &Path) -> anyhow::Result<()> {
        match file.try_lock() {
            Ok(()) => Ok(()),
            Err(std::fs::TryLockError::WouldBlock) => anyhow::bail!(
                "{}: another imr predict is writing to it; refusing a second writer",
                super::display_name(path)
            ),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("{}: cannot lock", super::display_name(path)))
            }
        }
    }

    /// Opens `path` for the records, emptied, once the lock is ours: a second run with the same
    /// `-o` is refused before it empties the first one's file.
    pub fn create_locked(path: &Path) -> anyhow::Result<File> {
        let file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("{}: cannot create", super::display_name(path)))?;
        lock(&file, path)?;
        if is_regular(&file) {
            file.set_len(0)
                .with_context(|| format!("{}: cannot empty", super::display_name(path)))?;
        }
        Ok(file)
    }

    /// A regular file (not `/dev/stdout`, a pipe or a device), which can be emptied and synced.
    pub fn is_regular(file: &File) -> bool {
        file.metadata().is_ok_and(|m| m.is_file())
    }
}

/// Picking up an interrupted `--output` file.
mod resume {
    use std::collections::HashSet;
    use std::fs::{File, OpenOptions};
    use std::io::{BufRead, BufReader, Seek, SeekFrom};
    use std::path::Path;

    use anyhow::Context;

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
    pub fn open(path: &Path) -> anyhow::Result<Done> {
        let name = super::display_name(path);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("{name}: cannot open for --resume"))?;
        super::output::lock(&file, path)?;
        let mut files = HashSet::new();
        let mut good_end = 0u64;
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        let mut lineno = 0;
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .with_context(|| format!("{name}: cannot read for --resume"))?;
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
                    None => anyhow::bail!(
                        "{name}:{lineno}: not a predict record; refusing to resume into it"
                    ),
                },
                None => {
                    let cut = line.starts_with(RECORD_START) || RECORD_START.starts_with(&line);
                    anyhow::ensure!(
                        cut,
                        "{name}:{lineno}: not a predict record; refusing to resume into it"
                    );
                    break;
                }
            }
        }
        let len = file.metadata()?.len();
        file.set_len(good_end)?;
        file.seek(SeekFrom::Start(good_end))?;
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
}

/// Reads, parses and predicts a chunk of inputs; each input gets a record, failed or not.
fn predict_chunk(
    model: &ModelDir,
    inputs: Vec<Input>,
    options: &ReadOptions,
    decoding: &DecodeArgs,
) -> Vec<(LetterRecord, usize)> {
    let letters: Vec<Result<Letter, String>> = inputs.par_iter().map(|i| i.read(options)).collect();
    let ok: Vec<&Letter> = letters.iter().filter_map(|l| l.as_ref().ok()).collect();
    // Two halves on the two cores (candle's element-wise kernels are single-threaded), split
    // where half of the text is, so that neither core waits for the other.
    let total: usize = ok.iter().map(|l| l.text.len()).sum();
    let mut acc = 0;
    let half = ok
        .iter()
        .position(|l| {
            acc += l.text.len();
            2 * acc >= total
        })
        .map_or(1, |i| i + 1)
        .clamp(1, ok.len().max(1));
    let parts: Vec<&[&Letter]> = if half < ok.len() {
        vec![&ok[..half], &ok[half..]]
    } else {
        vec![&ok[..]]
    };
    let predictions: Vec<Result<Vec<LetterPrediction>, String>> = parts
        .par_iter()
        .map(|part| {
            let inference = decoding.apply(Inference::of(model));
            inference.predict(part).map_err(|e| e.to_string())
        })
        .collect();
    let mut flat = Vec::with_capacity(ok.len());
    for (part, result) in parts.iter().zip(predictions) {
        match result {
            Ok(ps) => flat.extend(ps.into_iter().map(Ok)),
            Err(e) => flat.extend(part.iter().map(|_| Err(e.clone()))),
        }
    }
    let mut flat = flat.into_iter();
    inputs
        .iter()
        .zip(letters)
        .map(|(input, letter)| {
            let name = input.name();
            let (mut r, words) = match letter {
                Err(e) => (LetterRecord::failed(name, e), 0),
                Ok(l) => match flat.next().expect("one prediction per parsed letter") {
                    Ok(p) => (record(name, &l, &p), l.text.split_whitespace().count()),
                    Err(e) => (LetterRecord::failed(name, format!("{name}: model: {e}")), 0),
                },
            };
            r.meta = input.meta().cloned();
            (r, words)
        })
        .collect()
}

/// The JSON record of a letter with its predictions.
pub fn record(name: &str, letter: &Letter, p: &LetterPrediction) -> LetterRecord {
    let mut r = LetterRecord::from_letter(name, letter);
    let entities: Vec<EntityRecord> = p
        .entities
        .iter()
        .map(|(e, score)| EntityRecord {
            label: e.label,
            start: e.start,
            end: e.end,
            text: letter.slice(e.span()).to_string(),
            score: (score * 1e4).round() / 1e4,
        })
        .collect();
    let decided = p.p_overturned.iter().zip(&p.decisions);
    for ((item, rec), (&prob, &predicted)) in letter.items.iter().zip(&mut r.items).zip(decided) {
        let inside = |label: Label| -> Option<String> {
            let found: Vec<String> = entities
                .iter()
                .filter(|e| {
                    e.label == label
                        && item
                            .request
                            .span
                            .contains(&crate::Span::new(e.start, e.end))
                })
                .map(|e| letter::fold_whitespace(&e.text))
                .collect();
            (!found.is_empty()).then(|| found.join("; "))
        };
        rec.prediction = Some(ItemPrediction {
            predicted_decision: predicted,
            p_overturned: (prob * 1e4).round() / 1e4,
            agrees: item.stated_decision.map(|d| d == predicted),
            drug: inside(Label::Drug),
            dose: inside(Label::Dose),
            quantity: inside(Label::Quantity),
        });
    }
    r.entities = Some(entities);
    r
}

const CSV_HEADER: [&str; 13] = [
    "file",
    "case_number",
    "item",
    "request",
    "stated_decision",
    "predicted_decision",
    "p_overturned",
    "agrees",
    "drug",
    "dose",
    "quantity",
    "rationale_span",
    "error",
];

fn write_csv_rows<W: Write>(w: &mut csv::Writer<W>, r: &LetterRecord) -> anyhow::Result<()> {
    let opt = |s: &Option<String>| s.clone().unwrap_or_default();
    if r.error.is_some() || r.items.is_empty() {
        let mut row = vec![String::new(); CSV_HEADER.len()];
        row[0] = r.file.clone();
        row[1] = opt(&r.case_number);
        row[12] = opt(&r.error);
        w.write_record(&row)?;
        return Ok(());
    }
    for item in &r.items {
        let i = item.index;
        let p = item.prediction.as_ref();
        w.write_record([
            r.file.clone(),
            opt(&r.case_number),
            (i + 1).to_string(),
            item.request.clone(),
            item.stated_decision
                .map(|d| d.to_string())
                .unwrap_or_default(),
            p.map(|p| p.predicted_decision.to_string())
                .unwrap_or_default(),
            p.map(|p| format!("{:.4}", p.p_overturned))
                .unwrap_or_default(),
            p.and_then(|p| p.agrees)
                .map(|a| a.to_string())
                .unwrap_or_default(),
            p.and_then(|p| p.drug.clone()).unwrap_or_default(),
            p.and_then(|p| p.dose.clone()).unwrap_or_default(),
            p.and_then(|p| p.quantity.clone()).unwrap_or_default(),
            format!("{}-{}", item.rationale_span.start, item.rationale_span.end),
            String::new(),
        ])?;
    }
    Ok(())
}
