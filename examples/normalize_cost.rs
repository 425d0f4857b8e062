//! What normalising costs beside predicting, in one run on the same letters:
//! `cargo run --release --example normalize_cost [FOLDER...]` (default `data/dwc-letters`).
//! Prints the seconds to predict, to build the records without and with normalisation, and
//! the ratio.

use std::time::Instant;

use imr::artifacts::Model;
use imr::letter::Letter;
use imr::normalize::Normalizer;
use imr::output::record::LetterRecord;
use imr::predict::Inference;

fn main() -> imr::Result<()> {
    let dirs: Vec<String> = std::env::args().skip(1).collect();
    let dirs = if dirs.is_empty() {
        vec!["data/dwc-letters".to_string()]
    } else {
        dirs
    };
    let mut letters = Vec::new();
    for d in &dirs {
        let mut paths: Vec<_> = std::fs::read_dir(d)
            .expect("a folder")
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        paths.sort();
        for p in paths {
            letters.push(Letter::read(&p)?);
        }
    }
    let words: usize = letters
        .iter()
        .map(|l| l.text.split_whitespace().count())
        .sum();
    let t = Instant::now();
    let tables = Normalizer::from_data_dir(std::path::Path::new("data"))?;
    let load = t.elapsed().as_secs_f64();
    let model = Model::built_in()?;
    let refs: Vec<&Letter> = letters.iter().collect();
    let t = Instant::now();
    let predictions: Vec<_> = Inference::of(&model)
        .predict_on_cores(&refs)
        .into_iter()
        .map(|p| p.expect("every letter of data/ predicts"))
        .collect();
    let predict = t.elapsed().as_secs_f64();
    let empty = Normalizer::default();
    let records = |n: &Normalizer| {
        let t = Instant::now();
        for (l, p) in letters.iter().zip(&predictions) {
            std::hint::black_box(LetterRecord::predicted("x", l, p, n));
        }
        t.elapsed().as_secs_f64()
    };
    let without = records(&empty);
    let with = records(&tables);
    println!(
        "{} letters, {words} words: tables read {load:.2} s; predict {predict:.2} s; records {without:.3} s \
         without normalising, {with:.3} s with; predict + records {:.2}x the time without",
        letters.len(),
        (predict + with) / (predict + without)
    );
    Ok(())
}
