//! How fast each candidate encoder runs on this machine's CPU: one training batch (forward and
//! backward, 16 windows of 256 tokens) and one inference batch (forward, 16 windows of 512),
//! for the dilated convolutions alone, with one or two local attention layers on top, with
//! `imr`'s bidirectional LSTM layer on top, that layer in place of the convolutions, and
//! candle-nn's LSTM (one step at a time, the input product inside each step; the backward
//! direction fed the reversed sequence) in place of the convolutions, and the convolutions with
//! character n-gram vectors (32 wide) beside the embedding. Sizes as the shipped model's (hidden 128); embedding,
//! features and input projection the same for all; no dropout. Random weights and tokens: speed
//! only. Prints one line per encoder, median of 5 runs after a warm-up.
//!
//!   cargo run --release --example encoder_speed

use std::time::Instant;

use candle_core::{DType, Device, Tensor};
use candle_nn::rnn::{LSTMConfig, RNN};
use candle_nn::{VarBuilder, VarMap};
use imr::encode::features::FEATURE_DIM;
use imr::encode::ngrams::NGRAMS_PER_TOKEN;
use imr::encode::Batch;
use imr::model::{Encoder, ModelConfig, FORMAT_VERSION};

const BATCH: usize = 16;

fn config(
    dilations: &[usize],
    attention_layers: usize,
    lstm_units: usize,
    ngram_dim: usize,
) -> ModelConfig {
    ModelConfig {
        format_version: FORMAT_VERSION,
        vocab_size: 4000,
        embed_dim: 96,
        feature_dim: FEATURE_DIM,
        hidden: 128,
        kernel: 3,
        dilations: dilations.to_vec(),
        dropout: 0.3,
        num_tags: 11,
        window: 512,
        window_margin: 32,
        rationale_tokens: 384,
        attention_layers,
        attention_heads: if attention_layers > 0 { 4 } else { 0 },
        attention_radius: if attention_layers > 0 { 16 } else { 0 },
        lstm_units,
        lstm_tagger_units: 0,
        ngram_dim,
        crf: false,
    }
}

/// A batch of `BATCH` windows of `seq` tokens, each with 12 n-grams.
fn inputs(seq: usize, dev: &Device) -> candle_core::Result<Batch> {
    let ids: Vec<u32> = (0..BATCH * seq).map(|i| (i * 7919 % 4000) as u32).collect();
    let k = NGRAMS_PER_TOKEN;
    let ngrams: Vec<u32> = (0..BATCH * seq * k)
        .map(|i| {
            if i % k < 12 {
                (i * 104_729 % 8191 + 1) as u32
            } else {
                0
            }
        })
        .collect();
    let weights: Vec<f32> = (0..BATCH * seq * k)
        .map(|i| if i % k < 12 { 1.0 / 12.0 } else { 0.0 })
        .collect();
    Ok(Batch {
        ids: Tensor::from_vec(ids, (BATCH, seq), dev)?,
        features: Tensor::zeros((BATCH, seq, FEATURE_DIM), DType::F32, dev)?,
        mask: Tensor::ones((BATCH, seq), DType::F32, dev)?,
        ngrams: Some((
            Tensor::from_vec(ngrams, (BATCH, seq, k), dev)?,
            Tensor::from_vec(weights, (BATCH, seq, k), dev)?,
        )),
        seq,
    })
}

/// Median seconds of `f` over 5 runs after one warm-up.
fn median(mut f: impl FnMut() -> candle_core::Result<()>) -> candle_core::Result<f64> {
    f()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed().as_secs_f64());
    }
    times.sort_by(f64::total_cmp);
    Ok(times[2])
}

fn main() -> candle_core::Result<()> {
    let dev = Device::Cpu;
    let train_batch = inputs(256, &dev)?;
    let infer_batch = inputs(512, &dev)?;
    println!("encoder\ttrain batch (s)\tinference batch (s)");
    let convolutions: &[usize] = &[1, 2, 4, 8];
    for (name, dilations, layers, lstm, ngram) in [
        ("convolutions", convolutions, 0, 0, 0),
        ("convolutions + n-grams 32", convolutions, 0, 0, 32),
        ("convolutions + 1 attention layer", convolutions, 1, 0, 0),
        ("convolutions + 2 attention layers", convolutions, 2, 0, 0),
        (
            "convolutions + bidirectional LSTM 64 + 64",
            convolutions,
            0,
            64,
            0,
        ),
        ("bidirectional LSTM 64 + 64 alone", &[], 0, 64, 0),
    ] {
        let varmap = VarMap::new();
        let encoder = Encoder::new(
            &config(dilations, layers, lstm, ngram),
            VarBuilder::from_varmap(&varmap, DType::F32, &dev),
        )?;
        let train = median(|| {
            let h = encoder.forward(&train_batch, None)?;
            h.sqr()?.mean_all()?.backward().map(|_| ())
        })?;
        let infer = median(|| encoder.infer(&infer_batch).map(|_| ()))?;
        println!("{name}\t{train:.3}\t{infer:.3}");
    }

    // The LSTM in place of the convolutions: the encoder without blocks gives the embedding,
    // features and input projection.
    let varmap = VarMap::new();
    let vb = VarBuilder::from_varmap(&varmap, DType::F32, &dev);
    let input = Encoder::new(&config(&[], 0, 0, 0), vb.pp("input"))?;
    let forward = candle_nn::lstm(128, 64, LSTMConfig::default(), vb.pp("fwd"))?;
    let backward = candle_nn::lstm(128, 64, LSTMConfig::default(), vb.pp("bwd"))?;
    let run = |batch: &Batch| -> candle_core::Result<Tensor> {
        let x = input.forward(batch, None)?;
        let seq = x.dim(1)?;
        let reverse = Tensor::from_vec((0..seq as u32).rev().collect(), seq, &dev)?;
        let there = forward.states_to_tensor(&forward.seq(&x)?)?;
        let back = backward.states_to_tensor(&backward.seq(&x.index_select(&reverse, 1)?)?)?;
        Tensor::cat(&[&there, &back.index_select(&reverse, 1)?], 2)
    };
    let train = median(|| {
        let h = run(&train_batch)?;
        h.sqr()?.mean_all()?.backward().map(|_| ())
    })?;
    let infer = median(|| run(&infer_batch).map(|_| ()))?;
    println!("candle-nn bidirectional LSTM 64 + 64 alone\t{train:.3}\t{infer:.3}");
    Ok(())
}
