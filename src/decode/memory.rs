//! What a model keeps of its training letters' gold: the phrases tagged as a drug or a
//! diagnosis there (`myalgia and myositis`, `CTS`, `addiction`, `Percocet`), each with how many
//! of its mentions in those letters the gold tags. The network, trained on about a hundred
//! letters, does not reproduce all it was shown; the `rules` decoding (`rules::remember`) tags
//! an unclaimed mention of a remembered phrase and widens a span the model found inside one.
//! Saved in the model directory as `memory.tsv`, so that a model stays self-contained; built
//! from the letters given to `train` only, so cross-validation never remembers a test letter.

use std::collections::BTreeMap;
use std::path::Path;

use crate::annotation::corpus::LabelledLetter;
use crate::annotation::{EntitySpan, Label};
use crate::decode::phrases::{phrase_key, Phrases};
use crate::error::{Error, Result};

/// Shortest phrase remembered, in characters (`CTS`, `LBP`; not `L5`).
const MIN_CHARS: usize = 3;

/// A mention of a remembered phrase in a letter, in characters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Recalled {
    pub start: usize,
    pub end: usize,
    pub label: Label,
    /// Share of the phrase's mentions in the training letters that the gold tags.
    pub share: f32,
}

/// What is remembered of one phrase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Entry {
    label: Label,
    /// Gold spans of `label` with the phrase's words, in the training letters.
    tagged: u32,
    /// Mentions of the phrase there (at least `tagged`).
    mentions: u32,
}

impl Entry {
    fn share(self) -> f32 {
        self.tagged as f32 / self.mentions as f32
    }
}

#[derive(Debug, Clone, Default)]
pub struct Memory {
    /// Per phrase of `phrases`, in the same order (phrase order, so files are reproducible).
    entries: Vec<Entry>,
    phrases: Phrases,
}

impl Memory {
    /// Remembers the drug and diagnosis phrases that the gold of labelled letters tags. A
    /// phrase tagged with both labels keeps the one it has more often.
    pub fn from_letters(letters: &[&LabelledLetter]) -> Memory {
        let gold: Vec<(&str, &[EntitySpan])> = letters
            .iter()
            .map(|l| (l.letter.text.as_str(), l.entities.as_slice()))
            .collect();
        Memory::from_gold(&gold)
    }

    /// `from_letters` for texts and their gold spans (character offsets).
    pub fn from_gold(letters: &[(&str, &[EntitySpan])]) -> Memory {
        // Phrase -> times tagged as DRUG, as DIAGNOSIS.
        let mut tagged: BTreeMap<String, [usize; 2]> = BTreeMap::new();
        let texts: Vec<Vec<char>> = letters.iter().map(|l| l.0.chars().collect()).collect();
        for ((_, gold), text) in letters.iter().zip(&texts) {
            for e in gold.iter() {
                let slot = match e.label {
                    Label::Drug => 0,
                    Label::Diagnosis => 1,
                    _ => continue,
                };
                let words: String = text[e.start.min(text.len())..e.end.min(text.len())]
                    .iter()
                    .collect();
                let key: String = phrase_key(&words).into_iter().collect();
                if key.chars().count() >= MIN_CHARS && key.chars().any(char::is_alphabetic) {
                    tagged.entry(key).or_default()[slot] += 1;
                }
            }
        }
        let phrases = Phrases::new(tagged.keys().map(|k| k.chars().collect()).collect());
        let mut mentions = vec![0usize; tagged.len()];
        for text in &texts {
            for (k, _, _) in phrases.find(text) {
                mentions[k] += 1;
            }
        }
        let entries = tagged
            .values()
            .zip(&mentions)
            .map(|(&[drug, dx], &seen)| {
                let (label, n) = if drug > dx {
                    (Label::Drug, drug)
                } else {
                    (Label::Diagnosis, dx)
                };
                Entry {
                    label,
                    tagged: n as u32,
                    mentions: seen.max(drug + dx) as u32,
                }
            })
            .collect();
        Memory { entries, phrases }
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every mention of a remembered phrase in `text`, ordered by start, the longer first.
    pub fn find(&self, text: &[char]) -> Vec<Recalled> {
        let mut out: Vec<Recalled> = self
            .phrases
            .find(text)
            .into_iter()
            .map(|(k, start, end)| Recalled {
                start,
                end,
                label: self.entries[k].label,
                share: self.entries[k].share(),
            })
            .collect();
        out.sort_by_key(|r| (r.start, std::cmp::Reverse(r.end)));
        out
    }

    /// Writes one `LABEL<TAB>tagged<TAB>mentions<TAB>phrase` line per phrase, in phrase order.
    pub fn save(&self, path: &Path) -> Result<()> {
        let mut s = String::new();
        for (key, e) in self.phrases.patterns().iter().zip(&self.entries) {
            let key: String = key.iter().collect();
            s.push_str(&format!(
                "{}\t{}\t{}\t{key}\n",
                e.label, e.tagged, e.mentions
            ));
        }
        std::fs::write(path, s).map_err(|e| Error::io(path, e))
    }

    pub fn load(path: &Path) -> Result<Memory> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Memory::from_bytes(&bytes, path)
    }

