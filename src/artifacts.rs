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

use crate::annotation::tags::tag_names;
use crate::decode::memory::Memory;
use crate::decode::Calibration;
use crate::encode::features::FEATURE_DIM;
use crate::encode::lexicon::Lexicon;
use crate::error::{Error, Result};
use crate::model::{ImrModel, ModelConfig, FORMAT_VERSION};
use crate::tokenize::LetterTokenizer;

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

/// A trained model with all its parts: what `train` returns, what `save` writes as a model
/// directory and what `load` reads back (and `predict` runs).
pub struct Model {
    /// The directory it was loaded from (none for a model fresh from training).
    pub path: Option<PathBuf>,
    pub config: ConfigFile,
    pub tokenizer: LetterTokenizer,
    pub lexicon: Lexicon,
    /// What the training and dev letters' gold tagged as drugs and diagnoses.
    pub memory: Memory,
    pub network: ImrModel,
    /// The network's weights, by name.
    pub varmap: VarMap,
    /// One line per training epoch (`train_log.jsonl`; empty for the built-in model).
    pub log: Vec<EpochLog>,
    pub device: Device,
}

/// One epoch's line of the training log.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EpochLog {
    pub epoch: usize,
    pub tag_loss: f64,
    /// The second tagger's tagging loss, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lstm_tag_loss: Option<f64>,
    pub decision_loss: f64,
    pub seconds: f64,
    pub dev_entity_f1: Option<f64>,
    pub dev_decision_macro_f1: Option<f64>,
    pub dev_decision_auc: Option<f64>,
    pub best: bool,
}

fn model_err(path: &Path, message: impl Into<String>) -> Error {
    Error::Model {
        path: path.into(),
        message: message.into(),
    }
}

/// Where a model's files are read from: a directory, or the copy of `models/default` built
/// into this binary (so that an installed `imr` works with no source tree in reach).
#[derive(Debug, Clone, Copy)]
pub enum ModelFiles<'a> {
    Dir(&'a Path),
    BuiltIn,
}

/// The name under which the built-in model's files are reported.
pub const BUILT_IN_NAME: &str = "(built-in default model)";

/// `models/default` as it was when this binary was built.
const BUILT_IN: [(&str, &[u8]); 6] = [
    (
        CONFIG,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/config.json"
        )),
    ),
    (
        LABELS,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/labels.json"
        )),
    ),
    (
        TOKENIZER,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/tokenizer.json"
        )),
    ),
    (
        LEXICON,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/lexicon.txt.gz"
        )),
    ),
    (
        MEMORY,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/memory.tsv"
        )),
    ),
    (
        WEIGHTS,
        include_bytes!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/models/default/model.safetensors"
        )),
    ),
];

/// The largest model file read (the shipped weights are 6.7 MB): a damaged or foreign file
/// is refused before it fills memory.
const MAX_FILE_BYTES: u64 = 512 * 1024 * 1024;

impl ModelFiles<'_> {
    /// The directory, as messages name it.
    pub fn root(&self) -> PathBuf {
        match self {
            ModelFiles::Dir(d) => d.to_path_buf(),
            ModelFiles::BuiltIn => PathBuf::from(BUILT_IN_NAME),
        }
    }

    fn path(&self, file: &str) -> PathBuf {
        self.root().join(file)
    }

    fn read(&self, file: &str) -> Result<std::borrow::Cow<'static, [u8]>> {
        match self {
            ModelFiles::BuiltIn => BUILT_IN
                .iter()
                .find(|(name, _)| *name == file)
                .map(|(_, bytes)| std::borrow::Cow::Borrowed(*bytes))
                .ok_or_else(|| model_err(&self.root(), format!("missing {file}"))),
            ModelFiles::Dir(dir) => {
                let path = dir.join(file);
                if !path.is_file() {
                    return Err(model_err(dir, format!("missing {file}")));
                }
                crate::letter::source::read_bounded(
                    &path,
                    MAX_FILE_BYTES,
                    crate::letter::source::DEFAULT_READ_TIMEOUT,
                )
                .map(std::borrow::Cow::Owned)
            }
        }
    }

    fn json<T: serde::de::DeserializeOwned>(&self, file: &str) -> Result<T> {
        let bytes = self.read(file)?;
        serde_json::from_slice(&bytes)
            .map_err(|e| Error::model_cause(self.path(file), "invalid JSON", e))
    }
}

impl Model {
    pub fn load(dir: &Path) -> Result<Model> {
        if !dir.is_dir() {
            return Err(model_err(dir, "not a model directory (does not exist)"));
        }
        Self::load_from(ModelFiles::Dir(dir))
    }

