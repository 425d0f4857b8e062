//! The tokenizer, the network and the model directory, on real letters with tiny sizes so
//! that training takes seconds.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use imr::annotation::corpus::{self, LabelledLetter};
use imr::artifacts::Model;
use imr::encode::lexicon::Lexicon;
use imr::model::{ImrModel, ModelConfig, CRF_CONTEXT, LSTM_CONTEXT};
use imr::predict::Inference;
use imr::tokenize::{bio_to_spans, spans_to_bio, LetterTokenizer};
use imr::train::{self, TrainConfig};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn all_letters() -> &'static Vec<LabelledLetter> {
    static L: OnceLock<Vec<LabelledLetter>> = OnceLock::new();
    L.get_or_init(|| {
        corpus::load(&[root().join("data/dwc-letters"), root().join("data/seeds")]).unwrap()
    })
}

fn lexicon() -> Lexicon {
    static L: OnceLock<Lexicon> = OnceLock::new();
    L.get_or_init(|| Lexicon::from_data_dir(&root().join("data")).unwrap())
        .clone()
}

#[test]
fn the_built_in_model_is_models_default_and_its_lexicon_is_the_one_data_builds() {
    // `train` without --lexicons trains with the built-in model's lexicon: it must be what
    // data/ gives, or the default training would change with where it runs.
    let built_in = Model::built_in().unwrap();
    // The shipped lexicon holds the drug entries its training set aside as ordinary words;
    // with them restored it is what data/ builds.
    assert!(built_in.lexicon.clone().with_all_drugs() == lexicon());
    let shipped = Model::load(&root().join("models/default")).unwrap();
    assert_eq!(
        serde_json::to_string(&built_in.config).unwrap(),
        serde_json::to_string(&shipped.config).unwrap(),
        "rebuild imr after retraining models/default"
    );
}

fn tiny_config(seed: u64, epochs: usize) -> TrainConfig {
    let d = TrainConfig::default();
    TrainConfig {
        model: ModelConfig {
            vocab_size: 600,
            embed_dim: 16,
            hidden: 24,
            // The shipped shape, small: a second tagger beside the convolutional one.
            lstm_tagger_units: 8,
            ..d.model.clone()
        },
        seed,
        epochs,
        train_window: 128,
        batch_size: 8,
        learning_rate: 5e-3,
        patience: 100,
        ..d
    }
}

/// `tiny_config` with its network changed by `shape`.
fn tiny_shaped(seed: u64, epochs: usize, shape: impl FnOnce(&mut ModelConfig)) -> TrainConfig {
    let mut cfg = tiny_config(seed, epochs);
    shape(&mut cfg.model);
    cfg
}

/// Six letters (two with an Overturned item) for training, three for dev.
fn tiny_split() -> (Vec<LabelledLetter>, Vec<LabelledLetter>) {
    let letters = all_letters();
    let (pos, neg): (Vec<_>, Vec<_>) = letters.iter().cloned().partition(train::has_overturned);
    let train: Vec<_> = pos[..2].iter().chain(&neg[..4]).cloned().collect();
    let dev: Vec<_> = pos[2..3].iter().chain(&neg[4..6]).cloned().collect();
    (train, dev)
}

fn tiny_trained(seed: u64, epochs: usize) -> Model {
    let (tr, dev) = tiny_split();
    train::train(
        &tiny_config(seed, epochs),
        &tr,
        &dev,
        lexicon(),
        &mut |_| {},
    )
    .unwrap()
}

fn save(trained: &Model, dir: &Path) {
    trained.save(dir).unwrap();
}

/// A tiny model saved once for the CLI tests.
fn tiny_model_dir() -> &'static PathBuf {
    static D: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    &D.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("tiny");
        save(&tiny_trained(5, 4), &dir);
        (tmp, dir)
    })
    .1
}

#[test]
fn tokenizer_saves_and_loads_to_the_same_encoding() {
    let texts: Vec<&str> = all_letters()
        .iter()
        .take(20)
        .map(|l| l.letter.text.as_str())
        .collect();
    let tok = LetterTokenizer::train(&texts, 800).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("tokenizer.json");
    tok.save(&p).unwrap();
    let back = LetterTokenizer::load(&p).unwrap();
    assert_eq!(back.vocab_size(), tok.vocab_size());
    for l in all_letters().iter().skip(100) {
        assert_eq!(
            back.encode(&l.letter.text).unwrap(),
            tok.encode(&l.letter.text).unwrap()
        );
    }
    // Numbers and units are split so entity edges fall on token edges: "10/325mg" -> 10 / 325
    // mg, "#90" -> # 90, "74-96" -> 74 - 96 (pieces may split further, never merge across).
    let text = "Norco 10/325mg #90, Page(s): 74-96";
    let t = tok.encode(text).unwrap();
    let edges: std::collections::HashSet<usize> =
        t.offsets.iter().flat_map(|&(s, e)| [s, e]).collect();
    for edge in [6, 8, 9, 12, 14, 15, 16, 18, 29, 31, 32, 34] {
        assert!(
            edges.contains(&edge),
            "no token edge at {edge}: {:?}",
            t.offsets
        );
    }
}

#[test]
fn every_gold_span_survives_bio_and_back() {
    let texts: Vec<&str> = all_letters()
        .iter()
        .map(|l| l.letter.text.as_str())
        .collect();
    let tok = LetterTokenizer::train(&texts, 4000).unwrap();
    let mut n = 0;
    for l in all_letters() {
        let t = tok.encode(&l.letter.text).unwrap();
        // Offsets are characters: the slice at each token's offsets is the token's text.
        let chars: Vec<char> = l.letter.text.chars().collect();
        for &(s, e) in t.offsets.iter().take(50) {
            assert!(s < e && e <= chars.len());
        }
        let (tags, misaligned) = spans_to_bio(&t.offsets, &l.entities);
        assert_eq!(misaligned, 0, "{}", l.name());
        assert_eq!(bio_to_spans(&t.offsets, &tags), l.entities, "{}", l.name());
        n += l.entities.len();
    }
    assert_eq!(n, 3169);
}

#[test]
fn a_tiny_model_trains_in_seconds_and_its_loss_falls() {
    let t = tiny_trained(1, 6);
    let first = &t.log[0];
    let last = t.log.last().unwrap();
    assert_eq!(t.log.len(), 6);
    assert!(
        last.tag_loss < 0.7 * first.tag_loss,
        "tag loss {} -> {}",
        first.tag_loss,
        last.tag_loss
    );
    let early = (t.log[0].decision_loss + t.log[1].decision_loss) / 2.0;
    let late = (t.log[4].decision_loss + t.log[5].decision_loss) / 2.0;
    assert!(late < early, "decision loss {early} -> {late}");
    assert!(t.log.iter().any(|e| e.best) && t.log.iter().all(|e| e.dev_entity_f1.is_some()));
}