    /// A memory from the bytes of its `memory.tsv` (read from `path`).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Memory> {
        let content = std::str::from_utf8(bytes).map_err(|e| Error::NotUtf8 {
            path: path.into(),
            offset: e.valid_up_to(),
        })?;
        let bad = |line: usize, what: String| Error::Model {
            path: path.into(),
            message: format!("line {line}: {what}"),
        };
        let mut patterns = Vec::new();
        let mut entries = Vec::new();
        for (i, line) in content.lines().enumerate() {
            let cols: Vec<&str> = line.splitn(4, '\t').collect();
            let &[label, tagged, mentions, key] = cols.as_slice() else {
                return Err(bad(
                    i + 1,
                    "expected LABEL<TAB>tagged<TAB>mentions<TAB>phrase".into(),
                ));
            };
            let label: Label = label.parse().map_err(|e: String| bad(i + 1, e))?;
            let count = |v: &str| v.parse::<u32>().ok();
            let (Some(tagged), Some(mentions)) = (count(tagged), count(mentions)) else {
                return Err(bad(i + 1, "the counts are not whole numbers".into()));
            };
            if tagged == 0 || mentions < tagged {
                return Err(bad(
                    i + 1,
                    format!("{tagged} tagged of {mentions} mentions: need 1 <= tagged <= mentions"),
                ));
            }
            if !matches!(label, Label::Drug | Label::Diagnosis) {
                return Err(bad(i + 1, format!("{label} is not DRUG or DIAGNOSIS")));
            }
            let folded: String = phrase_key(key).into_iter().collect();
            if folded.is_empty() || folded != key {
                return Err(bad(
                    i + 1,
                    format!("{key:?} is not a phrase in lower case with single spaces"),
                ));
            }
            patterns.push(key.chars().collect());
            entries.push(Entry {
                label,
                tagged,
                mentions,
            });
        }
        let phrases = Phrases::new(patterns);
        Ok(Memory { entries, phrases })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gold(text: &str, spans: &[(&str, Label)]) -> Vec<EntitySpan> {
        spans
            .iter()
            .map(|&(s, label)| {
                let start = text.find(s).unwrap();
                EntitySpan {
                    start,
                    end: start + s.len(),
                    label,
                }
            })
            .collect()
    }

    #[test]
    fn remembers_gold_phrases_with_their_share_and_finds_them() {
        let a = "Diagnoses: Myalgia and\nmyositis; CTS. Percocet for LBP. Tylenol.";
        let gold_a = gold(
            a,
            &[
                ("Myalgia and\nmyositis", Label::Diagnosis),
                ("CTS", Label::Diagnosis),
                ("Percocet", Label::Drug),
                ("Tylenol", Label::Drug),
                ("LBP", Label::Dose), // not a drug or diagnosis: not remembered
            ],
        );
        // `ctS` tagged once of its two mentions over both letters; `L5` is too short.
        let b = "The ctS test. L5 pain. Tylenol.";
        let gold_b = gold(b, &[("Tylenol", Label::Drug), ("L5", Label::Diagnosis)]);
        let m = Memory::from_gold(&[(a, &gold_a), (b, &gold_b)]);
        assert_eq!(m.len(), 4);
        let text: Vec<char> = "cts and MYALGIA AND MYOSITIS, then percocet; lbp"
            .chars()
            .collect();
        let found: Vec<(String, Label, f32)> = m
            .find(&text)
            .iter()
            .map(|r| (text[r.start..r.end].iter().collect(), r.label, r.share))
            .collect();
        assert_eq!(
            found,
            [
                ("cts".to_string(), Label::Diagnosis, 0.5),
                ("MYALGIA AND MYOSITIS".to_string(), Label::Diagnosis, 1.0),
                ("percocet".to_string(), Label::Drug, 1.0),
            ]
        );

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("memory.tsv");
        m.save(&p).unwrap();
        let back = Memory::load(&p).unwrap();
        assert_eq!(back.find(&text), m.find(&text));
        assert_eq!(std::fs::read(&p).unwrap(), {
            back.save(&p).unwrap();
            std::fs::read(&p).unwrap()
        });
    }

    #[test]
    fn a_bad_memory_file_is_an_error_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("memory.tsv");
        for (content, says) in [
            (
                "DIAGNOSIS\t2\t3\tlow back pain\nDRUG\tlots\t1\tnorco\n",
                "line 2: the counts",
            ),
            ("DRUG\t3\t2\tnorco\n", "3 tagged of 2 mentions"),
            ("DOSE\t1\t1\t10 mg\n", "not DRUG or DIAGNOSIS"),
            ("DRUG\t1\t1\tNorco\n", "lower case"),
            ("DIAGNOSIS\t1\tlow back pain\n", "expected LABEL"),
            ("SYMPTOM\t1\t1\tpain\n", "unknown label"),
        ] {
            std::fs::write(&p, content).unwrap();
            let err = Memory::load(&p).unwrap_err().to_string();
            assert!(err.contains("memory.tsv") && err.contains(says), "{err}");
        }
    }
}