    /// The copy of `models/default` built into this binary.
    pub fn built_in() -> Result<Model> {
        Self::load_from(ModelFiles::BuiltIn)
    }

    /// Loads and checks a model as one unit: every part must agree with the others, every
    /// setting be in range and every weight be used and finite, or the error names the file.
    pub fn load_from(files: ModelFiles) -> Result<Model> {
        let dir = files.root();
        for f in [CONFIG, LABELS, TOKENIZER, LEXICON, MEMORY, WEIGHTS] {
            if let ModelFiles::Dir(d) = files {
                if !d.join(f).is_file() {
                    return Err(model_err(&dir, format!("missing {f}")));
                }
            }
        }
        let config_path = files.path(CONFIG);
        let config: ConfigFile = files.json(CONFIG)?;
        if config.format_version != FORMAT_VERSION {
            return Err(model_err(
                &config_path,
                format!(
                    "format version {} but this imr reads version {FORMAT_VERSION}; retrain the model",
                    config.format_version
                ),
            ));
        }
        let labels: LabelsFile = files.json(LABELS)?;
        if labels != LabelsFile::current() {
            return Err(model_err(
                &files.path(LABELS),
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
                &config_path,
                format!(
                    "config has {} features and {} tags; this imr uses {FEATURE_DIM} and {}",
                    m.feature_dim,
                    m.num_tags,
                    labels.tags.len()
                ),
            ));
        }
        m.validate().map_err(|why| model_err(&config_path, why))?;
        let c = config.calibration;
        if !(c.a.is_finite() && c.b.is_finite()) {
            return Err(model_err(
                &config_path,
                format!("calibration ({}, {}) is not finite", c.a, c.b),
            ));
        }
        let tokenizer_path = files.path(TOKENIZER);
        let tokenizer = LetterTokenizer::from_bytes(&files.read(TOKENIZER)?, &tokenizer_path)?;
        if tokenizer.vocab_size() != m.vocab_size {
            return Err(model_err(
                &tokenizer_path,
                format!(
                    "vocabulary of {} pieces but config.json says {}",
                    tokenizer.vocab_size(),
                    m.vocab_size
                ),
            ));
        }
        let lexicon = Lexicon::from_gz_bytes(&files.read(LEXICON)?, &files.path(LEXICON))?;
        let memory = Memory::from_bytes(&files.read(MEMORY)?, &files.path(MEMORY))?;
        let device = Device::Cpu;
        let weights_path = files.path(WEIGHTS);
        let tensors = candle_core::safetensors::load_buffer(&files.read(WEIGHTS)?, &device)
            .map_err(|e| Error::model_cause(&weights_path, "unreadable weights", e))?;
        check_weights(m, &tensors).map_err(|why| model_err(&weights_path, why))?;
        let varmap = VarMap::new();
        {
            let mut vars = varmap.data().lock().expect("not poisoned");
            for (name, t) in tensors {
                let var = t
                    .to_dtype(DType::F32)
                    .and_then(|t| candle_core::Var::from_tensor(&t))
                    .map_err(|e| Error::model_cause(&weights_path, name.clone(), e))?;
                vars.insert(name, var);
            }
        }
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &device);
        let network = ImrModel::new(m, vb)
            .map_err(|e| Error::model_cause(&weights_path, "weights do not fit config.json", e))?;
        // Not needed to run the model: a log that is missing or unreadable is left out.
        let log = match files {
            ModelFiles::Dir(d) => std::fs::read_to_string(d.join(TRAIN_LOG))
                .map(|text| {
                    text.lines()
                        .filter_map(|l| serde_json::from_str(l).ok())
                        .collect()
                })
                .unwrap_or_default(),
            ModelFiles::BuiltIn => Vec::new(),
        };
        Ok(Model {
            path: Some(dir),
            config,
            tokenizer,
            lexicon,
            memory,
            network,
            varmap,
            log,
            device,
        })
    }

    /// The training log as `train_log.jsonl` holds it.
    pub fn log_jsonl(&self) -> String {
        self.log
            .iter()
            .map(|e| serde_json::to_string(e).expect("serializable") + "\n")
            .collect()
    }

    /// Writes the model directory `dir` (atomically; see `save`).
    pub fn save(&self, dir: &Path) -> Result<()> {
        save(dir, self)
    }
}