#[test]
fn the_last_epochs_weights_are_averaged() {
    let (tr, _) = tiny_split();
    let run = |average_last| {
        let cfg = TrainConfig {
            average_last,
            ..tiny_config(11, 3)
        };
        train::train(&cfg, &tr, &[], lexicon(), &mut |_| {}).unwrap()
    };
    let weights = |t: &Model| t.config.training["weights"].as_str().unwrap().to_string();
    let (plain, averaged) = (run(0), run(2));
    assert_eq!(weights(&plain), "epoch 3");
    assert_eq!(weights(&averaged), "mean of epochs 2-3");
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    save(&plain, &a);
    save(&averaged, &b);
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(bytes(&a) != bytes(&b), "averaging changed no weight");
    // Same epochs, same losses: averaging only chooses the weights kept at the end.
    let losses = |t: &Model| t.log.iter().map(|e| e.tag_loss).collect::<Vec<_>>();
    assert_eq!(losses(&plain), losses(&averaged));
    // With dev letters too, and both dev scores are recorded.
    let with_dev = tiny_trained(11, 3);
    assert_eq!(weights(&with_dev), "mean of epochs 1-3");
    let scores = &with_dev.config.training["dev_scores"];
    assert!(
        scores["average"].is_f64() && scores["best_epoch"].is_f64(),
        "{scores}"
    );
}

#[test]
fn same_data_and_seed_give_the_same_model() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, c) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("c"),
    );
    save(&tiny_trained(7, 2), &a);
    save(&tiny_trained(7, 2), &b);
    save(&tiny_trained(8, 2), &c);
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    // Compared as booleans: a failing assert_eq! would print megabytes of weights.
    assert!(bytes(&a) == bytes(&b), "same seed, different weights");
    assert!(bytes(&a) != bytes(&c), "different seeds, same weights");
    let tok = |d: &Path| std::fs::read(d.join("tokenizer.json")).unwrap();
    assert!(tok(&a) == tok(&b), "same data, different tokenizer");
    let text = |d: &Path, f: &str| std::fs::read_to_string(d.join(f)).unwrap();
    assert_eq!(text(&a, "config.json"), text(&b, "config.json"));
    assert_eq!(text(&a, "memory.tsv"), text(&b, "memory.tsv"));
}

#[test]
fn the_shipped_model_remembers_what_the_letters_gold_tags() {
    // `scripts/train_default.sh` trains on every labelled letter in data/, so its memory is
    // theirs; a stale models/default (data changed, model not retrained) fails here.
    let letters: Vec<&LabelledLetter> = all_letters().iter().collect();
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("memory.tsv");
    imr::decode::memory::Memory::from_letters(&letters)
        .save(&fresh)
        .unwrap();
    let shipped = root().join("models/default/memory.tsv");
    assert!(
        std::fs::read(&fresh).unwrap() == std::fs::read(&shipped).unwrap(),
        "models/default/memory.tsv differs from the memory of data/: retrain the default model"
    );
    let m = imr::decode::memory::Memory::load(&shipped).unwrap();
    assert!(m.len() > 500, "{} phrases", m.len());
}

#[test]
fn save_then_load_gives_identical_predictions() {
    let trained = tiny_trained(3, 3);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("m");
    save(&trained, &path);
    for f in [
        "config.json",
        "labels.json",
        "tokenizer.json",
        "lexicon.txt.gz",
        "memory.tsv",
        "model.safetensors",
        "train_log.jsonl",
    ] {
        assert!(path.join(f).is_file(), "{f} missing");
    }
    // No temporary directory is left beside the model.
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    let loaded = Model::load(&path).unwrap();
    let letters: Vec<&imr::Letter> = all_letters()[40..45].iter().map(|l| &l.letter).collect();
    let before = Inference::of(&trained).predict(&letters).unwrap();
    let after = Inference::of(&loaded).predict(&letters).unwrap();
    assert_eq!(before, after);

    // Saving over a model replaces it whole, and a temporary directory left by a crashed save
    // is neither loaded nor left behind.
    let other = tiny_trained(4, 1);
    let stale = dir.path().join(format!(".m.tmp-{}", std::process::id()));
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("config.json"), "{").unwrap();
    save(&other, &path);
    let reloaded = Model::load(&path).unwrap();
    assert_eq!(
        Inference::of(&reloaded).predict(&letters).unwrap(),
        Inference::of(&other).predict(&letters).unwrap()
    );
    assert!(!stale.exists());
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn tagging_a_long_letter_in_windows_equals_one_pass() {
    windows_equal_one_pass(&tiny_trained(4, 1), 1e-4);
}

#[test]
fn with_attention_layers_windows_still_equal_one_pass() {
    // Local attention widens the receptive field by its radius per layer; the windows' margins
    // must follow, and padding within a batch must not reach real tokens through the scores.
    let (tr, dev) = tiny_split();
    let cfg = tiny_shaped(4, 2, |m| {
        m.attention_layers = 2;
        m.attention_heads = 2;
        m.attention_radius = 24;
        m.lstm_tagger_units = 0;
        // Softmax heads, so that the windows need the attention's context alone.
        m.crf = false;
    });
    let trained = train::train(&cfg, &tr, &dev, lexicon(), &mut |_| {}).unwrap();
    assert_eq!(trained.config.model.receptive_radius(), 15 + 2 * 24);
    let losses: Vec<f64> = trained.log.iter().map(|e| e.tag_loss).collect();
    assert!(losses[1] < losses[0], "tag loss did not fall: {losses:?}");
    windows_equal_one_pass(&trained, 1e-4);
}

#[test]
fn with_an_lstm_layer_windows_nearly_equal_one_pass() {
    // The LSTM reads its whole window, so windowed tagging cannot equal one pass exactly; with
    // `LSTM_CONTEXT` tokens of margin the difference must stay far below what moves a decoded
    // tag (1e-6 here; 0.34 with no margin). The layer alone, without convolutions, so that
    // nothing else gives context; `--dilations` with no value trains this shape.
    let (tr, dev) = tiny_split();
    let cfg = tiny_shaped(4, 2, |m| {
        m.dilations = Vec::new();
        m.lstm_units = 12;
        m.crf = false;
    });
    let trained = train::train(&cfg, &tr, &dev, lexicon(), &mut |_| {}).unwrap();
    assert_eq!(trained.config.model.receptive_radius(), LSTM_CONTEXT);
    let losses: Vec<f64> = trained.log.iter().map(|e| e.tag_loss).collect();
    assert!(losses[1] < losses[0], "tag loss did not fall: {losses:?}");
    windows_equal_one_pass(&trained, 1e-4);
}

