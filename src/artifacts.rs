//! A model directory, saved and loaded as one unit:
//!
//! | file | what |
//! |---|---|
//! | `config.json` | format version, network sizes, decision calibration, training settings |
//! | `labels.json` | the BIO tag set and decision classes, in index order |
//! | `tokenizer.json` | the WordPiece tokenizer (`tokenizers` format) |
//! | `lexicon.txt.gz` | drug and diagnosis gazetteers used as features |
//! | `memory.tsv` | the drug and diagnosis phrases the training letters' gold tags (`memory.rs`) |
//! | `model.safetensors` | the weights |
//! | `train_log.jsonl` | loss and dev metrics per epoch (not needed to load) |
//!
//! Saving writes a temporary sibling directory and renames it into place, so a crash never
//! leaves a half-written model that loads. Loading checks that the parts agree with each other.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device};
use candle_nn::{VarBuilder, VarMap};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::features::FEATURE_DIM;
use crate::lexicon::Lexicon;
use crate::memory::Memory;
use crate::model::{ImrModel, ModelConfig, FORMAT_VERSION};
use crate::predict::{Calibration, Inference};
use crate::tokenize::{tag_names, LetterTokenizer};

pub const CONFIG: &str = "config.json";
pub const LABELS: &str = "labels.json";
pub const TOKENIZER: &str = "tokenizer.json";
pub const LEXICON: &str = "lexicon.txt.gz";
pub const MEMORY: &str = "memory.tsv";
pub const WEIGHTS: &str = "model.safetensors";
pub const TRAIN_LOG: &str = "train_log.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ConfigFile {
    pub format_version: u32,
    pub model: ModelConfig,
    pub calibration: Calibration,
    /// How the model was trained (seed, epochs, data), for reproduction.
    pub training: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LabelsFile {
    pub tags: Vec<String>,
    pub decisions: Vec<String>,
}

impl LabelsFile {
    pub fn current() -> Self {
        LabelsFile {
            tags: tag_names(),
            decisions: crate::Decision::ALL.iter().map(|d| d.to_string()).collect(),
        }
    }
}

/// A loaded model directory.
pub struct ModelDir {
    pub path: PathBuf,
    pub config: ConfigFile,
    pub tokenizer: LetterTokenizer,
    pub lexicon: Lexicon,
    pub memory: Memory,
    pub model: ImrModel,
    pub device: Device,
}

fn model_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Model {
        path: path.into(),
        message: message.into(),
    }
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| model_err(path, format!("invalid JSON: {e}")))
}

