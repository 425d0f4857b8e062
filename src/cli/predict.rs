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
const CHUNK: usize = 16;

pub(crate) fn run(args: PredictArgs) -> anyhow::Result<Outcome> {
    let model_path = resolve_model(args.model.as_deref())?;
    let model = ModelDir::load(&model_path)?;
    let mut inputs = letter::source::expand_inputs(&args.files).context("listing inputs")?;
    let options = args.input.read_options()?;
    let mut synced: Option<std::fs::File> = None;
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
                let before = inputs.len();
                inputs.retain(|p| !done.files.contains(&display_name(p)));
                eprintln!(
                    "imr predict: {} of {before} inputs already in {}{}; {} to go",
                    before - inputs.len(),
                    path.display(),
                    if done.dropped_bytes > 0 {
                        format!(
                            " (dropped an unfinished last line of {} bytes)",
                            done.dropped_bytes
                        )
                    } else {
                        String::new()
                    },
                    inputs.len()
                );
                done.file
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
    let mut failed = 0usize;
    for chunk in inputs.chunks(CHUNK) {
        let records = predict_chunk(&model, chunk, &options, args.decode);
        for r in &records {
            failed += usize::from(r.error.is_some());
            match &mut sink {
                Sink::Csv(w) => write_csv_rows(w, r)?,
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
    Ok(if failed == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
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
    paths: &[PathBuf],
    options: &ReadOptions,
    decoding: Decoding,
) -> Vec<LetterRecord> {
    let letters: Vec<Result<Letter, String>> = paths
        .par_iter()
        .map(|p| read(p, options).map_err(|e| e.to_string()))
        .collect();
    let ok: Vec<&Letter> = letters.iter().filter_map(|l| l.as_ref().ok()).collect();
    // Two halves on the two cores: candle's elementwise kernels are single-threaded.
    let half = ok.len().div_ceil(2).max(1);
    let predictions: Vec<Result<Vec<LetterPrediction>, String>> = ok
        .par_chunks(half)
        .map(|part| {
            let inference = Inference {
                decoding,
                ..model.inference()
            };
            inference.predict(part).map_err(|e| e.to_string())
        })
        .collect();
    let mut flat = Vec::with_capacity(ok.len());
    for (part, result) in ok.chunks(half).zip(predictions) {
        match result {
            Ok(ps) => flat.extend(ps.into_iter().map(Ok)),
            Err(e) => flat.extend(part.iter().map(|_| Err(e.clone()))),
        }
    }
    let mut flat = flat.into_iter();
    paths
        .iter()
        .zip(letters)
        .map(|(path, letter)| {
            let name = display_name(path);
            match letter {
                Err(e) => LetterRecord::failed(&name, e),
                Ok(l) => match flat.next().expect("one prediction per parsed letter") {
                    Ok(p) => record(&name, &l, &p),
                    Err(e) => {
                        LetterRecord::failed(&name, format!("{}: model: {e}", path.display()))
                    }
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
    for (i, item) in r.items.iter().enumerate() {
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