#[test]
fn a_second_lstm_tagger_trains_beside_the_main_one_and_leaves_it_as_it_was() {
    let (tr, dev) = tiny_split();
    let cfg = |units| tiny_shaped(6, 3, |m| m.lstm_tagger_units = units);
    let alone = train::train(&cfg(0), &tr, &dev, lexicon(), &mut |_| {}).unwrap();
    let both = train::train(&cfg(12), &tr, &dev, lexicon(), &mut |_| {}).unwrap();
    let second: Vec<f64> = both.log.iter().map(|e| e.lstm_tag_loss.unwrap()).collect();
    assert!(second[2] < 0.8 * second[0], "LSTM tagger loss {second:?}");
    assert!(alone.log.iter().all(|e| e.lstm_tag_loss.is_none()));

    // Its own variables and dropout generator: the main tagger, its encoder and the decision
    // head come out byte for byte as trained without it.
    let values = |t: &Model| {
        let data = t.varmap.data().lock().unwrap();
        data.iter()
            .map(|(k, v)| {
                (
                    k.clone(),
                    v.flatten_all().unwrap().to_vec1::<f32>().unwrap(),
                )
            })
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    let (a, b) = (values(&alone), values(&both));
    assert!(b
        .keys()
        .filter(|k| !a.contains_key(*k))
        .all(|k| k.starts_with("lstm_tagger.")));
    assert!(b.len() > a.len());
    for (name, v) in &a {
        assert!(b[name] == *v, "{name} differs");
    }

    // Tagging is the log of the two taggers' mean probabilities (each read in one pass).
    let one_pass = |model: &ModelConfig| ModelConfig {
        window: 100_000,
        ..model.clone()
    };
    let letters: Vec<&imr::Letter> = all_letters()[..2].iter().map(|l| &l.letter).collect();
    let mut inf = Inference::of(&both);
    let enc: Vec<_> = letters.iter().map(|l| inf.encode(l).unwrap()).collect();
    let whole = one_pass(&both.config.model);
    inf.config = &whole;
    let mean = inf.tag_log_probs(&enc).unwrap();
    let (encoder, tagger) = both.network.lstm_tagger.clone().unwrap();
    let main = ImrModel {
        lstm_tagger: None,
        ..both.network.clone()
    };
    let lstm = ImrModel {
        encoder,
        tagger,
        ..main.clone()
    };
    let main_cfg = ModelConfig {
        lstm_tagger_units: 0,
        ..whole.clone()
    };
    let lstm_cfg = one_pass(&both.config.model.lstm_tagger().unwrap());
    let read = |model: &ImrModel, config: &ModelConfig| {
        let inf = imr::predict::Inference {
            model,
            config,
            ..Inference::of(&both)
        };
        inf.tag_log_probs(&enc).unwrap()
    };
    let (p, q) = (read(&main, &main_cfg), read(&lstm, &lstm_cfg));
    for ((m, p), q) in mean.iter().zip(&p).zip(&q) {
        for ((m, p), q) in m.iter().zip(p).zip(q) {
            let expected = (0.5 * (p.exp() + q.exp())).ln();
            assert!((m - expected).abs() < 1e-5, "{m} against {expected}");
        }
    }
    assert!(
        p != q,
        "the two taggers agree exactly: one of them is not read"
    );

    // Windows of a long letter overlap by the LSTM's and the CRF's context, and the directory
    // round-trips.
    assert_eq!(
        both.config.model.receptive_radius(),
        LSTM_CONTEXT + CRF_CONTEXT
    );
    windows_equal_one_pass(&both, 1e-4);
    let dir = tempfile::tempdir().unwrap();
    save(&both, dir.path());
    let loaded = Model::load(dir.path()).unwrap();
    assert_eq!(
        Inference::of(&loaded).predict(&letters).unwrap(),
        Inference::of(&both).predict(&letters).unwrap()
    );
}

#[test]
fn crf_heads_train_reproducibly_and_tag_with_marginals() {
    let (tr, dev) = tiny_split();
    let cfg = tiny_shaped(6, 3, |m| m.crf = true);
    let a = train::train(&cfg, &tr, &dev, lexicon(), &mut |_| {}).unwrap();
    let losses: Vec<f64> = a.log.iter().map(|e| e.tag_loss).collect();
    assert!(losses[2] < 0.8 * losses[0], "CRF tag loss {losses:?}");
    // Both heads have their chain's scores, and they were trained away from zero.
    let data = a.varmap.data().lock().unwrap();
    for name in ["tagger.crf.transitions", "lstm_tagger.tagger.crf.boundary"] {
        let v: Vec<f32> = data[name].flatten_all().unwrap().to_vec1().unwrap();
        assert!(v.iter().any(|&x| x.abs() > 1e-3), "{name} untrained");
    }
    drop(data);

    // Seeded as the softmax heads are; the directory round-trips with `crf` in its config.
    let dir = tempfile::tempdir().unwrap();
    let (pa, pb) = (dir.path().join("a"), dir.path().join("b"));
    save(&a, &pa);
    save(
        &train::train(&cfg, &tr, &dev, lexicon(), &mut |_| {}).unwrap(),
        &pb,
    );
    let bytes = |d: &Path| std::fs::read(d.join("model.safetensors")).unwrap();
    assert!(bytes(&pa) == bytes(&pb), "same seed, different weights");
    let loaded = Model::load(&pa).unwrap();
    assert!(loaded.config.model.crf);
    let letters: Vec<&imr::Letter> = all_letters()[..2].iter().map(|l| &l.letter).collect();
    assert_eq!(
        Inference::of(&loaded).predict(&letters).unwrap(),
        Inference::of(&a).predict(&letters).unwrap()
    );

    // Each token's tag probabilities (the two heads' marginals averaged) sum to one.
    let inf = Inference::of(&a);
    let enc: Vec<_> = letters.iter().map(|l| inf.encode(l).unwrap()).collect();
    for lp in inf.tag_log_probs(&enc).unwrap() {
        for row in lp.chunks_exact(a.config.model.num_tags) {
            let s: f32 = row.iter().map(|v| v.exp()).sum();
            assert!((s - 1.0).abs() < 1e-4, "{s}");
        }
    }
    // The chain reaches past the encoders: windows keep its context too.
    assert_eq!(
        a.config.model.receptive_radius(),
        LSTM_CONTEXT + CRF_CONTEXT
    );
    windows_equal_one_pass(&a, 1e-4);
}

/// The window logic must give each token the output of a window where it has full context;
/// compare windowed inference against a window larger than the letter, up to `tolerance` in
/// log-probability. The windows keep only the receptive radius as margin, so that a radius too
/// small shows.
fn windows_equal_one_pass(trained: &Model, tolerance: f32) {
    let letters: Vec<&imr::Letter> = all_letters()[..3].iter().map(|l| &l.letter).collect();
    let mut inf = Inference::of(trained);
    let enc: Vec<_> = letters.iter().map(|l| inf.encode(l).unwrap()).collect();
    let mut tight = trained.config.model.clone();
    tight.window_margin = 0;
    inf.config = &tight;
    let windowed = inf.tag_log_probs(&enc).unwrap();
    let mut big = trained.config.model.clone();
    big.window = 100_000;
    inf.config = &big;
    let whole = inf.tag_log_probs(&enc).unwrap();
    for (a, b) in windowed.iter().zip(&whole) {
        assert!(
            a.len() > trained.config.model.window * 11,
            "letter shorter than one window tests nothing"
        );
        let worst = a
            .iter()
            .zip(b)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(worst < tolerance, "windowed differs by {worst}");
    }
}

/// Runs an `imr` command that must succeed, showing its stderr if it does not; its output.
fn run_ok(cmd: &mut Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn imr_bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imr"))
}

#[test]
fn predict_prints_the_documented_schema() {
    let model = tiny_model_dir();
    let out = run_ok(
        imr_bin()
            .args(["predict", "--model"])
            .arg(model)
            .arg(root().join("data/samples")),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for r in &lines {
        for key in ["file", "case_number", "items", "entities", "error"] {
            assert!(r.get(key).is_some(), "missing {key}: {r}");
        }
        assert!(r["error"].is_null());
        let text = std::fs::read_to_string(r["file"].as_str().unwrap()).ok();
        for e in r["entities"].as_array().unwrap() {
            let (s, end) = (
                e["start"].as_u64().unwrap() as usize,
                e["end"].as_u64().unwrap() as usize,
            );
            assert!(s < end);
            let score = e["score"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&score));
            assert!(["DRUG", "DOSE", "QUANTITY", "DIAGNOSIS", "GUIDELINE_PAGE"]
                .contains(&e["label"].as_str().unwrap()));
            if let Some(text) = &text {
                let slice: String = text.chars().skip(s).take(end - s).collect();
                assert_eq!(slice, e["text"].as_str().unwrap());
            }
        }
        for item in r["items"].as_array().unwrap() {
            for key in [
                "request",
                "request_span",
                "rationale_span",
                "stated_decision",
                "predicted_decision",
                "p_overturned",
                "agrees",
                "drug",
                "dose",
                "quantity",
            ] {
                assert!(item.get(key).is_some(), "item missing {key}: {item}");
            }
            let p = item["p_overturned"].as_f64().unwrap();
            assert!((0.0..=1.0).contains(&p));
            let predicted = item["predicted_decision"].as_str().unwrap();
            assert_eq!(predicted == "Overturned", p >= 0.5);
            assert_eq!(
                item["agrees"].as_bool().unwrap(),
                item["stated_decision"].as_str().unwrap() == predicted
            );
        }
    }

    let out = run_ok(
        imr_bin()
            .args(["predict", "--format", "csv", "--model"])
            .arg(model)
            .arg(root().join("data/samples/CM17-0013716.txt")),
    );
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        imr::output::csv::CSV_HEADER.to_vec()
    );
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4, "one row per disputed item");
    let cell = |row: &csv::StringRecord, name: &str| {
        let i = headers.iter().position(|h| h == name).unwrap();
        row[i].to_string()
    };
    assert_eq!(cell(&rows[0], "request"), "Naproxen 500mg #60");
    assert_eq!(cell(&rows[0], "decision_date"), "02/27/2017");
    assert_eq!(cell(&rows[0], "guidelines"), "MTUS");
    for row in &rows {
        for name in ["request", "verdict", "diagnoses"] {
            assert!(!cell(row, name).contains('\n'), "{name} keeps a line break");
        }
        // Paired columns have as many entries as each other.
        let n = |name: &str| cell(row, name).split("; ").count();
        assert_eq!(n("drug"), n("dose"));
        assert_eq!(n("drug"), n("quantity"));
    }
}