impl ModelDir {
    pub fn load(dir: &Path) -> Result<ModelDir> {
        if !dir.is_dir() {
            return Err(model_err(dir, "not a model directory (does not exist)"));
        }
        for f in [CONFIG, LABELS, TOKENIZER, LEXICON, MEMORY, WEIGHTS] {
            if !dir.join(f).is_file() {
                return Err(model_err(dir, format!("missing {f}")));
            }
        }
        let config: ConfigFile = read_json(&dir.join(CONFIG))?;
        if config.format_version != FORMAT_VERSION {
            return Err(model_err(
                &dir.join(CONFIG),
                format!(
                    "format version {} but this imr reads version {FORMAT_VERSION}; retrain the model",
                    config.format_version
                ),
            ));
        }
        let labels: LabelsFile = read_json(&dir.join(LABELS))?;
        if labels != LabelsFile::current() {
            return Err(model_err(
                &dir.join(LABELS),
                format!(
                    "label set {:?} does not match this imr's {:?}",
                    labels.tags,
                    tag_names()
                ),
            ));
        }
        let m = &config.model;
        if m.feature_dim != FEATURE_DIM || m.num_tags != labels.tags.len() {
            return Err(model_err(
                &dir.join(CONFIG),
                format!(
                    "config has {} features and {} tags; this imr uses {FEATURE_DIM} and {}",
                    m.feature_dim,
                    m.num_tags,
                    labels.tags.len()
                ),
            ));
        }
        let tokenizer = LetterTokenizer::load(&dir.join(TOKENIZER))?;
        if tokenizer.vocab_size() != m.vocab_size {
            return Err(model_err(
                &dir.join(TOKENIZER),
                format!(
                    "vocabulary of {} pieces but config.json says {}",
                    tokenizer.vocab_size(),
                    m.vocab_size
                ),
            ));
        }
        let lexicon = Lexicon::load(&dir.join(LEXICON))?;
        let memory = Memory::load(&dir.join(MEMORY))?;
        let device = Device::Cpu;
        let weights_path = dir.join(WEIGHTS);
        let bytes = std::fs::read(&weights_path).map_err(|e| Error::io(&weights_path, e))?;
        let vb = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device)
            .map_err(|e| model_err(&weights_path, format!("unreadable weights: {e}")))?;
        let model = ImrModel::new(m, vb).map_err(|e| {
            model_err(
                &weights_path,
                format!("weights do not fit config.json: {e}"),
            )
        })?;
        Ok(ModelDir {
            path: dir.into(),
            config,
            tokenizer,
            lexicon,
            memory,
            model,
            device,
        })
    }

    pub fn inference(&self) -> Inference<'_> {
        Inference::new(
            &self.model,
            &self.config.model,
            self.config.calibration,
            &self.tokenizer,
            &self.lexicon,
            &self.memory,
            &self.device,
        )
    }
}

/// The parts of a freshly trained model, ready to be written.
pub struct TrainedParts<'a> {
    pub config: &'a ConfigFile,
    pub tokenizer: &'a LetterTokenizer,
    pub lexicon: &'a Lexicon,
    pub memory: &'a Memory,
    pub varmap: &'a VarMap,
    pub train_log: &'a str,
}

/// Writes a model directory atomically: into a temporary sibling, then renamed over `dir`.
pub fn save(dir: &Path, parts: &TrainedParts) -> Result<()> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
    let name = dir
        .file_name()
        .ok_or_else(|| model_err(dir, "output must name a directory"))?
        .to_string_lossy()
        .into_owned();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let write = |file: &str, content: &[u8]| -> Result<()> {
        let p = tmp.join(file);
        std::fs::write(&p, content).map_err(|e| Error::io(&p, e))
    };
    let json = |v: &dyn erased::Json| v.pretty();
    write(CONFIG, json(parts.config).as_bytes())?;
    write(LABELS, json(&LabelsFile::current()).as_bytes())?;
    write(TRAIN_LOG, parts.train_log.as_bytes())?;
    parts.tokenizer.save(&tmp.join(TOKENIZER))?;
    parts.lexicon.save(&tmp.join(LEXICON))?;
    parts.memory.save(&tmp.join(MEMORY))?;
    parts
        .varmap
        .save(tmp.join(WEIGHTS))
        .map_err(|e| model_err(&tmp.join(WEIGHTS), e.to_string()))?;
    // On disk before the rename makes them visible: a power cut must not leave a renamed
    // directory of empty files.
    for file in [
        CONFIG, LABELS, TRAIN_LOG, TOKENIZER, LEXICON, MEMORY, WEIGHTS,
    ] {
        let p = tmp.join(file);
        std::fs::File::open(&p)
            .and_then(|f| f.sync_all())
            .map_err(|e| Error::io(&p, e))?;
    }
    if dir.exists() {
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(&tmp, dir).map_err(|e| Error::io(dir, e))?;
    }
    Ok(())
}

mod erased {
    /// Pretty JSON of any serializable value, with a trailing newline.
    pub trait Json {
        fn pretty(&self) -> String;
    }
    impl<T: serde::Serialize> Json for T {
        fn pretty(&self) -> String {
            serde_json::to_string_pretty(self).expect("serializable") + "\n"
        }
    }
}
