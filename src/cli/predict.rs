//! `imr predict`: letters in, one JSON line per letter (or one CSV row per disputed item) out.

use std::io::{self, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};
use rayon::prelude::*;

use super::{display_name, emit, parse::read, resolve_model, InputArgs, Outcome};
use crate::annotation::Label;
use crate::artifacts::ModelDir;
use crate::letter::{self, Letter, ReadOptions};
use crate::predict::{Decoding, Inference, LetterPrediction};
use crate::record::{EntityRecord, ItemPrediction, LetterRecord};
use crate::Decision;

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
    /// Entity decoding: `full` keeps words whole and never begins or ends a span on a
    /// function word or separator; the others are the ablations measured in the README.
    #[arg(long, value_enum, default_value_t = Decoding::default())]
    decode: Decoding,
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

/// Letters read and predicted together; output keeps input order.
const CHUNK: usize = 32;

pub(crate) fn run(args: PredictArgs) -> anyhow::Result<Outcome> {
    let model_path = resolve_model(args.model.as_deref())?;
    let model = ModelDir::load(&model_path)?;
    let options = args.input.read_options()?;
    let mut inputs: Box<dyn Iterator<Item = Input>> = match args.input_format {
        InputFormat::Files => Box::new(
            letter::source::expand_inputs(&args.files)
                .context("listing inputs")?
                .into_iter()
                .map(|path| Input::Path {
                    name: display_name(&path),
                    path,
                }),
        ),
        InputFormat::Jsonl => Box::new(jsonl_inputs(args.files.clone())),
    };
    let mut synced: Option<std::fs::File> = None;
    let mut resumed: Option<(PathBuf, resume::Done)> = None;
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
                std::fs::File::create(path)
                    .with_context(|| format!("{}: cannot create", path.display()))?
            };
            synced = Some(file.try_clone()?);
            Box::new(file)
        }
    };
    let out = io::BufWriter::new(out);
    let mut sink = match args.format {
        OutputFormat::Csv => {
            let mut w = csv::Writer::from_writer(out);
            w.write_record(CSV_HEADER)?;
            Sink::Csv(Box::new(w))
        }
        OutputFormat::Jsonl => Sink::Jsonl(out),
    };
    let (mut failed, mut skipped) = (0usize, 0usize);
    loop {
        // Inputs are listed lazily and read a chunk at a time: memory stays flat.
        let mut chunk = Vec::with_capacity(CHUNK);
        for input in inputs.by_ref() {
            if let Some((_, done)) = &resumed {
                if done.files.contains(input.name()) {
                    skipped += 1;
                    continue;
                }
            }
            chunk.push(input);
            if chunk.len() == CHUNK {
                break;
            }
        }
        if chunk.is_empty() {
            break;
        }
        let records = predict_chunk(&model, chunk, &options, args.decode);
        for mut r in records {
            failed += usize::from(r.error.is_some());
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
                Sink::Csv(w) => write_csv_rows(w, &r)?,
                Sink::Jsonl(out) => emit(out, &r.to_line())?,
            }
        }
        // Lines go out as each chunk finishes; to a file, they are on disk before the next.
        match &mut sink {
            Sink::Csv(w) => w.flush()?,
            Sink::Jsonl(out) => out.flush()?,
        }
        if let Some(f) = &synced {
            f.sync_data()?;
        }
    }
    if let Some((path, done)) = &resumed {
        eprintln!(
            "imr predict: resumed {}: {skipped} inputs were already there{}",
            path.display(),
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
    Ok(if failed == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}

/// One input letter: a file to read, or a letter's text given inline (`--input-format jsonl`),
/// or an input line that could not be understood.
enum Input {
    Path { path: PathBuf, name: String },
    Inline { name: String, text: String },
    Bad { name: String, error: String },
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
            Input::Inline { name, text } => {
                Letter::from_text(name.as_str(), text.clone()).map_err(|e| e.to_string())
            }
            Input::Bad { error, .. } => Err(error.clone()),
        }
    }
}

