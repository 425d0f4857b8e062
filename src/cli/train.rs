//! `imr train`: labelled letters in, a model directory out.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::Outcome;
use crate::encode::lexicon::Lexicon;
use crate::train::{self, Progress, TrainConfig};

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Labelled letters: directories searched for `CASE.txt` with `CASE.ann` beside it, or
    /// `.txt` files (each with its `.ann`). A `.txt` without its `.ann` is an error.
    #[arg(long, required = true, num_args = 1..)]
    data: Vec<PathBuf>,
    /// The model directory to write. It must not exist, or be empty, or be a model directory
    /// that imr wrote (replaced, atomically, only with --force); it may not hold the letters.
    #[arg(long)]
    out: PathBuf,
    /// Replace --out if it already holds a model.
    #[arg(long)]
    force: bool,
    /// Leave out the `.txt` files that have no `.ann` beside them (saying how many) instead
    /// of refusing them.
    #[arg(long)]
    allow_unlabelled: bool,
    /// Letters for early stopping and calibration. Without it, a stratified `--dev-fraction`
    /// of `--data` is held out.
    #[arg(long, num_args = 1..)]
    dev: Vec<PathBuf>,
    /// Share of the letters held out as dev letters when --dev is not given.
    #[arg(long, default_value_t = TrainConfig::default().dev_fraction, value_parser = share)]
    dev_fraction: f64,
    /// Build the drug and diagnosis lexicons from this folder's `drug-lexicon/` and `icd10cm/`
    /// (see data/README.md). Default: the lexicon of the built-in default model, which was
    /// built from the repository's data/.
    #[arg(long, value_name = "DIR")]
    lexicons: Option<PathBuf>,
    /// Seed of every random choice (dev split, initial weights, batches, dropout): the same
    /// letters and seed give the same model.
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    seed: u64,
    /// Most epochs (passes over the training letters).
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    epochs: usize,
    /// Peak learning rate of AdamW.
    #[arg(long, default_value_t = TrainConfig::default().learning_rate)]
    learning_rate: f64,
    /// Tagging windows per training step (decision batches are half as large).
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    batch_size: usize,
    /// Width of the encoder's hidden states.
    #[arg(long, default_value_t = TrainConfig::default().model.hidden)]
    hidden: usize,
    /// Width of the word-piece embeddings.
    #[arg(long, default_value_t = TrainConfig::default().model.embed_dim)]
    embed_dim: usize,
    /// Word pieces in the tokenizer trained on the letters.
    #[arg(long, default_value_t = TrainConfig::default().model.vocab_size)]
    vocab_size: usize,
    /// Dropout between the layers during training.
    #[arg(long, default_value_t = TrainConfig::default().model.dropout)]
    dropout: f32,
    /// Stop after this many epochs without improvement on the dev letters.
    #[arg(long, default_value_t = TrainConfig::default().patience)]
    patience: usize,
    /// The model is the mean of the weights after each of the last this many epochs (those that
    /// ran, if early stopping cut them short); 0 or 1: the best epoch on the dev letters is.
    #[arg(long, default_value_t = TrainConfig::default().average_last)]
    average_last: usize,
    #[command(flatten)]
    encoder: EncoderArgs,
    #[command(flatten)]
    threads: super::ThreadArgs,
}

/// The encoder's shape beyond the defaults: convolutions, and optional LSTM and local
/// self-attention layers (docs/MODEL.md).
#[derive(Debug, Args)]
pub struct EncoderArgs {
    /// The dilation of each convolution block, comma-separated; given with no value, no
    /// convolutions (the embedding and features go straight to the layers below).
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    dilations: Option<Vec<usize>>,
    /// Cells per direction of a bidirectional LSTM layer after the convolutions (0: none).
    #[arg(long, default_value_t = 0)]
    lstm_units: usize,
    /// Cells per direction of a second tagger beside the main one, with its own embedding and
    /// a bidirectional LSTM for encoder; tagging averages the two (0: none).
    #[arg(long, default_value_t = TrainConfig::default().model.lstm_tagger_units)]
    lstm_tagger: usize,
    /// Local self-attention layers after the convolutions (0: the convolutions alone).
    #[arg(long, default_value_t = 0)]
    attention_layers: usize,
    /// Heads per attention layer (they split the hidden size).
    #[arg(long, default_value_t = 4)]
    attention_heads: usize,
    /// Tokens each token attends to on either side.
    #[arg(long, default_value_t = 16)]
    attention_radius: usize,
    /// Width of the character n-gram vectors beside each token's embedding (0: none).
    #[arg(long, default_value_t = TrainConfig::default().model.ngram_dim)]
    ngram_dim: usize,
    /// Share of the training rationales the decision head reads with their verdict sentences
    /// blanked (0: none).
    #[arg(long, default_value_t = TrainConfig::default().mask_verdicts)]
    mask_verdicts: f32,
    /// Share of the training letters read each epoch with their gold mentions replaced by
    /// other drug names, diagnoses, strengths and counts (0: none).
    #[arg(long, default_value_t = TrainConfig::default().augment)]
    augment: f32,
    /// Set aside the drug-lexicon entries that the training letters use as ordinary words
    /// (outside every gold span); they ship with the model and are not looked up.
    #[arg(long)]
    lexicon_filter: bool,
    /// Whether each tagging head is a linear-chain CRF, trained on the likelihood of the whole
    /// tag sequence and read as each token's marginal tag probabilities (`false`: a softmax
    /// per token, as models before 2026-12-03).
    #[arg(long, default_value_t = TrainConfig::default().model.crf, action = clap::ArgAction::Set)]
    crf: bool,
}