#[test]
fn eval_reports_json_with_every_figure() {
    let out = run_ok(
        imr_bin()
            .args(["eval", "--format", "json", "--model"])
            .arg(tiny_model_dir())
            .arg("--data")
            .arg(root().join("data/seeds")),
    );
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(r["letters"], 5);
    assert_eq!(r["items"]["expected"], 13);
    assert_eq!(r["items"]["found"], 13);
    for mode in ["strict", "lenient"] {
        for key in ["precision", "recall", "f1"] {
            assert!(r["entities"][mode]["micro"][key].is_number());
        }
        assert!(r["entities"][mode]["per_label"]["DIAGNOSIS"]["support"].is_number());
    }
    let d = &r["decisions"];
    for key in ["accuracy", "macro_f1", "roc_auc"] {
        assert!(d.get(key).is_some(), "{key}");
    }
    let total: u64 = ["Upheld", "Overturned"]
        .iter()
        .flat_map(|a| ["Upheld", "Overturned"].map(|b| d["confusion"][a][b].as_u64().unwrap()))
        .sum();
    assert_eq!(total, 13);
    // Seeds: 11 Upheld, 2 Overturned (tests/golden/seeds) -> majority baseline accuracy 11/13.
    assert!((d["majority_baseline"]["accuracy"].as_f64().unwrap() - 11.0 / 13.0).abs() < 1e-9);
}

#[test]
fn a_missing_model_is_a_clear_error() {
    let out = imr_bin()
        .args(["predict", "--model", "/nonexistent/model"])
        .arg(root().join("data/samples"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("/nonexistent/model"), "{err}");
}

#[test]
fn folds_are_stratified_balanced_and_seeded() {
    let letters = all_letters();
    let folds = imr::cv::assign_folds(letters, 5, 13);
    assert_eq!(folds, imr::cv::assign_folds(letters, 5, 13));
    assert_ne!(folds, imr::cv::assign_folds(letters, 5, 14));
    let with_overturned = letters.iter().filter(|l| train::has_overturned(l)).count();
    for f in 0..5 {
        let n = folds.iter().filter(|&&g| g == f).count();
        // 135 letters dealt round-robin: 27 per fold.
        assert_eq!(n, 27, "fold {f}");
        let pos = letters
            .iter()
            .zip(&folds)
            .filter(|(l, &g)| g == f && train::has_overturned(l))
            .count();
        // Letters with an Overturned item are dealt first, so folds differ by at most one.
        assert!(
            pos == with_overturned / 5 || pos == with_overturned.div_ceil(5),
            "fold {f}: {pos}"
        );
    }
}

#[test]
fn train_command_writes_a_model_that_predict_loads() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("seeds-model");
    run_ok(
        imr_bin()
            .args(["train", "--data"])
            .arg(root().join("data/seeds"))
            .arg("--out")
            .arg(&out)
            .args(["--lexicons"])
            .arg(root().join("data"))
            .args([
                "--epochs",
                "2",
                "--hidden",
                "16",
                "--embed-dim",
                "8",
                "--vocab-size",
                "300",
                "--dev-fraction",
                "0.4",
            ]),
    );
    let log = std::fs::read_to_string(out.join("train_log.jsonl")).unwrap();
    assert_eq!(log.lines().count(), 2, "one log line per epoch");
    let predict = run_ok(
        imr_bin()
            .args(["predict", "--model"])
            .arg(&out)
            .arg(root().join("data/seeds/000_ec6b414565aecb80.txt")),
    );
    let r: serde_json::Value = serde_json::from_slice(&predict.stdout).unwrap();
    assert_eq!(r["items"].as_array().unwrap().len(), 3);
}

