//! `imr summarize`: `predict` records (JSONL files, or `-` for stdin) -> one view of the batch.

use std::io::{self, BufRead, BufReader, Write};
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, ValueEnum};

use super::Outcome;
use crate::error::escape_path;
use crate::output::summary::Tally;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SummaryFormat {
    Text,
    Csv,
    Json,
    /// One self-contained page with a chart per grouping.
    Html,
}

#[derive(Debug, Args)]
pub struct SummarizeArgs {
    /// Records written by `imr predict` (JSONL), or `-` for stdin.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    #[arg(long, value_enum, default_value_t = SummaryFormat::Text)]
    format: SummaryFormat,
    /// Groups shown per grouping in text and HTML (CSV and JSON have all).
    #[arg(long, default_value_t = 25)]
    top: usize,
}

pub(crate) fn run(args: SummarizeArgs) -> anyhow::Result<Outcome> {
    let mut tally = Tally::default();
    let mut bad = 0usize;
    for path in &args.files {
        let name = escape_path(path);
        let reader: Box<dyn BufRead> = if path.as_os_str() == "-" {
            Box::new(BufReader::new(io::stdin()))
        } else {
            Box::new(BufReader::new(
                std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?,
            ))
        };
        for (i, line) in reader.lines().enumerate() {
            let line = line.with_context(|| format!("{name}: cannot read line {}", i + 1))?;
            if let Err(e) = tally.add_line(&line) {
                bad += 1;
                if bad <= 20 {
                    eprintln!(
                        "imr summarize: {name}: line {}: not a predict record: {}",
                        i + 1,
                        e.0
                    );
                }
            }
        }
    }
    let summary = tally.summary();
    let text = match args.format {
        SummaryFormat::Text => summary.text(args.top),
        SummaryFormat::Csv => summary.csv()?,
        SummaryFormat::Json => serde_json::to_string_pretty(&summary)? + "\n",
        SummaryFormat::Html => summary
            .html("imr summary", args.top)
            .map_err(|e| anyhow::anyhow!("the charts: {e}"))?,
    };
    let stdout = io::stdout();
    let mut out = stdout.lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        r => r?,
    }
    if bad > 0 {
        eprintln!("imr summarize: {bad} lines were not predict records and were left out");
    }
    Ok(if bad == 0 {
        Outcome::AllGood
    } else {
        Outcome::SomeFailed
    })
}