/// A share of the letters, at least 0 and below 1.
pub(super) fn share(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|_| format!("{s:?} is not a number"))?;
    match (0.0..1.0).contains(&v) {
        true => Ok(v),
        false => Err(format!("{v} is not a share from 0 up to (not including) 1")),
    }
}

impl EncoderArgs {
    /// `cfg` with these settings; attention heads and radius are recorded only with layers.
    pub fn apply(&self, mut cfg: TrainConfig) -> TrainConfig {
        let m = &mut cfg.model;
        if let Some(d) = &self.dilations {
            m.dilations = d.clone();
        }
        m.lstm_units = self.lstm_units;
        m.lstm_tagger_units = self.lstm_tagger;
        m.ngram_dim = self.ngram_dim;
        m.crf = self.crf;
        cfg.mask_verdicts = self.mask_verdicts;
        cfg.augment = self.augment;
        cfg.lexicon_filter = self.lexicon_filter;
        if self.attention_layers > 0 {
            m.attention_layers = self.attention_layers;
            m.attention_heads = self.attention_heads;
            m.attention_radius = self.attention_radius;
        }
        cfg
    }
}

impl TrainArgs {
    fn config(&self) -> TrainConfig {
        let d = TrainConfig::default();
        self.encoder.apply(TrainConfig {
            model: crate::model::ModelConfig {
                hidden: self.hidden,
                embed_dim: self.embed_dim,
                vocab_size: self.vocab_size,
                dropout: self.dropout,
                ..d.model
            },
            seed: self.seed,
            epochs: self.epochs,
            learning_rate: self.learning_rate,
            batch_size: self.batch_size,
            patience: self.patience,
            average_last: self.average_last,
            dev_fraction: self.dev_fraction,
            ..d
        })
    }
}

/// The training letters: every `.txt` must have its `.ann`, unless `allow_unlabelled` (then
/// how many were left out is said).
pub(crate) fn load_letters(
    paths: &[PathBuf],
    allow_unlabelled: bool,
    what: &str,
) -> anyhow::Result<Vec<crate::annotation::corpus::LabelledLetter>> {
    let context = || format!("reading {what} letters");
    if !allow_unlabelled {
        return crate::annotation::corpus::load(paths).with_context(context);
    }
    let (letters, left_out) =
        crate::annotation::corpus::load_allowing_unlabelled(paths).with_context(context)?;
    if left_out > 0 {
        eprintln!("imr: left out {left_out} {what} .txt files that have no .ann beside them");
    }
    Ok(letters)
}

/// The lexicons to train with: built from `dir`, or the built-in default model's.
pub(crate) fn lexicons(dir: Option<&std::path::Path>) -> anyhow::Result<Lexicon> {
    match dir {
        Some(dir) => Lexicon::from_data_dir(dir)
            .with_context(|| format!("building lexicons from {}", dir.display())),
        None => Ok(crate::artifacts::Model::built_in()
            .context("the built-in default model's lexicon")?
            .lexicon),
    }
}