#[test]
fn default_decoding_keeps_words_whole_and_edges_clean() {
    // The shipped model on a sample: no span edge inside a word, and no span beginning or
    // ending on a connective, severity word or separator (ANNOTATION.md).
    let sample = root().join("data/samples/CM17-0013716.txt");
    let out = run_ok(imr_bin().arg("predict").arg(&sample));
    let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let chars: Vec<char> = std::fs::read_to_string(&sample).unwrap().chars().collect();
    let same_class = |a: char, b: char| {
        (a.is_alphabetic() && b.is_alphabetic()) || (a.is_ascii_digit() && b.is_ascii_digit())
    };
    let entities = r["entities"].as_array().unwrap();
    assert!(entities.len() > 10, "the shipped model finds entities");
    for e in entities {
        for key in ["start", "end"] {
            let pos = e[key].as_u64().unwrap() as usize;
            if pos > 0 && pos < chars.len() {
                assert!(
                    !same_class(chars[pos - 1], chars[pos]),
                    "{e} cuts a word at {key}"
                );
            }
        }
        let text = e["text"].as_str().unwrap().to_lowercase();
        let words: Vec<&str> = text.split_whitespace().collect();
        for w in [words[0], words[words.len() - 1]] {
            assert!(
                !["and", "or", "of", "the", "with", ",", ";", "possible", "mild"].contains(&w),
                "{e} has an edge word"
            );
        }
        assert!(
            !text.ends_with([',', ';', ':', '.']),
            "{e} ends on a separator"
        );
    }
}

#[test]
fn predict_disagreements_keeps_only_contradicted_items() {
    // The sample letter, and a copy whose second item states the opposite decision: only that
    // item of that letter is worth a second look.
    let sample = root().join("data/samples/CM17-0013716.txt");
    let text = std::fs::read_to_string(&sample).unwrap();
    let flipped = text.replacen(
        "Pantoprazole 20mg #30: Upheld",
        "Pantoprazole 20mg #30: Overturned",
        1,
    );
    assert_ne!(flipped, text);
    let dir = tempfile::tempdir().unwrap();
    let edited = dir.path().join("flipped.txt");
    std::fs::write(&edited, flipped).unwrap();
    let out = run_ok(
        imr_bin()
            .args(["predict", "--disagreements"])
            .arg(&sample)
            .arg(&edited),
    );
    let lines: Vec<serde_json::Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 1, "only the edited letter");
    assert!(lines[0]["file"].as_str().unwrap().ends_with("flipped.txt"));
    let items = lines[0]["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["request"], "Pantoprazole 20mg #30");
    assert_eq!(items[0]["stated_decision"], "Overturned");
    assert_eq!(items[0]["predicted_decision"], "Upheld");
    assert_eq!(items[0]["agrees"], false);
    // In CSV the row keeps the item's number in its letter.
    let out = imr_bin()
        .args(["predict", "--disagreements", "--format", "csv"])
        .arg(&sample)
        .arg(&edited)
        .output()
        .unwrap();
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 1);
    let cell = |name: &str| &rows[0][headers.iter().position(|h| h == name).unwrap()];
    assert_eq!(
        [
            cell("item"),
            cell("request"),
            cell("stated_decision"),
            cell("predicted_decision")
        ],
        ["2", "Pantoprazole 20mg #30", "Overturned", "Upheld"]
    );
}

