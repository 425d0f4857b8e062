//! Scores an ensemble of kept cross-validation fold models: each fold's test letters are tagged
//! by every member, their tag probabilities averaged (and their calibrated P(Overturned)), and
//! the mean decoded with the default decoding of the first member. The members must come from
//! `imr eval --cv 5 --seed 13 --fold-models DIR` runs over the same letters (same folds).
//!
//! `cargo run --release --example ensemble_check -- DIR...`

use imr::annotation::Label;
use imr::artifacts::Model;
use imr::cv;
use imr::eval::{self, Scored};
use imr::predict::Inference;

fn main() {
    let dirs: Vec<std::path::PathBuf> = std::env::args().skip(1).map(Into::into).collect();
    assert!(!dirs.is_empty(), "usage: ensemble_check FOLD_MODEL_DIR...");
    let letters =
        imr::annotation::corpus::load(&["data/dwc-letters".into(), "data/seeds".into()]).unwrap();
    let k = 5;
    let fold_of = cv::assign_folds(&letters, k, 13);
    let mut pooled = Vec::new();
    let (mut diag, mut micro) = (Vec::new(), Vec::new());
    for f in 0..k {
        // Folds not trained yet (a run still going) are left out.
        if !dirs.iter().all(|d| {
            d.join(format!("fold-{}", f + 1))
                .join("config.json")
                .is_file()
        }) {
            continue;
        }
        let members: Vec<Model> = dirs
            .iter()
            .map(|d| Model::load(&d.join(format!("fold-{}", f + 1))).unwrap())
            .collect();
        let test: Vec<_> = letters
            .iter()
            .zip(&fold_of)
            .filter(|(_, &g)| g == f)
            .map(|(l, _)| l)
            .collect();
        let first = Inference::of(&members[0]);
        let encoded: Vec<_> = test
            .iter()
            .map(|l| first.encode(&l.letter).unwrap())
            .collect();
        let mut probs: Vec<Vec<f32>> = encoded
            .iter()
            .map(|e| vec![0.0; e.len() * imr::annotation::tags::NUM_TAGS])
            .collect();
        let mut p_over: Vec<Vec<f32>> = encoded
            .iter()
            .map(|e| vec![0.0; e.rationales.len()])
            .collect();
        for m in &members {
            let inf = Inference::of(m);
            for (acc, lp) in probs.iter_mut().zip(inf.tag_log_probs(&encoded).unwrap()) {
                for (a, l) in acc.iter_mut().zip(lp) {
                    *a += l.exp() / members.len() as f32;
                }
            }
            for (acc, dl) in p_over
                .iter_mut()
                .zip(inf.decision_logits(&encoded).unwrap())
            {
                for (a, z) in acc.iter_mut().zip(dl) {
                    *a += inf.calibration.probability(z) / members.len() as f32;
                }
            }
        }
        let mut scored = Vec::new();
        for (((l, enc), p), po) in test.iter().zip(&encoded).zip(&probs).zip(p_over) {
            let mut lp: Vec<f32> = p.iter().map(|x| x.max(1e-12).ln()).collect();
            let mut prediction = first.decode(enc, &mut lp, vec![0.0; po.len()]);
            prediction.p_overturned = po;
            scored.push(Scored {
                letter: l,
                prediction,
            });
        }
        let r = eval::report(&scored);
        let d = r.entities.strict.per_label[Label::Diagnosis.as_str()].f1;
        eprintln!(
            "fold {}: strict micro {:.4} DIAGNOSIS {:.4} macro-F1 {:.3}",
            f + 1,
            r.entities.strict.micro.f1,
            d,
            r.decisions.model.macro_f1
        );
        diag.push(d);
        micro.push(r.entities.strict.micro.f1);
        pooled.extend(scored);
    }
    let r = eval::report(&pooled);
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
    println!(
        "fold mean: strict micro {:.4} DIAGNOSIS {:.4}",
        mean(&micro),
        mean(&diag)
    );
    for (l, st, le) in r.entities.rows() {
        println!("pooled {l:<16} strict {:.4} lenient {:.4}", st.f1, le.f1);
    }
    let d = &r.decisions.model;
    println!(
        "decisions macro-F1 {:.3} Overturned recall {:.3} AUC {:?}",
        d.macro_f1, d.per_class["Overturned"].recall, d.roc_auc
    );
}