/// The weights a network of `config` asks for must be exactly those of the file, in shape, and
/// finite: a tensor the network would not read means `config.json` and the weights disagree
/// (a model built from them would silently drop what was learned), and a NaN would turn every
/// prediction into nothing.
fn check_weights(
    config: &ModelConfig,
    tensors: &std::collections::HashMap<String, candle_core::Tensor>,
) -> std::result::Result<(), String> {
    // The names and shapes the network asks for, read off a network built on fresh variables.
    let wanted = VarMap::new();
    ImrModel::new(
        config,
        VarBuilder::from_varmap(&wanted, DType::F32, &Device::Cpu),
    )
    .map_err(|e| format!("weights do not fit config.json: {e}"))?;
    let wanted = wanted.data().lock().expect("not poisoned");
    let mut unused: Vec<&String> = tensors
        .keys()
        .filter(|k| !wanted.contains_key(*k))
        .collect();
    if !unused.is_empty() {
        unused.sort();
        return Err(format!(
            "weights do not fit config.json: {} tensors that config.json does not use ({}{})",
            unused.len(),
            unused
                .iter()
                .take(3)
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            if unused.len() > 3 { ", ..." } else { "" }
        ));
    }
    let mut names: Vec<&String> = wanted.keys().collect();
    names.sort();
    for name in names {
        let Some(t) = tensors.get(name) else {
            return Err(format!("weights do not fit config.json: no tensor {name}"));
        };
        let want = wanted[name].shape();
        if t.shape() != want {
            return Err(format!(
                "weights do not fit config.json: {name} is {:?}, config.json asks for {:?}",
                t.shape().dims(),
                want.dims()
            ));
        }
        let finite = t
            .to_dtype(DType::F32)
            .and_then(|t| t.flatten_all())
            .and_then(|t| t.to_vec1::<f32>())
            .map_err(|e| format!("{name}: {e}"))?
            .iter()
            .all(|v| v.is_finite());
        if !finite {
            return Err(format!("{name} holds NaN or infinite values"));
        }
    }
    Ok(())
}

/// What a fold model kept by cross-validation was trained on (`eval --cv --fold-models`).
pub const FOLD_FINGERPRINT: &str = "fold-fingerprint.txt";

/// The files a model directory may hold: a directory with anything else in it is not one, and
/// is never replaced.
pub const MODEL_FILES: [&str; 8] = [
    CONFIG,
    LABELS,
    TRAIN_LOG,
    TOKENIZER,
    LEXICON,
    MEMORY,
    WEIGHTS,
    FOLD_FINGERPRINT,
];

/// Whether `dir` is a model directory `imr` wrote: it holds `config.json` and nothing but
/// model files (so that replacing it loses nothing of the user's).
pub fn is_model_dir(dir: &Path) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return false;
    };
    let mut has_config = false;
    for entry in entries {
        let Ok(entry) = entry else { return false };
        let name = entry.file_name();
        let known = MODEL_FILES.iter().any(|f| name == *f);
        if !known || !entry.file_type().is_ok_and(|t| t.is_file()) {
            return false;
        }
        has_config |= name == CONFIG;
    }
    has_config
}

fn is_empty_dir(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut e| e.next().is_none())
}

/// Where a model will be written, checked before any training: `dir` must not exist, or be
/// empty, or be a model directory (replaced only with `replace`); it must not be or hold any
/// of `protected` (the training letters); and its parent must take a new directory.
pub fn check_output(dir: &Path, replace: bool, protected: &[PathBuf]) -> Result<()> {
    let refuse = |message: String| Err(model_err(dir, message));
    if let Ok(out) = dir.canonicalize() {
        for p in protected {
            if let Ok(p) = p.canonicalize() {
                if p.starts_with(&out) {
                    return refuse(format!(
                        "holds training letters ({}); refusing to write a model over them",
                        crate::error::escape_path(&p)
                    ));
                }
            }
        }
    }
    match std::fs::symlink_metadata(dir) {
        Err(_) => {}
        Ok(m) if !m.is_dir() => {
            return refuse("exists and is not a directory; refusing to replace it".into())
        }
        Ok(_) if is_empty_dir(dir) => {}
        Ok(_) if !is_model_dir(dir) => {
            return refuse(
                "exists and is not an imr model directory (it holds other files); \
                 refusing to replace it: choose a new --out"
                    .into(),
            )
        }
        Ok(_) if !replace => {
            return refuse("already holds a model; pass --force to replace it".into())
        }
        Ok(_) => {}
    }
    if dir.file_name().is_none() {
        return refuse("output must name a directory".into());
    }
    // The parent must take the temporary directory the model is written into: better to know
    // now than after the training.
    let (parent, tmp) = temporary(dir)?;
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    std::fs::remove_dir(&tmp).map_err(|e| Error::io(&tmp, e))
}