#[test]
fn eval_markdown_has_the_json_figures_as_tables() {
    let run = |format: &str| {
        let out = run_ok(
            imr_bin()
                .args(["eval", "--format", format, "--data"])
                .arg(root().join("data/seeds")),
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let md = run("markdown");
    let json: serde_json::Value = serde_json::from_str(&run("json")).unwrap();
    assert!(md.contains("| entity | strict P |"), "{md}");
    assert!(md.contains("| decisions (13 items) | model | majority baseline |"));
    assert!(md.contains("| stated \\ predicted | Upheld | Overturned |"));
    let micro = json["entities"]["strict"]["micro"]["f1"].as_f64().unwrap();
    let macro_f1 = json["decisions"]["macro_f1"].as_f64().unwrap();
    assert!(md.contains(&format!("{micro:.3}")), "{md}");
    assert!(
        md.contains(&format!("| macro-F1 | {macro_f1:.3} |")),
        "{md}"
    );
}

/// Two-fold cross-validation of a tiny model over `pos` letters with an Overturned item and
/// `neg` without, with the masked-verdict comparison.
fn tiny_cross_validation(
    pos: usize,
    neg: usize,
    seed: u64,
) -> (Vec<LabelledLetter>, imr::cv::CvReport) {
    let (some, cv, _) = tiny_cross_validation_kept(pos, neg, seed, None);
    (some, cv)
}

/// As `tiny_cross_validation`, keeping fold models in `fold_models`; also says how many
/// training steps ran.
fn tiny_cross_validation_kept(
    pos: usize,
    neg: usize,
    seed: u64,
    fold_models: Option<&Path>,
) -> (Vec<LabelledLetter>, imr::cv::CvReport, usize) {
    let (p, n): (Vec<_>, Vec<_>) = all_letters()
        .iter()
        .cloned()
        .partition(train::has_overturned);
    let some: Vec<LabelledLetter> = p[..pos].iter().chain(&n[..neg]).cloned().collect();
    let mut steps = 0;
    let cv = imr::cv::cross_validate(
        &tiny_config(seed, 1),
        &some,
        2,
        &lexicon(),
        true,
        fold_models,
        &mut |_, p| {
            if matches!(p, train::Progress::Step) {
                steps += 1;
            }
        },
    )
    .unwrap();
    (some, cv, steps)
}

#[test]
fn cross_validation_can_train_each_fold_on_all_its_letters() {
    let (p, n): (Vec<_>, Vec<_>) = all_letters()
        .iter()
        .cloned()
        .partition(train::has_overturned);
    let some: Vec<LabelledLetter> = p[..2].iter().chain(&n[..4]).cloned().collect();
    let dir = tempfile::tempdir().unwrap();
    let cfg = TrainConfig {
        dev_fraction: 0.0,
        ..tiny_config(5, 1)
    };
    imr::cv::cross_validate(
        &cfg,
        &some,
        2,
        &lexicon(),
        false,
        Some(dir.path()),
        &mut |_, _| {},
    )
    .unwrap();
    for fold in ["fold-1", "fold-2"] {
        let text = std::fs::read_to_string(dir.path().join(fold).join("config.json")).unwrap();
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(v["training"]["dev_letters"], 0, "{fold}");
        assert_eq!(v["training"]["train_letters"], 3, "{fold}");
        assert_eq!(v["training"]["config"]["dev_fraction"], 0.0, "{fold}");
    }
    // The default share is not written, so older directories read the same.
    let default = serde_json::to_value(TrainConfig::default()).unwrap();
    assert!(default.get("dev_fraction").is_none());
    // A share of 1 or more would leave nothing to train on.
    let out = imr_bin()
        .args([
            "eval",
            "--cv",
            "2",
            "--data",
            "data/seeds",
            "--dev-fraction",
            "1",
        ])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--dev-fraction") && err.contains("not a share"),
        "{err}"
    );
}

#[test]
fn cross_validation_reuses_kept_fold_models_only_for_the_same_letters_and_settings() {
    let dir = tempfile::tempdir().unwrap();
    let (_, first, trained) = tiny_cross_validation_kept(2, 4, 5, Some(dir.path()));
    assert!(trained > 0);
    assert!(dir.path().join("fold-1/model.safetensors").exists());
    assert!(dir.path().join("fold-2/fold-fingerprint.txt").exists());
    // The memory is not trained, so a kept fold's is rebuilt from its letters on reuse.
    let memory = dir.path().join("fold-1/memory.tsv");
    let remembered = std::fs::read(&memory).unwrap();
    assert!(!remembered.is_empty());
    std::fs::write(&memory, "").unwrap();
    let (_, again, retrained) = tiny_cross_validation_kept(2, 4, 5, Some(dir.path()));
    assert_eq!(retrained, 0, "both folds were loaded");
    assert!(std::fs::read(&memory).unwrap() == remembered);
    assert_eq!(
        serde_json::to_string(&first).unwrap(),
        serde_json::to_string(&again).unwrap()
    );
    // Other letters: trained afresh.
    let (_, _, other) = tiny_cross_validation_kept(2, 5, 5, Some(dir.path()));
    assert!(other > 0);
}

#[test]
fn cross_validation_scores_baselines_and_masked_verdicts_on_the_same_folds() {
    let (some, r) = tiny_cross_validation(4, 8, 5);
    assert_eq!(r.folds.len(), 2);
    let names: Vec<&str> = r.comparisons.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "baseline",
            "baseline_masked_conclusion",
            "model_masked_conclusion"
        ]
    );
    let items: usize = some.iter().map(|l| l.letter.items.len()).sum();
    for (name, c) in &r.comparisons {
        assert_eq!(c.folds.len(), 2, "{name}");
        assert_eq!(c.pooled.letters, some.len(), "{name}");
        assert_eq!(c.pooled.decisions.model.n, items, "{name}");
        assert!(c.mean.contains_key("decisions.macro_f1"), "{name}");
    }
    // The dictionary tagger finds drugs by name: far from nothing on real letters.
    let base = &r.comparisons["baseline"].pooled.entities.strict.per_label["DRUG"];
    assert!(base.f1 > 0.3, "{base:?}");
    // Each rule switched off alone, on the same models: every switchable pass is there, its
    // gain is the default decoding's strict micro-F1 minus its own, fold by fold.
    let passes: Vec<&str> = imr::decode::rules::PASSES
        .iter()
        .filter(|p| p.switchable)
        .map(|p| p.name)
        .collect();
    let mut measured: Vec<&str> = r.rules_off.keys().map(String::as_str).collect();
    let mut expected = passes.clone();
    expected.sort_unstable();
    measured.sort_unstable();
    assert_eq!(measured, expected);
    let default: Vec<f64> = r.folds.iter().map(|f| f.entities.strict.micro.f1).collect();
    let mean_default = default.iter().sum::<f64>() / default.len() as f64;
    for (name, p) in &r.rules_off {
        let back = p.strict_micro_f1.mean + p.gain.mean;
        assert!(
            (back - mean_default).abs() < 1e-9,
            "{name}: {back} vs {mean_default}"
        );
    }
    // The page-citation form is what finds every page: off, GUIDELINE_PAGE loses.
    let pages = &r.rules_off["page-forms"].gain_by_label;
    assert!(pages.contains_key("GUIDELINE_PAGE"), "{pages:?}");
    // Two folds: the first is read, the second sealed; each figure is also given on each
    // part alone, and a letter is sealed exactly when it is in the sealed fold.
    assert_eq!(
        (r.read_folds.clone(), r.sealed_folds.clone()),
        (vec![1], vec![2])
    );
    let rules = &r.decodings["rules"];
    assert_eq!(rules.strict_read.mean, default[0]);
    assert_eq!(rules.strict_sealed.mean, default[1]);
    assert_eq!(rules.strict_by_fold, default);
    for (name, p) in &r.rules_off {
        let mean = (p.gain_read.mean + p.gain_sealed.mean) / 2.0;
        assert!((mean - p.gain.mean).abs() < 1e-9, "{name}");
    }
    let sealed = r.sealed_letters.iter().filter(|&&s| s).count();
    assert_eq!(sealed, r.folds[1].letters);
    assert_eq!(r.sealed_letters.len(), some.len());
    // The HTML report lists the errors of the folds read only.
    let scored = r.scored(&some);
    let page = imr::output::report::html("cv", &r.pooled, Some(&r), &scored).unwrap();
    assert!(page.contains("id=\"sealed-note\""));
    for (s, &is_sealed) in scored.iter().zip(&r.sealed_letters) {
        let name = format!("<td>{}</td>", s.letter.name());
        if is_sealed {
            assert!(!page.contains(&name), "{name} is in a sealed fold");
        }
    }
}

/// A page that needs nothing but itself: no stylesheet, script, image or font from elsewhere.
fn assert_self_contained(page: &str) {
    for bad in [
        "<link",
        "<script src",
        "<img",
        "<iframe",
        "@import",
        "url(",
        "src=\"http",
        "href=\"http",
    ] {
        assert!(!page.contains(bad), "the page references {bad:?}");
    }
    // The only URL in an attribute is the SVG namespace, which is a name, not a fetch (letter
    // text quoted in the error tables may mention web addresses; that is content).
    let urls = page.matches("=\"http").count();
    let namespaces = page.matches("xmlns=\"http://www.w3.org/2000/svg\"").count();
    assert_eq!(
        urls, namespaces,
        "a URL attribute other than the SVG namespace"
    );
}

fn assert_has_ids(page: &str, ids: &[&str]) {
    for id in ids {
        assert!(
            page.contains(&format!("id=\"{id}\"")),
            "section {id} missing"
        );
    }
}

