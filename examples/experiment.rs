//! One held-out split, for quick experiments: 80% of the letters for training (15% of those
//! for dev), 20% for test; prints per-label and decision figures, a sample of DIAGNOSIS errors
//! and every wrong decision to stderr, and the test report as JSON to stdout.
//!
//! `cargo run --release --example experiment -- EPOCHS`, with DROPOUT, WORD_DROPOUT, HIDDEN,
//! LR, PATIENCE, NGRAM_DIM, MASK_VERDICTS, AUGMENT and LEXICON_FILTER (0 or 1) overriding the
//! defaults from the environment. The single-split figures in
//! README.md ("What was measured") came from this at the commits that made each change.

use imr::annotation::Label;
use imr::predict::Inference;
use imr::train::{self, Progress, TrainConfig};

fn env<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let epochs: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let letters =
        imr::annotation::corpus::load(&["data/dwc-letters".into(), "data/seeds".into()]).unwrap();
    let lexicon =
        imr::encode::lexicon::Lexicon::from_data_dir(std::path::Path::new("data")).unwrap();
    let (rest, test) = train::split_dev(letters, 0.2, 99);
    let (tr, dev) = train::split_dev(rest, 0.15, 7);
    let d = TrainConfig::default();
    let cfg = TrainConfig {
        model: imr::model::ModelConfig {
            dropout: env("DROPOUT", d.model.dropout),
            hidden: env("HIDDEN", d.model.hidden),
            ngram_dim: env("NGRAM_DIM", d.model.ngram_dim),
            ..d.model.clone()
        },
        epochs,
        word_dropout: env("WORD_DROPOUT", d.word_dropout),
        learning_rate: env("LR", d.learning_rate),
        patience: env("PATIENCE", d.patience),
        mask_verdicts: env("MASK_VERDICTS", d.mask_verdicts),
        augment: env("AUGMENT", d.augment),
        lexicon_filter: env("LEXICON_FILTER", u8::from(d.lexicon_filter)) == 1,
        ..d
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
    let bio = imr::predict::Inference {
        decoding: imr::decode::Decoding::Bio,
        ..Inference::of(&trained)
    };
    let (r, scored) = imr::eval::evaluate(&bio, &test).unwrap();
    let mut shown = 0;
    for sc in &scored {
        let l = &sc.letter.letter;
        let pred: Vec<_> = sc
            .prediction
            .entities
            .iter()
            .map(|e| e.0)
            .filter(|e| e.label == Label::Diagnosis)
            .collect();
        for g in sc
            .letter
            .entities
            .iter()
            .filter(|e| e.label == Label::Diagnosis)
        {
            if !pred.contains(g) && shown < 60 {
                let over: Vec<String> = pred
                    .iter()
                    .filter(|p| p.span().overlaps(&g.span()))
                    .map(|p| l.slice(p.span()).replace('\n', " "))
                    .collect();
                eprintln!(
                    "FN {:?} predicted {:?}",
                    l.slice(g.span()).replace('\n', " "),
                    over
                );
                shown += 1;
            }
        }
        for (item, &p) in l.items.iter().zip(&sc.prediction.p_overturned) {
            let stated = item.stated_decision.unwrap();
            if (p >= 0.5) != (stated == imr::Decision::Overturned) {
                let start: String = l.slice(item.rationale).chars().take(150).collect();
                eprintln!(
                    "DECISION {} stated {stated} p {p:.3}: {}",
                    sc.letter.name(),
                    start.replace('\n', " ")
                );
            }
        }
    }
    for (l, p) in &r.entities.strict.per_label {
        eprintln!(
            "{l:<16} strict {:.3} lenient {:.3} (n={})",
            p.f1, r.entities.lenient.per_label[l].f1, p.support
        );
    }
    let dm = &r.decisions.model;
    eprintln!(
        "micro strict {:.3} lenient {:.3}; decisions acc {:.3} macro-F1 {:.3} Overturned recall {:.3} AUC {:?}",
        r.entities.strict.micro.f1,
        r.entities.lenient.micro.f1,
        dm.accuracy,
        dm.macro_f1,
        dm.per_class["Overturned"].recall,
        dm.roc_auc
    );
    let whole = imr::predict::Inference {
        decoding: imr::decode::Decoding::Full,
        ..Inference::of(&trained)
    };
    let (w, _) = imr::eval::evaluate(&whole, &test).unwrap();
    for (l, p) in &w.entities.strict.per_label {
        eprintln!(
            "full decoding: {l:<16} strict {:.3} lenient {:.3}",
            p.f1, w.entities.lenient.per_label[l].f1
        );
    }
    eprintln!(
        "full decoding: micro strict {:.3} lenient {:.3}",
        w.entities.strict.micro.f1, w.entities.lenient.micro.f1
    );
    let rules = Inference::of(&trained);
    let (d, _) = imr::eval::evaluate(&rules, &test).unwrap();
    eprintln!(
        "rules decoding: micro strict {:.3} lenient {:.3}",
        d.entities.strict.micro.f1, d.entities.lenient.micro.f1
    );
    let masked: Vec<_> = test
        .iter()
        .map(|l| imr::annotation::corpus::LabelledLetter {
            letter: imr::eval::baselines::mask_conclusions(&l.letter).unwrap().0,
            entities: l.entities.clone(),
        })
        .collect();
    let (m, _) = imr::eval::evaluate(&rules, &masked).unwrap();
    eprintln!(
        "masked decisions: macro-F1 {:.3} AUC {:?}",
        m.decisions.model.macro_f1, m.decisions.model.roc_auc
    );
    println!("{}", serde_json::to_string_pretty(&r).unwrap());
}
