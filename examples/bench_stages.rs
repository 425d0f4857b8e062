//! Where `predict` spends its time: each stage of the pipeline timed on its own over the letters
//! given (default: data/dwc-letters/*.txt) with the shipped model, in words per second. Used by
//! `scripts/bench.sh`; prints one JSON object.
//!
//!   cargo run --release --example bench_stages [DIR]

use std::path::PathBuf;
use std::time::Instant;

use imr::artifacts::Model;
use imr::decode::viterbi::viterbi_words;
use imr::encode::EncodedLetter;
use imr::letter::Letter;
use imr::predict::Inference;

fn main() -> anyhow::Result<()> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("data/dwc-letters"), PathBuf::from);
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)?
        .map(|e| e.map(|e| e.path()))
        .collect::<Result<_, _>>()?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "txt"));
    paths.sort();

    let t = Instant::now();
    let model = Model::load(&root.join("models/default"))?;
    let load_s = t.elapsed().as_secs_f64();
    let inference = Inference::of(&model);

    let t = Instant::now();
    let letters: Vec<Letter> = paths
        .iter()
        .map(|p| Letter::read(p))
        .collect::<Result<_, _>>()?;
    let read_s = t.elapsed().as_secs_f64();
    let words: usize = letters
        .iter()
        .map(|l| l.text.split_whitespace().count())
        .sum();

    let t = Instant::now();
    let encoded: Vec<EncodedLetter> = letters
        .iter()
        .map(|l| inference.encode(l))
        .collect::<Result<_, _>>()?;
    let encode_s = t.elapsed().as_secs_f64();
    let tokens: usize = encoded.iter().map(|e| e.len()).sum();

    // The forward passes, one core (one stream of batches), then two halves on two cores as
    // `predict` runs them.
    let forward = |inf: &Inference, part: &[EncodedLetter]| -> anyhow::Result<Vec<Vec<f32>>> {
        inf.decision_logits(part)?;
        Ok(inf.tag_log_probs(part)?)
    };
    let t = Instant::now();
    let tag_lp = inference.tag_log_probs(&encoded)?;
    let tag_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    inference.decision_logits(&encoded)?;
    let decision_s = t.elapsed().as_secs_f64();
    let half = encoded.len().div_ceil(2);
    let t = Instant::now();
    let (a, b) = rayon::join(
        || forward(&inference, &encoded[..half]),
        || forward(&inference, &encoded[half..]),
    );
    a?;
    b?;
    let forward_2core_s = t.elapsed().as_secs_f64();

    let t = Instant::now();
    let (mut back, mut tags) = (Vec::new(), Vec::new());
    for (enc, lp) in encoded.iter().zip(&tag_lp) {
        viterbi_words(
            lp,
            inference.decoding_constraints(enc),
            &mut back,
            &mut tags,
        );
    }
    let decode_s = t.elapsed().as_secs_f64();

    let rate = |s: f64| (words as f64 / s).round();
    let report = serde_json::json!({
        "letters": letters.len(),
        "words": words,
        "tokens": tokens,
        "model_load_s": load_s,
        "stages_words_per_s": {
            "read_and_parse": rate(read_s),
            "encode (tokenize, lexicon, features)": rate(encode_s),
            "tagger forward, 1 core": rate(tag_s),
            "decision forward, 1 core": rate(decision_s),
            "forward (tagger + decision), 1 core": rate(tag_s + decision_s),
            "forward (tagger + decision), 2 cores": rate(forward_2core_s),
            "viterbi decode": rate(decode_s),
        },
        "stage_seconds_1_core": {
            "read_and_parse": read_s,
            "encode": encode_s,
            "tagger_forward": tag_s,
            "decision_forward": decision_s,
            "decode": decode_s,
        },
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