#[test]
fn eval_report_is_one_self_contained_page_with_every_section() {
    let dir = tempfile::tempdir().unwrap();
    let page_path = dir.path().join("r.html");
    run_ok(
        imr_bin()
            .args(["eval", "--mask-conclusion", "--data"])
            .arg(root().join("data/seeds"))
            .arg("--report")
            .arg(&page_path),
    );
    let page = std::fs::read_to_string(&page_path).unwrap();
    assert_self_contained(&page);
    assert_has_ids(
        &page,
        &[
            "summary",
            "charts",
            "decision-errors",
            "entity-errors",
            "label-filter",
        ],
    );
    for chart in [
        "Entity F1 per label",
        "Decisions: stated (rows) vs predicted (columns)",
        "ROC (positive: Overturned)",
        "Precision-recall for Overturned",
        "Reliability (Brier",
    ] {
        assert!(page.contains(chart), "chart {chart:?} missing");
    }
    assert_eq!(page.matches("<svg").count(), 5);
    assert!(page.contains("verdict sentences masked"));
    // Every strict entity error is listed: rows = FP + FN of the JSON report.
    let json = imr_bin()
        .args(["eval", "--format", "json", "--data"])
        .arg(root().join("data/seeds"))
        .output()
        .unwrap();
    let r: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let micro = &r["entities"]["strict"]["micro"];
    let (support, predicted) = (
        micro["support"].as_u64().unwrap() as f64,
        micro["predicted"].as_u64().unwrap() as f64,
    );
    let tp = micro["recall"].as_f64().unwrap() * support;
    let errors = (support - tp) + (predicted - tp);
    let rows = page.matches("<tr data-label=").count();
    assert_eq!(rows, errors.round() as usize);
}

#[test]
fn cross_validation_report_shows_folds_baselines_and_decodings() {
    let (some, cv) = tiny_cross_validation(2, 4, 6);
    let scored = cv.scored(&some);
    let page = imr::output::report::html("cv", &cv.pooled, Some(&cv), &scored).unwrap();
    assert_self_contained(&page);
    assert_has_ids(
        &page,
        &[
            "summary",
            "cv",
            "baselines",
            "charts",
            "decision-errors",
            "entity-errors",
        ],
    );
    for col in [
        "baseline",
        "model masked conclusion",
        "baseline masked conclusion",
    ] {
        assert!(
            page.contains(&format!("<th>{col}</th>")),
            "{col} column missing"
        );
    }
    for decoding in ["bio", "whole-words", "edges", "full", "rules"] {
        assert!(page.contains(&format!("<td>{decoding}</td>")));
    }
}

#[test]
fn every_rule_off_is_the_full_decoding_and_rules_never_touch_decisions() {
    // The shipped model on the sample letters: `--rules-off` with every pass equals
    // `--decode full`, byte for byte; with none off it is the default decoding.
    let samples = root().join("data/samples");
    let names: Vec<&str> = imr::decode::rules::PASSES
        .iter()
        .filter(|p| p.switchable)
        .map(|p| p.name)
        .collect();
    let predict = |args: &[&str]| run_ok(imr_bin().arg("predict").arg(&samples).args(args)).stdout;
    let full = predict(&["--decode", "full"]);
    assert_eq!(predict(&["--rules-off", &names.join(",")]), full);
    let default = predict(&[]);
    assert_eq!(predict(&["--rules-off", ""]), default);
    assert_ne!(default, full);
    // The rules change entities, never decisions.
    let decisions = |out: &[u8]| -> Vec<serde_json::Value> {
        String::from_utf8_lossy(out)
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).unwrap();
                v["items"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i["p_overturned"].clone())
                    .collect()
            })
            .collect()
    };
    let memory_off = predict(&["--rules-off", "memory"]);
    assert_eq!(decisions(&memory_off), decisions(&default));
}

/// The shipped model's CSV row of `Naproxen 500mg #60`: the drug with its generic name, dose
/// and quantity, and the case's diagnoses with their codes.
#[test]
fn the_shipped_models_csv_pairs_drugs_and_codes_diagnoses() {
    let out = run_ok(
        imr_bin()
            .current_dir(root())
            .args(["predict", "--format", "csv"])
            .arg(root().join("data/samples/CM17-0013716.txt")),
    );
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    let cell = |row: &csv::StringRecord, name: &str| {
        row[headers.iter().position(|h| h == name).unwrap()].to_string()
    };
    let first = &rows[0];
    assert_eq!(
        [
            cell(first, "drug"),
            cell(first, "generic"),
            cell(first, "dose"),
            cell(first, "quantity")
        ],
        ["Naproxen", "naproxen", "500mg", "#60"]
    );
    assert!(cell(first, "verdict").ends_with("is not medically necessary."));
    assert!(
        cell(first, "diagnosis_codes").contains("M62.838"),
        "muscle spasm's code: {}",
        cell(first, "diagnosis_codes")
    );
}

/// `summarize` on the shipped model's records of real letters, in every format, and a line
/// that is not a record left out with a message.
#[test]
fn summarize_a_batch_of_real_records() {
    let dir = tempfile::tempdir().unwrap();
    let records = dir.path().join("p.jsonl");
    run_ok(
        imr_bin()
            .current_dir(root())
            .arg("predict")
            .arg(root().join("data/samples"))
            .arg("-o")
            .arg(&records),
    );
    let lines = std::fs::read_to_string(&records).unwrap();
    let n_items: usize = lines
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v["items"].as_array().unwrap().len()
        })
        .sum();
    let out = run_ok(
        imr_bin()
            .args(["summarize", "--format", "json"])
            .arg(&records),
    );
    let s: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(s["overall"]["items"].as_u64().unwrap() as usize, n_items);
    let (low, rate, high) = (
        s["overall"]["low"].as_f64().unwrap(),
        s["overall"]["rate"].as_f64().unwrap(),
        s["overall"]["high"].as_f64().unwrap(),
    );
    assert!(low <= rate && rate <= high);
    let names: Vec<&str> = s["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["generic", "treatment", "guideline", "specialty", "year"]
    );
    let csv = run_ok(
        imr_bin()
            .args(["summarize", "--format", "csv"])
            .arg(&records),
    );
    assert!(String::from_utf8_lossy(&csv.stdout).starts_with("group,key,items,overturned,rate"));
    let html = run_ok(
        imr_bin()
            .args(["summarize", "--format", "html"])
            .arg(&records),
    );
    let html = String::from_utf8_lossy(&html.stdout);
    assert!(html.contains("<svg"), "a chart");
    // Self-contained: nothing is fetched.
    assert!(!html.contains("src=\"http") && !html.contains("<link"));
    // A line that is not a record: the others are counted, exit 1, a message naming the line.
    let mixed = dir.path().join("mixed.jsonl");
    std::fs::write(&mixed, format!("{lines}not json\n")).unwrap();
    let out = imr_bin().args(["summarize"]).arg(&mixed).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("mixed.jsonl: line"), "{err}");
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("{n_items} items")));
}

