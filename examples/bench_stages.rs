//! Where `predict` spends its time: each stage of the pipeline timed on its own over the letters
//! given (default: data/dwc-letters/*.txt) with the shipped model, in words per second: each on
//! one thread (rayon and candle's matrix products alike), then the forward passes on two as
//! `predict` runs them. Used by `scripts/bench.sh`; prints one JSON object.
//!
//!   cargo run --release --example bench_stages [DIR]

use std::path::PathBuf;
use std::time::Instant;

use imr::artifacts::Model;
use imr::decode::viterbi::viterbi_words;
use imr::encode::EncodedLetter;
use imr::letter::Letter;
use imr::normalize::Normalizer;
use imr::output::record::LetterRecord;
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

    // Every stage on one thread (rayon's pool and candle's matrix products), then the forward
    // passes on two as `predict` runs them (batches on both threads at once). candle reads
    // RAYON_NUM_THREADS at each product.
    std::env::set_var("RAYON_NUM_THREADS", "1");
    let one = rayon::ThreadPoolBuilder::new().num_threads(1).build()?;
    let two = rayon::ThreadPoolBuilder::new().num_threads(2).build()?;

    let t = Instant::now();
    let model = Model::load(&root.join("models/default"))?;
    let load_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let normalizer = Normalizer::built_in();
    let normalizer_s = t.elapsed().as_secs_f64();
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

    let (encode_s, tokens, tag_s, decision_s, decode_s, records_s, encoded) =
        one.install(|| -> anyhow::Result<_> {
            let t = Instant::now();
            let encoded: Vec<EncodedLetter> = letters
                .iter()
                .map(|l| inference.encode(l))
                .collect::<Result<_, _>>()?;
            let encode_s = t.elapsed().as_secs_f64();
            let tokens: usize = encoded.iter().map(|e| e.len()).sum();
            let t = Instant::now();
            let tag_lp = inference.tag_log_probs(&encoded)?;
            let tag_s = t.elapsed().as_secs_f64();
            let t = Instant::now();
            let logits = inference.decision_logits(&encoded)?;
            let decision_s = t.elapsed().as_secs_f64();
            // Viterbi alone, then the whole decoding (rules included) and the records.
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
            let t = Instant::now();
            for (((l, enc), lp), z) in letters.iter().zip(&encoded).zip(&tag_lp).zip(logits) {
                let p = inference.decode(enc, &mut lp.clone(), z);
                std::hint::black_box(LetterRecord::predicted("x", l, &p, normalizer));
            }
            let records_s = t.elapsed().as_secs_f64();
            Ok((
                encode_s, tokens, tag_s, decision_s, decode_s, records_s, encoded,
            ))
        })?;

    std::env::set_var("RAYON_NUM_THREADS", "2");
    let t = Instant::now();
    two.install(|| -> anyhow::Result<()> {
        inference.decision_logits(&encoded)?;
        inference.tag_log_probs(&encoded)?;
        Ok(())
    })?;
    let forward_2_s = t.elapsed().as_secs_f64();

    let rate = |s: f64| (words as f64 / s).round();
    let report = serde_json::json!({
        "letters": letters.len(),
        "words": words,
        "tokens": tokens,
        "model_load_s": load_s,
        "normalizer_build_s": normalizer_s,
        "stages_words_per_s": {
            "read_and_parse": rate(read_s),
            "encode (tokenize, lexicon, features), 1 thread": rate(encode_s),
            "tagger forward, 1 thread": rate(tag_s),
            "decision forward, 1 thread": rate(decision_s),
            "forward (tagger + decision), 1 thread": rate(tag_s + decision_s),
            "forward (tagger + decision), 2 threads": rate(forward_2_s),
            "viterbi decode, 1 thread": rate(decode_s),
            "decode with rules + records, 1 thread": rate(records_s),
        },
        "stage_seconds_1_thread": {
            "read_and_parse": read_s,
            "encode": encode_s,
            "tagger_forward": tag_s,
            "decision_forward": decision_s,
            "decode": decode_s,
            "decode_rules_records": records_s,
        },
        "forward_seconds_2_threads": forward_2_s,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}
