//! Gazetteers that give the tagger prior knowledge beyond the 135 training letters: drug names
//! (DrugBank-derived variants, FDA UNII brand and official names) and diagnosis phrases
//! (ICD-10-CM descriptions and inclusion terms). Built once from `data/` by `train` and stored in
//! the model directory, so that a model is self-contained.

use crate::words::Words;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::sync::LazyLock;

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use regex::Regex;

use crate::annotation::corpus::LabelledLetter;
use crate::annotation::Label;
use crate::error::{Error, Result};
use crate::letter::CharIndex;

/// Longest phrase, in words, that is looked up.
pub const MAX_WORDS: usize = 5;

static WORD: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z0-9]+(?:['\-][A-Za-z0-9]+)*").expect("static pattern"));

/// Brand names that are everyday words (FDA UNII lists cosmetics and devices too).
static DRUG_STOP: Words = Words("DRUG_STOP");

/// Words too common or too vague to count as a diagnosis on their own.
static DX_STOP: Words = Words("DX_STOP");

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Lexicon {
    drugs: HashSet<String>,
    diagnoses: HashSet<String>,
    /// Every two words next to each other in a diagnosis phrase, as `"a b"` (derived).
    diagnosis_pairs: HashSet<String>,
    /// Drug entries set aside as ordinary words (`common_words`, `without_drugs`): not looked
    /// up, but saved with the lexicon so that the filter ships with the model and can be
    /// undone (`with_all_drugs`) before a new training filters with its own letters.
    set_aside: BTreeSet<String>,
}

/// Character ranges where a lexicon entry matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Matches {
    pub drugs: Vec<(usize, usize)>,
    pub diagnoses: Vec<(usize, usize)>,
    /// Two words next to each other in the text (only spaces, or one line break, between)
    /// that are next to each other in some diagnosis phrase (`rotator` `cuff`): the character
    /// ranges of both words, in order.
    pub diagnosis_links: Vec<[(usize, usize); 2]>,
}

/// Folds a phrase to its lookup key: lower-cased words joined by single spaces.
fn key(phrase: &str) -> Option<String> {
    let words: Vec<String> = WORD
        .find_iter(phrase)
        .map(|m| m.as_str().to_ascii_lowercase())
        .collect();
    (!words.is_empty() && words.len() <= MAX_WORDS).then(|| words.join(" "))
}

/// The largest lexicon read, uncompressed (the shipped one is 3.6 MB).
const MAX_LEXICON_BYTES: u64 = 256 * 1024 * 1024;

fn open_gz(path: &Path) -> Result<impl BufRead> {
    let f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    Ok(BufReader::new(GzDecoder::new(f)))
}

fn tsv_column(path: &Path, gz: bool, column: usize, mut each: impl FnMut(&str)) -> Result<()> {
    let reader: Box<dyn BufRead> = if gz {
        Box::new(open_gz(path)?)
    } else {
        Box::new(BufReader::new(
            std::fs::File::open(path).map_err(|e| Error::io(path, e))?,
        ))
    };
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|e| Error::io(path, e))?;
        if i == 0 {
            continue; // header row
        }
        if let Some(v) = line.split('\t').nth(column) {
            each(v);
        }
    }
    Ok(())
}

impl Lexicon {
    /// Builds the gazetteers from the lexicon folders under `data_dir`
    /// (`drug-lexicon/` and `icd10cm/`).
    pub fn from_data_dir(data_dir: &Path) -> Result<Lexicon> {
        let mut lex = Lexicon::default();
        let drug = data_dir.join("drug-lexicon");
        let mut add_drug = |v: &str| {
            // Wikipedia-derived noise carries markup; real names are letters, digits, - ' space.
            if v.len() >= 4 && !v.contains(['&', '=', '<', '>', ';']) {
                if let Some(k) = key(v) {
                    if k.len() >= 4
                        && k.chars().any(|c| c.is_ascii_alphabetic())
                        && !DRUG_STOP.contains(&k.as_str())
                    {
                        lex.drugs.insert(k);
                    }
                }
            }
        };
        tsv_column(
            &drug.join("drugner_variant_to_canonical.tsv.gz"),
            true,
            0,
            &mut add_drug,
        )?;
        tsv_column(
            &drug.join("fda_unii_brand_names.tsv.gz"),
            true,
            0,
            &mut add_drug,
        )?;
        tsv_column(
            &drug.join("fda_unii_official_names.tsv.gz"),
            true,
            1,
            &mut add_drug,
        )?;

        let icd = data_dir.join("icd10cm");
        let mut add_dx = |v: &str| {
            // "Low back pain, unspecified" -> "low back pain": the part before a comma or bracket
            // is the condition; the rest qualifies it.
            let head = v.split([',', '(', '[', ';']).next().unwrap_or("");
            if let Some(k) = key(head) {
                if !(k.split(' ').count() == 1 && DX_STOP.contains(&k.as_str())) && k.len() >= 4 {
                    lex.diagnoses.insert(k);
                }
            }
        };
        tsv_column(&icd.join("icd10cm_2026_codes.tsv.gz"), true, 3, &mut add_dx)?;
        tsv_column(
            &icd.join("icd10cm_2026_inclusion_terms.tsv"),
            false,
            1,
            &mut add_dx,
        )?;
        Ok(lex.with_pairs())
    }