/// The annotation loop: `predict --format brat` and `--format prodigy` write the shipped
/// model's entities as annotations that `eval` and `train` read back, offsets intact (the
/// model scores 1.0 against its own predictions), and a tiny model trains on them.
#[test]
fn predictions_round_trip_as_brat_and_prodigy_annotations() {
    let dir = tempfile::tempdir().unwrap();
    let brat = dir.path().join("brat");
    let prodigy = dir.path().join("pre.jsonl");
    let samples = root().join("data/samples");
    run_ok(
        imr_bin()
            .current_dir(root())
            .args(["predict", "--format", "brat", "-o"])
            .arg(&brat)
            .arg(&samples),
    );
    let out = run_ok(
        imr_bin()
            .current_dir(root())
            .args(["predict", "--format", "prodigy"])
            .arg(&samples),
    );
    std::fs::write(&prodigy, &out.stdout).unwrap();
    // The folder is not written twice: a second run is refused and leaves it as it was.
    let before = std::fs::read(brat.join("CM17-0013716.ann")).unwrap();
    let again = imr_bin()
        .args(["predict", "--format", "brat", "-o"])
        .arg(&brat)
        .arg(&samples)
        .output()
        .unwrap();
    assert_eq!(again.status.code(), Some(2));
    assert_eq!(
        std::fs::read(brat.join("CM17-0013716.ann")).unwrap(),
        before
    );

    let from_brat = imr::annotation::corpus::load(std::slice::from_ref(&brat)).unwrap();
    let from_prodigy = imr::annotation::corpus::load(std::slice::from_ref(&prodigy)).unwrap();
    assert_eq!(from_brat.len(), 4);
    assert_eq!(from_prodigy.len(), 4);
    let total: usize = from_brat.iter().map(|l| l.entities.len()).sum();
    assert!(total > 100, "{total} entities");
    for (b, p) in from_brat.iter().zip(&from_prodigy) {
        assert_eq!(b.entities, p.entities, "{}", b.name());
        assert_eq!(b.letter.text, p.letter.text);
    }
    for data in [&brat, &prodigy] {
        let out = run_ok(
            imr_bin()
                .current_dir(root())
                .args(["eval", "--format", "json", "--data"])
                .arg(data),
        );
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        let f1 = r["entities"]["strict"]["micro"]["f1"].as_f64().unwrap();
        assert!((f1 - 1.0).abs() < 1e-9, "{}: {f1}", data.display());
    }
    let (train_part, dev_part) = from_brat.split_at(3);
    let m = train::train(
        &tiny_config(3, 1),
        train_part,
        dev_part,
        lexicon(),
        &mut |_| {},
    );
    assert!(m.is_ok(), "{:?}", m.err());
}

/// `predict --format html`: one self-contained page, the letter's text whole with its entities
/// marked, and each item's decisions.
#[test]
fn predict_html_shows_the_letter_with_its_entities() {
    let sample = root().join("data/samples/CM17-0013716.txt");
    let out = run_ok(
        imr_bin()
            .current_dir(root())
            .args(["predict", "--format", "html"])
            .arg(&sample),
    );
    let page = String::from_utf8(out.stdout).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert!(!page.contains("src=\"http") && !page.contains("<link"));
    assert!(
        page.contains("<td>Naproxen 500mg #60</td>"),
        "the item table"
    );
    assert!(
        page.contains("generic: naproxen"),
        "a drug's normal form on hover"
    );
    // Taking the markup out gives the letter's text back, every character.
    let mut text = page[page.find("<div class=\"text\">").unwrap() + 18..].to_string();
    text.truncate(text.find("</div>").unwrap());
    let without_labels = regex::Regex::new(r#"<span class="label">[A-Z_]+</span>"#)
        .unwrap()
        .replace_all(&text, "");
    let plain = regex::Regex::new(r"<[^>]+>")
        .unwrap()
        .replace_all(&without_labels, "");
    let plain = plain
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    assert_eq!(plain, std::fs::read_to_string(&sample).unwrap());
}

/// The decision head reads the tagging pass's encoder rows inside rationales and encodes only
/// their ends: the logits are those of encoding every rationale alone.
#[test]
fn decisions_reusing_the_tagging_pass_are_those_of_rationales_encoded_alone() {
    let model = Model::load(&root().join("models/default")).unwrap();
    let inference = Inference::of(&model);
    let letters: Vec<&imr::Letter> = all_letters().iter().take(24).map(|l| &l.letter).collect();
    let encoded: Vec<_> = letters
        .iter()
        .map(|l| inference.encode(l).unwrap())
        .collect();
    let reused: usize = encoded
        .iter()
        .map(|e| inference.reusable_states(e).len())
        .sum();
    let rationale_tokens: usize = encoded
        .iter()
        .flat_map(|e| e.rationales.iter().map(|r| r.len().min(384)))
        .sum();
    assert!(
        reused * 2 > rationale_tokens,
        "{reused} of {rationale_tokens}"
    );
    let alone = inference.decision_logits(&encoded).unwrap();
    let predicted = inference.predict_encoded(&encoded).unwrap();
    for (p, want) in predicted.iter().zip(&alone) {
        assert_eq!(p.decision_logits.len(), want.len());
        for (got, want) in p.decision_logits.iter().zip(want) {
            assert!((got - want).abs() <= 1e-5, "{got} vs {want}");
        }
    }
}

/// `-j` changes how the work is spread, never the result: the same weights from training on one
/// thread and on two, and the same evaluation.
#[test]
fn training_and_evaluation_do_not_depend_on_threads() {
    let dir = tempfile::tempdir().unwrap();
    let train = |j: &str| {
        let out = dir.path().join(format!("model-j{j}"));
        run_ok(
            imr_bin()
                .args(["train", "-j", j, "--data"])
                .arg(root().join("data/seeds"))
                .arg("--out")
                .arg(&out)
                .args(["--epochs", "2", "--hidden", "16", "--embed-dim", "8"])
                .args(["--vocab-size", "300", "--dev-fraction", "0.4"]),
        );
        out
    };
    let (one, two) = (train("1"), train("2"));
    let weights = |m: &Path| std::fs::read(m.join("model.safetensors")).unwrap();
    assert!(weights(&one) == weights(&two), "the weights differ");
    let eval = |j: &str| {
        run_ok(
            imr_bin()
                .args(["eval", "--format", "json", "-j", j, "--model"])
                .arg(&one)
                .arg("--data")
                .arg(root().join("data/seeds")),
        )
        .stdout
    };
    assert!(eval("1") == eval("2"), "the evaluations differ");
}