/// The parent of `dir` and this process's temporary sibling `.NAME.tmp-PID` in it.
fn temporary(dir: &Path) -> Result<(PathBuf, PathBuf)> {
    let parent = dir
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = dir
        .file_name()
        .ok_or_else(|| model_err(dir, "output must name a directory"))?
        .to_string_lossy()
        .into_owned();
    let tmp = parent.join(format!(".{name}.tmp-{}", std::process::id()));
    Ok((parent, tmp))
}

/// Removes the `.NAME.tmp-PID` and `.NAME.old-PID` siblings of `dir` that a killed or failed
/// run left, when their process is gone and they hold nothing but model files.
fn remove_leftovers(dir: &Path, parent: &Path) {
    let Some(name) = dir.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let file = entry.file_name().to_string_lossy().into_owned();
        let pid = [".tmp-", ".old-"].iter().find_map(|kind| {
            file.strip_prefix(&format!(".{name}{kind}"))?
                .parse::<u32>()
                .ok()
        });
        let Some(pid) = pid else { continue };
        let path = entry.path();
        let leftover = pid != std::process::id()
            && !process_alive(pid)
            && (is_model_dir(&path) || only_model_files(&path));
        if leftover {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

/// A half-written directory: model files only, perhaps not yet `config.json`.
fn only_model_files(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries.flatten().all(|e| {
            MODEL_FILES.iter().any(|f| e.file_name() == *f)
                && e.file_type().is_ok_and(|t| t.is_file())
        })
    })
}

#[cfg(unix)]
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only asks whether the process exists.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_alive(_: u32) -> bool {
    true
}

/// Writes a model directory atomically: into a temporary sibling, then renamed over `dir`. A
/// `dir` that exists must be empty or a model directory (`is_model_dir`): nothing else is
/// ever replaced. A failed write removes its temporary directory; those of killed runs are
/// removed by the next save.
fn save(dir: &Path, model: &Model) -> Result<()> {
    if dir.exists() && !is_empty_dir(dir) && !is_model_dir(dir) {
        return Err(model_err(
            dir,
            "exists and is not an imr model directory; refusing to replace it",
        ));
    }
    let (parent, tmp) = temporary(dir)?;
    std::fs::create_dir_all(&parent).map_err(|e| Error::io(&parent, e))?;
    remove_leftovers(dir, &parent);
    // This process's own temporary directory, left by a save of it that failed.
    if tmp.exists() && only_model_files(&tmp) {
        std::fs::remove_dir_all(&tmp).map_err(|e| Error::io(&tmp, e))?;
    }
    std::fs::create_dir(&tmp).map_err(|e| Error::io(&tmp, e))?;
    let written = write_parts(&tmp, model).and_then(|()| replace_with(dir, &tmp, &parent));
    if written.is_err() && only_model_files(&tmp) {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    written
}

fn write_parts(tmp: &Path, model: &Model) -> Result<()> {
    let write = |file: &str, content: &[u8]| -> Result<()> {
        let p = tmp.join(file);
        std::fs::write(&p, content).map_err(|e| Error::io(&p, e))
    };
    let json = |v: &dyn erased::Json| v.pretty();
    write(CONFIG, json(&model.config).as_bytes())?;
    write(LABELS, json(&LabelsFile::current()).as_bytes())?;
    write(TRAIN_LOG, model.log_jsonl().as_bytes())?;
    model.tokenizer.save(&tmp.join(TOKENIZER))?;
    model.lexicon.save(&tmp.join(LEXICON))?;
    model.memory.save(&tmp.join(MEMORY))?;
    model
        .varmap
        .save(tmp.join(WEIGHTS))
        .map_err(|e| Error::model_cause(tmp.join(WEIGHTS), "cannot write the weights", e))?;
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
    Ok(())
}

/// Renames the written `tmp` over `dir` (an old model directory is moved aside, then removed).
fn replace_with(dir: &Path, tmp: &Path, parent: &Path) -> Result<()> {
    if dir.exists() {
        let name = dir.file_name().expect("checked").to_string_lossy();
        let old = parent.join(format!(".{name}.old-{}", std::process::id()));
        std::fs::rename(dir, &old).map_err(|e| Error::io(dir, e))?;
        std::fs::rename(tmp, dir).map_err(|e| Error::io(dir, e))?;
        std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
    } else {
        std::fs::rename(tmp, dir).map_err(|e| Error::io(dir, e))?;
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
