//! How far windowed tagging is from one pass over the whole letter, for a trained model: the
//! convolutions' outputs depend on a bounded stretch of tokens, so their windows equal one pass
//! exactly; the LSTM's depend on the whole window, so its windows (with `LSTM_CONTEXT` tokens of
//! margin) only come close. Prints, over the tokens of the 130 DWC letters, the largest
//! difference in tag log-probability, how many tokens differ by more than 0.01, and how many
//! change their most probable tag.
//!
//!   cargo run --release --example window_check -- models/default

use std::path::Path;

use imr::artifacts::Model;
use imr::predict::Inference;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args().nth(1).unwrap_or("models/default".into());
    let model = Model::load(Path::new(&dir))?;
    let letters = imr::annotation::corpus::load(&["data/dwc-letters".into()])?;
    let mut inference = Inference::of(&model);
    let encoded = letters
        .iter()
        .map(|l| inference.encode(&l.letter))
        .collect::<Result<Vec<_>, _>>()?;
    let windowed = inference.tag_log_probs(&encoded)?;
    let mut whole_letter = model.config.model.clone();
    whole_letter.window = 1_000_000;
    inference.config = &whole_letter;
    let one_pass = inference.tag_log_probs(&encoded)?;

    let tags = model.config.model.num_tags;
    let best = |v: &[f32]| (0..v.len()).max_by(|&a, &b| v[a].total_cmp(&v[b]));
    let (mut tokens, mut worst, mut over, mut changed) = (0, 0f32, 0, 0);
    for (a, b) in windowed.iter().zip(&one_pass) {
        for (x, y) in a.chunks(tags).zip(b.chunks(tags)) {
            tokens += 1;
            let d = x
                .iter()
                .zip(y)
                .map(|(p, q)| (p - q).abs())
                .fold(0f32, f32::max);
            worst = worst.max(d);
            over += usize::from(d > 0.01);
            changed += usize::from(best(x) != best(y));
        }
    }
    println!(
        "{dir}: {tokens} tokens in {} letters; largest difference {worst:.2e}, \
         {over} tokens differ by more than 0.01, {changed} change their most probable tag",
        letters.len()
    );
    Ok(())
}
