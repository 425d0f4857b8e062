//! The normalisers on the hand gold of `data/normalization/`, with every miss:
//! `cargo run --release --example normalization [THRESHOLD]`.

use std::path::Path;
use std::time::Instant;

use imr::eval::normalization::{evaluate, link_all, read_diagnosis_gold};
use imr::normalize::Normalizer;

fn main() -> imr::Result<()> {
    let t = Instant::now();
    let mut n = Normalizer::from_data_dir(Path::new("data"))?;
    eprintln!("tables read in {:.2} s", t.elapsed().as_secs_f64());
    if let Some(t) = std::env::args().nth(1) {
        n = n.with_threshold(t.parse().expect("a threshold"));
    }
    let gold = Path::new("data/normalization");
    let r = evaluate(&n, gold)?;
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
    let dx = read_diagnosis_gold(&gold.join("diagnoses.tsv"))?;
    let t = Instant::now();
    let links = link_all(&n, &dx);
    eprintln!("{} links in {:.3} s", dx.len(), t.elapsed().as_secs_f64());
    for (g, l) in dx.iter().zip(&links) {
        let got = l.as_ref().map(|(c, s)| format!("{c} {s:.2}"));
        let ok = match l {
            Some((c, s)) if *s >= n.threshold => g.codes.contains(c),
            _ => g.codes.is_empty(),
        };
        if !ok && imr::eval::normalization::is_read(&g.letter) {
            let title = l.as_ref().and_then(|(c, _)| n.codes.title(c)).unwrap_or("");
            println!(
                "{:50} gold {:30} got {:?} {}",
                g.mention,
                g.codes.join("|"),
                got,
                title
            );
        }
    }
    Ok(())
}