    /// Derives `diagnosis_pairs`. A pair that adds a complication (`with radiculopathy`,
    /// `without myelopathy`) is kept only when two or more phrases have it: one name alone
    /// (`conversion disorder with weakness paralysis`) does not make `with weakness` a pattern.
    fn with_pairs(mut self) -> Self {
        let mut counts: HashMap<String, usize> = HashMap::new();
        for p in &self.diagnoses {
            let words: Vec<&str> = p.split(' ').collect();
            for w in words.windows(2) {
                *counts.entry(format!("{} {}", w[0], w[1])).or_default() += 1;
            }
        }
        self.diagnosis_pairs = counts
            .into_iter()
            .filter(|(pair, n)| {
                let complication = pair.starts_with("with ") || pair.starts_with("without ");
                !complication || *n >= 2
            })
            .map(|(pair, _)| pair)
            .collect();
        self
    }

    /// A lexicon from phrases given directly (for tests and small tools).
    pub fn from_entries<'a>(
        drugs: impl IntoIterator<Item = &'a str>,
        diagnoses: impl IntoIterator<Item = &'a str>,
    ) -> Lexicon {
        Lexicon {
            drugs: drugs.into_iter().filter_map(key).collect(),
            diagnoses: diagnoses.into_iter().filter_map(key).collect(),
            diagnosis_pairs: HashSet::new(),
            set_aside: BTreeSet::new(),
        }
        .with_pairs()
    }

    /// The drug-lexicon entries that the letters use only as ordinary words: each matches
    /// somewhere outside every gold DRUG span and never as a gold DRUG span's own text (a
    /// word the gold tags as a drug in any letter stays). The gold tags every mention
    /// (ANNOTATION.md), so an entry found outside the drug spans is, in that letter, not a
    /// drug: `support`, `balance`, `flexeril` only where a letter never tags it. Sorted.
    pub fn common_words(&self, letters: &[LabelledLetter]) -> Vec<String> {
        let mut as_drug: HashSet<String> = HashSet::new();
        let mut as_word: HashSet<String> = HashSet::new();
        for l in letters {
            let drugs: Vec<(usize, usize)> = l
                .entities
                .iter()
                .filter(|e| e.label == Label::Drug)
                .map(|e| (e.start, e.end))
                .collect();
            let chars: Vec<char> = l.letter.text.chars().collect();
            for (s, e) in self.find(&l.letter.text, &l.letter.chars).drugs {
                let Some(k) = key(&chars[s..e].iter().collect::<String>()) else {
                    continue;
                };
                if drugs.iter().any(|&(ds, de)| s >= ds && e <= de) {
                    as_drug.insert(k);
                } else if drugs.iter().all(|&(ds, de)| e <= ds || s >= de) {
                    as_word.insert(k);
                }
            }
        }
        let mut out: Vec<String> = as_word.difference(&as_drug).cloned().collect();
        out.sort();
        out
    }

    /// This lexicon with the drug entries `common` (`common_words`) set aside: no longer
    /// looked up, still saved.
    pub fn without_drugs(mut self, common: &[String]) -> Lexicon {
        for w in common {
            if self.drugs.remove(w) {
                self.set_aside.insert(w.clone());
            }
        }
        self
    }

    /// This lexicon with every set-aside drug entry looked up again: the lexicon as it was
    /// built, before any training filtered it.
    pub fn with_all_drugs(mut self) -> Lexicon {
        self.drugs.extend(std::mem::take(&mut self.set_aside));
        self
    }

    /// The drug entries set aside as ordinary words, sorted.
    pub fn set_aside(&self) -> Vec<&str> {
        self.set_aside.iter().map(String::as_str).collect()
    }

    /// Every drug entry, sorted (lower-cased, as looked up).
    pub fn drug_names(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.drugs.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Every diagnosis phrase, sorted (lower-cased, as looked up).
    pub fn diagnosis_phrases(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.diagnoses.iter().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    pub fn len(&self) -> (usize, usize) {
        (self.drugs.len(), self.diagnoses.len())
    }

    pub fn is_empty(&self) -> bool {
        self.drugs.is_empty() && self.diagnoses.is_empty()
    }

    /// Writes the gazetteers as gzip text, one `D<TAB>phrase` or `X<TAB>phrase` a line (and
    /// `C<TAB>word` for a drug entry set aside as an ordinary word), sorted so that the file is
    /// byte-identical for the same data.
    pub fn save(&self, path: &Path) -> Result<()> {
        let f = std::fs::File::create(path).map_err(|e| Error::io(path, e))?;
        let mut gz = GzEncoder::new(f, flate2::Compression::best());
        let mut write_all = |tag: &str, set: &HashSet<String>| -> std::io::Result<()> {
            let mut v: Vec<&String> = set.iter().collect();
            v.sort();
            for s in v {
                writeln!(gz, "{tag}\t{s}")?;
            }
            Ok(())
        };
        let aside: HashSet<String> = self.set_aside.iter().cloned().collect();
        write_all("D", &self.drugs)
            .and_then(|_| write_all("X", &self.diagnoses))
            .and_then(|_| write_all("C", &aside))
            .map_err(|e| Error::io(path, e))?;
        gz.finish().map_err(|e| Error::io(path, e))?;
        Ok(())
    }

    pub fn load(path: &Path) -> Result<Lexicon> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        Lexicon::from_gz_bytes(&bytes, path)
    }

    /// A lexicon from the gzip bytes of its `lexicon.txt.gz` (read from `path`). Bounded: a
    /// damaged or foreign file is refused before it fills memory, and a lexicon with no drug
    /// or no diagnosis is refused too (the model's features would be silently blank).
    pub fn from_gz_bytes(bytes: &[u8], path: &Path) -> Result<Lexicon> {
        let bad = |message: String| Error::Model {
            path: path.into(),
            message,
        };
        let mut content = String::new();
        GzDecoder::new(bytes)
            .take(MAX_LEXICON_BYTES + 1)
            .read_to_string(&mut content)
            .map_err(|e| Error::io(path, e))?;
        if content.len() as u64 > MAX_LEXICON_BYTES {
            return Err(bad(format!(
                "over {MAX_LEXICON_BYTES} bytes uncompressed: not a lexicon imr wrote"
            )));
        }
        let mut lex = Lexicon::default();
        for (i, line) in content.lines().enumerate() {
            match line.split_once('\t') {
                Some(("D", v)) => lex.drugs.insert(v.to_owned()),
                Some(("X", v)) => lex.diagnoses.insert(v.to_owned()),
                Some(("C", v)) => lex.set_aside.insert(v.to_owned()),
                _ => return Err(bad(format!("line {}: not a lexicon entry", i + 1))),
            };
        }
        if lex.drugs.is_empty() || lex.diagnoses.is_empty() {
            return Err(bad(format!(
                "{} drugs and {} diagnoses: a lexicon needs both",
                lex.drugs.len(),
                lex.diagnoses.len()
            )));
        }
        Ok(lex.with_pairs())
    }

    /// Longest-match lookup of both gazetteers over the words of `text`, and the diagnosis
    /// links between those words; character ranges.
    pub fn find(&self, text: &str, chars: &CharIndex) -> Matches {
        let words: Vec<(usize, usize, String)> = WORD
            .find_iter(text)
            .map(|m| (m.start(), m.end(), m.as_str().to_ascii_lowercase()))
            .collect();
        let scan = |set: &HashSet<String>| {
            let mut out = Vec::new();
            let mut i = 0;
            let mut buf = String::new();
            while i < words.len() {
                let mut best = 0;
                buf.clear();
                for n in 1..=MAX_WORDS.min(words.len() - i) {
                    if n > 1 {
                        // A phrase does not run across a line break with a blank line or a
                        // sentence end; a single line break is fine (PDF wrapping).
                        let gap = &text[words[i + n - 2].1..words[i + n - 1].0];
                        if gap.len() > 4 || gap.contains(['.', ';', ':']) {
                            break;
                        }
                        buf.push(' ');
                    }
                    buf.push_str(&words[i + n - 1].2);
                    if set.contains(&buf) {
                        best = n;
                    }
                }
                if best > 0 {
                    out.push((
                        chars.to_char(words[i].0),
                        chars.to_char(words[i + best - 1].1),
                    ));
                    i += best;
                } else {
                    i += 1;
                }
            }
            out
        };
        let mut diagnosis_links = Vec::new();
        let mut pair = String::new();
        for w in words.windows(2) {
            let ((s, e, a), (t, f, b)) = (&w[0], &w[1]);
            let gap = &text[*e..*t];
            if gap.chars().all(|c| c == ' ' || c == '\n') && gap.matches('\n').count() <= 1 {
                pair.clear();
                pair.push_str(a);
                pair.push(' ');
                pair.push_str(b);
                if self.diagnosis_pairs.contains(&pair) {
                    diagnosis_links.push([
                        (chars.to_char(*s), chars.to_char(*e)),
                        (chars.to_char(*t), chars.to_char(*f)),
                    ]);
                }
            }
        }
        Matches {
            drugs: scan(&self.drugs),
            diagnoses: scan(&self.diagnoses),
            diagnosis_links,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_and_round_trip() {
        let lex = Lexicon::from_entries(["tramadol", "diclofenac potassium"], ["low back pain"]);
        let text = "Diclofenac Potassium and Tramadol for low\nback pain.";
        let m = lex.find(text, &CharIndex::new(text));
        assert_eq!(m.drugs, vec![(0, 20), (25, 33)]);
        assert_eq!(m.diagnoses, vec![(38, 51)]);
        // `low back`, `back pain` are pairs; `for low` and `and tramadol` are not.
        assert_eq!(
            m.diagnosis_links,
            vec![[(38, 41), (42, 46)], [(42, 46), (47, 51)]]
        );

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lexicon.txt.gz");
        lex.save(&p).unwrap();
        let back = Lexicon::load(&p).unwrap();
        assert_eq!(back.find(text, &CharIndex::new(text)), m);
    }

    #[test]
    fn common_words_are_entries_used_only_outside_the_drug_gold() {
        use crate::annotation::EntitySpan;
        let lex = Lexicon::from_entries(["support", "norco", "flexeril", "balance"], ["pain"]);
        // Each text is a letter's decisions section, after a heading and an item line.
        const HEAD: &str = "IMR ISSUES, DECISIONS AND RATIONALES\nPhysical therapy #12: Upheld\n\nDecision rationale: ";
        let at = HEAD.chars().count();
        let letter = |text: &str, drugs: &[(usize, usize)]| LabelledLetter {
            letter: crate::Letter::from_text("x.txt", format!("{HEAD}{text}\n")).unwrap(),
            entities: drugs
                .iter()
                .map(|&(start, end)| EntitySpan {
                    start: at + start,
                    end: at + end,
                    label: Label::Drug,
                })
                .collect(),
        };
        let letters = [
            // `Norco` is a drug here; `support` and `flexeril` are not tagged.
            letter("Norco for support. Flexeril.", &[(0, 5)]),
            // `flexeril` is tagged in another letter: it stays.
            letter("Flexeril helps balance and support.", &[(0, 8)]),
        ];
        let common = lex.common_words(&letters);
        assert_eq!(common, ["balance", "support"]);
        let filtered = lex.clone().without_drugs(&common);
        assert_eq!(filtered.drug_names(), ["flexeril", "norco"]);
        assert_eq!(filtered.set_aside(), ["balance", "support"]);
        // Deterministic: the same letters give the same list.
        assert_eq!(lex.common_words(&letters), common);
        // The filter is saved with the lexicon and can be undone.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lexicon.txt.gz");
        filtered.save(&p).unwrap();
        let back = Lexicon::load(&p).unwrap();
        assert_eq!(back, filtered);
        assert_eq!(back.with_all_drugs(), lex);
    }
}
