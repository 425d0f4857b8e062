//! One train/test split: trains on 80% of the letters and prints the test report.
use imr::train::{self, Progress, TrainConfig};
fn main() {
    let args: Vec<String> = std::env::args().collect();
    let epochs: usize = args.get(1).map_or(10, |s| s.parse().unwrap());
    let letters = imr::corpus::load(&["data/dwc-letters".into(), "data/seeds".into()]).unwrap();
    let lexicon = imr::lexicon::Lexicon::from_data_dir(std::path::Path::new("data")).unwrap();
    let (rest, test) = train::split_dev(letters, 0.2, 99);
    let (tr, dev) = train::split_dev(rest, 0.15, 7);
    let cfg = TrainConfig {
        epochs,
        ..Default::default()
    };
    eprintln!("train {} dev {} test {}", tr.len(), dev.len(), test.len());
    let t = std::time::Instant::now();
    let trained = train::train(&cfg, &tr, &dev, lexicon, &mut |p| {
        if let Progress::Epoch(e) = p {
            eprintln!("{}", serde_json::to_string(e).unwrap());
        }
    })
    .unwrap();
    eprintln!(
        "trained in {:?}; calibration {:?}",
        t.elapsed(),
        trained.config.calibration
    );
    let (r, _) = imr::eval::evaluate(&trained.inference(), &test).unwrap();
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
}