pub(crate) fn run(args: TrainArgs) -> anyhow::Result<Outcome> {
    args.threads.apply();
    let cfg = args.config();
    // Everything that can refuse the run is checked before the training, not after it.
    let protected: Vec<PathBuf> = args.data.iter().chain(&args.dev).cloned().collect();
    crate::artifacts::check_output(&args.out, args.force, &protected)?;
    let letters = load_letters(&args.data, args.allow_unlabelled, "training")?;
    anyhow::ensure!(
        !letters.is_empty(),
        "no labelled letters (CASE.txt + CASE.ann) under {:?}",
        args.data
    );
    let (train_set, dev_set) = if args.dev.is_empty() {
        train::split_dev(letters, cfg.dev_fraction, cfg.seed)
    } else {
        (
            letters,
            load_letters(&args.dev, args.allow_unlabelled, "dev")?,
        )
    };
    let lexicon = lexicons(args.lexicons.as_deref())?;
    eprintln!(
        "imr train: {} training letters, {} dev letters, seed {}",
        train_set.len(),
        dev_set.len(),
        cfg.seed
    );

    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template(
            "{prefix} [{bar:30}] {pos}/{len} steps {elapsed_precise} {msg}",
        )
        .expect("static template")
        .progress_chars("=> "),
    );
    let mut epoch = 1;
    let mut total_epochs = 0;
    let trained = train::train(&cfg, &train_set, &dev_set, lexicon, &mut |p| match p {
        Progress::Start {
            epochs,
            steps_per_epoch,
        } => {
            total_epochs = epochs;
            bar.set_length(steps_per_epoch as u64);
            bar.set_prefix(format!("epoch 1/{epochs}"));
        }
        Progress::Step => bar.inc(1),
        Progress::Epoch(e) => {
            let dev = match (e.dev_entity_f1, e.dev_decision_auc) {
                (Some(f), Some(a)) => format!(" dev entity F1 {f:.3} decision AUC {a:.3}"),
                (Some(f), None) => format!(" dev entity F1 {f:.3}"),
                _ => String::new(),
            };
            let second = e
                .lstm_tag_loss
                .map_or(String::new(), |l| format!(" (LSTM tagger {l:.4})"));
            bar.suspend(|| {
                eprintln!(
                    "epoch {:>3}: tag loss {:.4}{second} decision loss {:.4}{dev} ({:.1}s){}",
                    e.epoch,
                    e.tag_loss,
                    e.decision_loss,
                    e.seconds,
                    if e.best { " *" } else { "" }
                )
            });
            epoch += 1;
            bar.set_position(0);
            bar.set_prefix(format!("epoch {epoch}/{total_epochs}"));
        }
    })
    .context("training")?;
    bar.finish_and_clear();
    trained
        .save(&args.out)
        .with_context(|| format!("writing model to {}", args.out.display()))?;
    eprintln!(
        "imr train: wrote {} (remembering {} drug and diagnosis phrases of the gold)",
        args.out.display(),
        trained.memory.len()
    );
    Ok(Outcome::AllGood)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::super::{Cli, Command};
    use crate::train::TrainConfig;

    fn config(args: &[&str]) -> TrainConfig {
        let base = ["imr", "train", "--data", "d", "--out", "o"];
        let cli = Cli::try_parse_from(base.iter().chain(args)).unwrap();
        match cli.command {
            Command::Train(t) => t.config(),
            other => panic!("parsed as {other:?}"),
        }
    }

    #[test]
    fn encoder_options_shape_the_training_config() {
        let default = config(&[]);
        assert_eq!(default, TrainConfig::default());
        let lstm = config(&["--lstm-units", "64"]);
        assert_eq!(
            (lstm.model.lstm_units, lstm.model.dilations),
            (64, vec![1, 2, 4, 8])
        );
        // `--dilations` with no value: no convolution blocks.
        let alone = config(&["--dilations", "--lstm-units", "32"]);
        assert_eq!(
            (alone.model.lstm_units, alone.model.dilations),
            (32, vec![])
        );
        let second = config(&["--lstm-tagger", "48"]);
        assert_eq!(
            (
                second.model.lstm_tagger_units,
                second.model.lstm_units,
                second.model.dilations
            ),
            (48, 0, vec![1, 2, 4, 8])
        );
        assert_eq!(config(&["--lstm-tagger", "0"]).model.lstm_tagger_units, 0);
        let two = config(&["--dilations", "1,3"]);
        assert_eq!(two.model.dilations, vec![1, 3]);
        // Attention heads and radius are recorded only with layers.
        assert_eq!(config(&["--attention-heads", "2"]), TrainConfig::default());
        let attention = config(&["--attention-layers", "1"]);
        assert_eq!(
            (
                attention.model.attention_layers,
                attention.model.attention_heads
            ),
            (1, 4)
        );
    }
}
