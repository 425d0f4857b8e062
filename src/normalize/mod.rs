//! After decoding: entities to the names an analyst counts by. A `DRUG` to its generic name
//! ([`drug`]), a `DIAGNOSIS` to an ICD-10-CM code ([`diagnosis`]), guideline citations and
//! `GUIDELINE_PAGE` mentions to which guideline, chapter, section and pages ([`guideline`]).
//!
//! The tables are the lexicons of `data/` (drug names, ICD-10-CM), built into the binary so
//! that a record is the same wherever `imr` runs; [`Normalizer::from_data_dir`] reads another
//! copy. They are read on first use (about a second), not by commands that do not normalise.

pub mod diagnosis;
pub mod drug;
pub mod guideline;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{LazyLock, Mutex};

use crate::error::{Error, Result};
pub use diagnosis::{CodeLink, CodeMatch, Icd10};
pub use drug::{DrugMatch, DrugName, DrugNames};
pub use guideline::{Citation, Guideline, PageCitation};

/// The drug names and ICD-10-CM codes, with the diagnosis threshold.
#[derive(Debug, Default)]
pub struct Normalizer {
    pub drugs: DrugNames,
    pub codes: Icd10,
    /// The similarity under which a diagnosis gets no code.
    pub threshold: f32,
    /// Answers already given: a batch names the same drugs and diagnoses again and again.
    drug_memo: Memo<DrugName>,
    diagnosis_memo: Memo<CodeLink>,
}

/// A memo of answers by mention, emptied when it reaches [`MEMO_SIZE`] so that memory stays
/// flat over any batch.
#[derive(Debug)]
struct Memo<T>(Mutex<HashMap<String, Option<T>>>);

impl<T> Default for Memo<T> {
    fn default() -> Self {
        Memo(Mutex::new(HashMap::new()))
    }
}

const MEMO_SIZE: usize = 50_000;

impl<T: Clone> Memo<T> {
    fn get_or(&self, key: &str, compute: impl FnOnce() -> Option<T>) -> Option<T> {
        if let Some(v) = self.0.lock().expect("memo lock").get(key) {
            return v.clone();
        }
        let v = compute();
        let mut m = self.0.lock().expect("memo lock");
        if m.len() >= MEMO_SIZE {
            m.clear();
        }
        m.insert(key.to_string(), v.clone());
        v
    }
}

macro_rules! data_file {
    ($path:literal) => {
        include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/data/", $path)).as_slice()
    };
}

static BUILT_IN: LazyLock<Normalizer> = LazyLock::new(|| {
    Normalizer::read(
        data_file!("drug-lexicon/drugner_variant_to_canonical.tsv.gz"),
        data_file!("drug-lexicon/fda_unii_brand_names.tsv.gz"),
        data_file!("icd10cm/icd10cm_2026_codes.tsv.gz"),
        data_file!("icd10cm/icd10cm_2026_inclusion_terms.tsv"),
    )
    .expect("the lexicons built into the binary are well formed (tested)")
});

impl Normalizer {
    /// The tables built into the binary, read once.
    pub fn built_in() -> &'static Normalizer {
        &BUILT_IN
    }

    /// The two tables are built at once, each on a thread: a short run waits for them.
    fn read(variants: &[u8], brands: &[u8], codes: &[u8], terms: &[u8]) -> Result<Normalizer> {
        let (drugs, codes) = std::thread::scope(|s| {
            let drugs = s.spawn(|| DrugNames::read(variants, brands));
            let codes = Icd10::read(codes, terms);
            (drugs.join().expect("the drug table's thread"), codes)
        });
        Ok(Normalizer {
            drugs: drugs?,
            codes: codes?,
            threshold: diagnosis::DEFAULT_THRESHOLD,
            ..Normalizer::default()
        })
    }

    /// The tables from the lexicon folders under `data_dir` (`drug-lexicon/`, `icd10cm/`).
    pub fn from_data_dir(data_dir: &Path) -> Result<Normalizer> {
        let read = |rel: &str| {
            let p = data_dir.join(rel);
            std::fs::read(&p).map_err(|e| Error::io(&p, e))
        };
        Normalizer::read(
            &read("drug-lexicon/drugner_variant_to_canonical.tsv.gz")?,
            &read("drug-lexicon/fda_unii_brand_names.tsv.gz")?,
            &read("icd10cm/icd10cm_2026_codes.tsv.gz")?,
            &read("icd10cm/icd10cm_2026_inclusion_terms.tsv")?,
        )
    }

    pub fn drug(&self, mention: &str) -> Option<DrugName> {
        self.drug_memo
            .get_or(mention, || self.drugs.normalize(mention))
    }

    pub fn diagnosis(&self, mention: &str) -> Option<CodeLink> {
        self.diagnosis_memo
            .get_or(mention, || self.codes.normalize(mention, self.threshold))
    }

    /// The same tables with another diagnosis threshold (answers are not carried over).
    pub fn with_threshold(self, threshold: f32) -> Normalizer {
        Normalizer {
            threshold,
            drug_memo: Memo::default(),
            diagnosis_memo: Memo::default(),
            ..self
        }
    }
}