/// The lines of JSONL files (`-` for stdin), read lazily: each `{"text": ..., "file": ...}`
/// (`file`, else `id`, names the record; else `SOURCE:LINE`).
fn jsonl_inputs(sources: Vec<PathBuf>) -> impl Iterator<Item = Input> {
    use std::io::BufRead;
    sources.into_iter().flat_map(|source| {
        let label = display_name(&source);
        let reader: Result<Box<dyn BufRead>, String> = if source.as_os_str() == "-" {
            Ok(Box::new(io::BufReader::new(io::stdin())))
        } else {
            std::fs::File::open(&source)
                .map(|f| Box::new(io::BufReader::new(f)) as Box<dyn BufRead>)
                .map_err(|e| format!("{label}: {e}"))
        };
        let lines: Box<dyn Iterator<Item = Input>> = match reader {
            Err(error) => Box::new(std::iter::once(Input::Bad {
                name: label.clone(),
                error,
            })),
            Ok(r) => Box::new(
                r.lines()
                    .enumerate()
                    .filter(|(_, l)| l.as_ref().map_or(true, |l| !l.trim().is_empty()))
                    .map(move |(i, line)| jsonl_input(&label, i + 1, line)),
            ),
        };
        lines
    })
}

fn jsonl_input(source: &str, line_no: usize, line: io::Result<String>) -> Input {
    let at = format!("{source}:{line_no}");
    let bad = |error: String| Input::Bad {
        name: at.clone(),
        error: format!("{at}: {error}"),
    };
    let line = match line {
        Ok(l) => l,
        Err(e) => return bad(e.to_string()),
    };
    let v: serde_json::Value = match serde_json::from_str(&line) {
        Ok(v) => v,
        Err(e) => return bad(format!("not a JSON object: {e}")),
    };
    let name = ["file", "id"]
        .iter()
        .find_map(|k| match &v[k] {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .unwrap_or_else(|| at.clone());
    match v["text"].as_str() {
        Some(text) => Input::Inline {
            name,
            text: text.to_string(),
        },
        None => Input::Bad {
            error: format!("{at}: no \"text\" string"),
            name,
        },
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

    /// Opens (or creates) `path` for appending after its last complete JSON line, and lists
    /// the letters it already holds. A last line without its newline, or that is not a
    /// record, was cut by the interruption: it is dropped and its letter predicted again.
    pub fn open(path: &Path) -> anyhow::Result<Done> {
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .with_context(|| format!("{}: cannot open for --resume", path.display()))?;
        let mut files = HashSet::new();
        let mut good_end = 0u64;
        let mut reader = BufReader::new(&mut file);
        let mut line = String::new();
        let mut lineno = 0;
        loop {
            line.clear();
            let n = reader
                .read_line(&mut line)
                .with_context(|| format!("{}: cannot read for --resume", path.display()))?;
            if n == 0 {
                break;
            }
            lineno += 1;
            let record = line
                .strip_suffix('\n')
                .and_then(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                .and_then(|v| v.get("file")?.as_str().map(str::to_string));
            match record {
                Some(name) => {
                    files.insert(name);
                    good_end += n as u64;
                }
                None => {
                    // Only the last line may be unfinished; anything else is not our output.
                    let mut rest = String::new();
                    if reader.read_line(&mut rest)? > 0 {
                        anyhow::bail!(
                            "{}:{lineno}: not a predict record; refusing to resume into it",
                            path.display()
                        );
                    }
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
}

/// Reads, parses and predicts a chunk of inputs; each input gets a record, failed or not.
fn predict_chunk(
    model: &ModelDir,
    inputs: Vec<Input>,
    options: &ReadOptions,
    decoding: Decoding,
) -> Vec<LetterRecord> {
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
            let inference = Inference {
                decoding,
                ..model.inference()
            };
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
            match letter {
                Err(e) => LetterRecord::failed(name, e),
                Ok(l) => match flat.next().expect("one prediction per parsed letter") {
                    Ok(p) => record(name, &l, &p),
                    Err(e) => LetterRecord::failed(name, format!("{name}: model: {e}")),
                },
            }
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
    for ((item, rec), &prob) in letter.items.iter().zip(&mut r.items).zip(&p.p_overturned) {
        let predicted = if prob >= 0.5 {
            Decision::Overturned
        } else {
            Decision::Upheld
        };
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
