//! A `DIAGNOSIS` mention to an ICD-10-CM code and its title, from the codes' descriptions and
//! inclusion terms in `data/icd10cm/`: an exact match of the folded words first (order, case,
//! punctuation and the classification's filler words set aside), then the nearest description
//! by TF-IDF weighted character 3-grams of the words (cosine), the way scispaCy's linker
//! finds candidates. A match below the threshold is none.
//!
//! Codes are linked at the level a mention can state: a 7th-character extension (`S39.012A`,
//! "initial encounter") names the encounter, which a diagnosis in a letter does not, so the
//! extended codes are left out and their parents stand for them.

use ahash::AHashMap as HashMap;
use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::words::Words;

/// Words of the classification's titles that say nothing of the condition (`unspecified`,
/// `region`, `site`); left out of the exact match.
static ICD_FILLER: Words = Words("ICD_FILLER");

/// The similarity under which a nearest description is no match. Chosen on the letters of
/// the read folds of the normalisation gold (`eval::normalization`), reported on the others.
pub const DEFAULT_THRESHOLD: f32 = 0.50;

/// How a mention was linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeMatch {
    /// Its folded words are those of a title or inclusion term.
    Exact,
    /// The nearest title or term by character 3-grams.
    Nearest,
}

/// An ICD-10-CM code linked to a mention.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CodeLink {
    pub code: String,
    pub title: String,
    /// Cosine similarity of the mention and the matched title or term (1 for an exact match).
    pub score: f32,
    #[serde(rename = "match")]
    pub matched: CodeMatch,
}

#[derive(Debug)]
struct Code {
    code: String,
    title: String,
    billable: bool,
}

/// The codes with the inverted index of their titles' and terms' 3-grams.
#[derive(Debug, Default)]
pub struct Icd10 {
    codes: Vec<Code>,
    /// Each title or inclusion term: the code it names.
    entries: Vec<u32>,
    /// Folded words (sorted) -> the entries that fold to them.
    exact: HashMap<String, Vec<u32>>,
    /// 3-gram -> its inverse document frequency and the range of `postings` holding the
    /// entries with their weights (the entries' vectors are unit length).
    grams: HashMap<Gram, (f32, u32, u32)>,
    /// Every 3-gram's entries, one after another: one array, not a list per 3-gram (which
    /// took twice the memory).
    postings: Vec<(u32, f32)>,
    /// Each code's children (one character longer), in the table's order.
    children: Vec<Vec<u32>>,
}

/// Runs of letters and digits, as they are written.
fn runs(text: &str) -> impl Iterator<Item = &str> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
}

/// Lower-case runs of letters and digits.
fn words(text: &str) -> Vec<String> {
    runs(text).map(str::to_lowercase).collect()
}

/// The exact-match key: the words that are not filler, sorted.
fn exact_key(text: &str) -> String {
    let mut w: Vec<String> = words(text)
        .into_iter()
        .filter(|w| !ICD_FILLER.contains(&w.as_str()))
        .collect();
    w.sort();
    w.dedup();
    w.join(" ")
}

/// A character 3-gram, its three characters packed in 21 bits each.
type Gram = u64;

/// Character 3-grams of each word padded with a space either side, with their counts, in
/// order of the gram.
fn grams(text: &str) -> Vec<(Gram, u32)> {
    let mut all: Vec<Gram> = Vec::new();
    // The words of `words`, lowercased a character at a time: no string per word (this ran
    // over every ICD-10-CM description twice at start-up, a quarter of a short run's time).
    for w in runs(text) {
        let mut window: [u64; 3] = [0, 0, u64::from(' ')];
        for c in w.chars().flat_map(char::to_lowercase).chain([' ']) {
            window = [window[1], window[2], u64::from(c)];
            if window[0] != 0 {
                all.push((window[0] << 42) | (window[1] << 21) | window[2]);
            }
        }
    }
    all.sort_unstable();
    let mut out: Vec<(Gram, u32)> = Vec::new();
    for g in all {
        match out.last_mut() {
            Some((last, c)) if *last == g => *c += 1,
            _ => out.push((g, 1)),
        }
    }
    out
}

/// A code's 7th character is its extension when the code has seven (`S39.012A`).
fn extended(code: &str) -> bool {
    code.chars().filter(|c| *c != '.').count() == 7
}

fn parent(code: &str) -> &str {
    let p = &code[..code.len() - 1];
    p.strip_suffix('.').unwrap_or(p)
}

/// Which side of the body a mention names, as the titles of ICD-10-CM write it.
fn side(mention_words: &[String]) -> Option<&'static str> {
    let has = |w: &str| mention_words.iter().any(|m| m == w);
    if has("bilateral") || has("bilaterally") || has("both") {
        Some("bilateral")
    } else if has("right") {
        Some("right")
    } else if has("left") {
        Some("left")
    } else {
        None
    }
}

impl Icd10 {
    /// Reads the codes (`code, kind, billable_leaf, description`, gzipped) and the inclusion
    /// terms (`code, inclusion_term`), both TSV with a header row.
    pub fn read(codes_gz: impl Read, terms: impl Read) -> Result<Icd10> {
        let mut codes: Vec<Code> = Vec::new();
        let mut index: HashMap<String, u32> = HashMap::new();
        let mut texts: Vec<(String, u32)> = Vec::new();
        let reader = BufReader::new(GzDecoder::new(codes_gz));
        for line in reader.lines().skip(1) {
            let line = line.map_err(|e| Error::io("icd10cm_2026_codes.tsv.gz", e))?;
            let cols: Vec<&str> = line.split('\t').collect();
            let [code, kind, billable, title] = cols[..] else {
                continue;
            };
            // A block that is one code (`T07`, `B20`) is listed as a block, twice.
            let one_code_block = kind == "block" && !code.contains('-');
            if !(matches!(kind, "category" | "subcategory") || one_code_block)
                || extended(code)
                || index.contains_key(code)
            {
                continue;
            }
            let i = codes.len() as u32;
            index.insert(code.to_string(), i);
            codes.push(Code {
                code: code.to_string(),
                title: title.to_string(),
                billable: billable == "Y",
            });
            texts.push((title.to_string(), i));
        }
        let reader = BufReader::new(terms);
        for line in reader.lines().skip(1) {
            let line = line.map_err(|e| Error::io("icd10cm_2026_inclusion_terms.tsv", e))?;
            let Some((code, term)) = line.split_once('\t') else {
                continue;
            };
            let code = if extended(code) { parent(code) } else { code };
            if let Some(&i) = index.get(code) {
                texts.push((term.to_string(), i));
            }
        }
        Ok(Icd10::from_entries(codes, texts))
    }

    fn from_entries(codes: Vec<Code>, texts: Vec<(String, u32)>) -> Icd10 {
        let mut exact: HashMap<String, Vec<u32>> = HashMap::new();
        let mut df: HashMap<Gram, u32> = HashMap::new();
        let mut entries = Vec::with_capacity(texts.len());
        // Two passes over the texts (document frequencies, then weights) rather than the
        // grams of all of them held at once: the index is built while the model loads, and
        // the peaks would add.
        for (e, (text, code)) in texts.iter().enumerate() {
            entries.push(*code);
            exact.entry(exact_key(text)).or_default().push(e as u32);
            for (k, _) in grams(text) {
                *df.entry(k).or_default() += 1;
            }
        }
        let n = texts.len() as f32;
        let idf = |d: u32| (1.0 + n) / (1.0 + d as f32);
        let mut index: HashMap<Gram, (f32, u32, u32)> = HashMap::with_capacity(df.len());
        let mut total = 0u32;
        for (&g, &d) in &df {
            // The range starts empty and fills up to its document frequency.
            index.insert(g, (idf(d).ln() + 1.0, total, total));
            total += d;
        }
        let mut postings = vec![(0u32, 0f32); total as usize];
        for (e, (text, _)) in texts.iter().enumerate() {
            let g = grams(text);
            let weights: Vec<(&Gram, f32)> =
                g.iter().map(|(k, c)| (k, *c as f32 * index[k].0)).collect();
            let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
            for (k, w) in weights {
                let (_, _, end) = index.get_mut(k).expect("every gram was counted");
                postings[*end as usize] = (e as u32, w / norm);
                *end += 1;
            }
        }
        let mut children: Vec<Vec<u32>> = vec![Vec::new(); codes.len()];
        let at: HashMap<&str, u32> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.code.as_str(), i as u32))
            .collect();
        for (i, c) in codes.iter().enumerate() {
            if c.code.len() > 1 {
                if let Some(&p) = at.get(parent(&c.code)) {
                    children[p as usize].push(i as u32);
                }
            }
        }
        Icd10 {
            codes,
            entries,
            exact,
            grams: index,
            postings,
            children,
        }
    }

    /// The title of a code, if the table has it.
    pub fn title(&self, code: &str) -> Option<&str> {
        self.codes
            .iter()
            .find(|c| c.code == code)
            .map(|c| c.title.as_str())
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// Of several entries, the one to link: a billable code before a heading, then the code
    /// listed first.
    fn best_of(&self, entries: &[u32]) -> u32 {
        *entries
            .iter()
            .min_by_key(|&&e| {
                let c = self.entries[e as usize];
                (!self.codes[c as usize].billable, c)
            })
            .expect("an exact key has entries")
    }

    /// From a heading down to the code a mention states, the way a coder reads the tabular
    /// list: the child of the side the mention names (`right`, `left`, `bilateral`), else the
    /// `unspecified` child, else the `other` child (the classification's residual), until a
    /// code without children or without such a child.
    fn specific(&self, mut code: u32, mention: &str) -> u32 {
        let said = words(mention);
        let side = side(&said);
        loop {
            let kids = &self.children[code as usize];
            // A child's title says what the heading's does not: one more `right`, one more
            // `unspecified` (`... of unspecified radius` under `Unspecified fracture of ...`).
            let count = |c: u32, w: &str| {
                words(&self.codes[c as usize].title)
                    .iter()
                    .filter(|t| *t == w)
                    .count()
            };
            let adds = |k: &&u32, w: &str| count(**k, w) > count(code, w);
            let pick = side
                .and_then(|s| kids.iter().find(|k| adds(k, s)))
                .or_else(|| kids.iter().find(|k| adds(k, "unspecified")))
                .or_else(|| {
                    kids.iter().find(|k| {
                        words(&self.codes[**k as usize].title)
                            .first()
                            .is_some_and(|w| w == "other")
                    })
                });
            match pick {
                Some(&k) => code = k,
                None => return code,
            }
        }
    }

    fn link(&self, entry: u32, score: f32, matched: CodeMatch, mention: &str) -> CodeLink {
        let code = self.specific(self.entries[entry as usize], mention);
        let c = &self.codes[code as usize];
        CodeLink {
            code: c.code.clone(),
            title: c.title.clone(),
            score: (score * 1e4).round() / 1e4,
            matched,
        }
    }

    /// The code of a mention, or `None` when nothing matches at `threshold` or above.
    pub fn normalize(&self, mention: &str, threshold: f32) -> Option<CodeLink> {
        let k = exact_key(mention);
        if k.is_empty() {
            return None;
        }
        if let Some(entries) = self.exact.get(&k) {
            return Some(self.link(self.best_of(entries), 1.0, CodeMatch::Exact, mention));
        }
        let (entry, score) = self.nearest(mention)?;
        (score >= threshold).then(|| self.link(entry, score, CodeMatch::Nearest, mention))
    }

    /// The entry of highest cosine similarity to `mention` (ties: the billable code, then the
    /// first), with the similarity.
    pub fn nearest(&self, mention: &str) -> Option<(u32, f32)> {
        let q = grams(mention);
        let mut weights: Vec<(&[(u32, f32)], f32)> = Vec::new();
        for (k, c) in &q {
            // A 3-gram no title has adds to the query's length but to no entry's score.
            match self.grams.get(k) {
                Some(&(idf, start, end)) => weights.push((
                    &self.postings[start as usize..end as usize],
                    *c as f32 * idf,
                )),
                None => weights.push((&[], *c as f32 * self.unseen_idf())),
            }
        }
        let norm = weights.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm == 0.0 {
            return None;
        }
        // Dense scores over the entries (60k floats), reset by the entries touched.
        let mut scores = vec![0f32; self.entries.len()];
        let mut touched: Vec<u32> = Vec::new();
        for (postings, w) in weights {
            let w = w / norm;
            for &(e, we) in postings {
                let s = &mut scores[e as usize];
                if *s == 0.0 {
                    touched.push(e);
                }
                *s += w * we;
            }
        }
        let top = touched
            .iter()
            .map(|&e| scores[e as usize])
            .fold(f32::NEG_INFINITY, f32::max);
        if top <= 0.0 {
            return None;
        }
        let mut tied: Vec<u32> = touched
            .into_iter()
            .filter(|&e| scores[e as usize] >= top - 1e-6)
            .collect();
        tied.sort_unstable();
        Some((self.best_of(&tied), top))
    }

    fn unseen_idf(&self) -> f32 {
        (1.0 + self.entries.len() as f32).ln() + 1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table of `codes` (code, billable, title), their titles and `terms` (text, code's
    /// position) as the entries.
    fn table_of(codes: &[(&str, bool, &str)], terms: &[(&str, u32)]) -> Icd10 {
        let texts: Vec<(String, u32)> = codes
            .iter()
            .enumerate()
            .map(|(i, c)| (c.2.to_string(), i as u32))
            .chain(terms.iter().map(|(t, i)| (t.to_string(), *i)))
            .collect();
        let codes = codes
            .iter()
            .map(|(c, b, t)| Code {
                code: c.to_string(),
                title: t.to_string(),
                billable: *b,
            })
            .collect();
        Icd10::from_entries(codes, texts)
    }

    fn table() -> Icd10 {
        table_of(
            &[
                ("M54.5", false, "Low back pain"),
                ("M54.50", true, "Low back pain, unspecified"),
                ("M54.16", true, "Radiculopathy, lumbar region"),
                ("M54.12", true, "Radiculopathy, cervical region"),
                (
                    "G56.00",
                    true,
                    "Carpal tunnel syndrome, unspecified upper limb",
                ),
                (
                    "S39.012",
                    false,
                    "Strain of muscle, fascia and tendon of lower back",
                ),
            ],
            &[("Lumbago NOS", 1)],
        )
    }

    #[test]
    fn exact_matches_set_aside_order_case_and_filler() {
        let t = table();
        let l = t.normalize("lumbar radiculopathy", 0.5).unwrap();
        assert_eq!((l.code.as_str(), l.matched), ("M54.16", CodeMatch::Exact));
        // Two codes fold to `back low pain`: the billable one is linked.
        assert_eq!(t.normalize("Low Back Pain", 0.5).unwrap().code, "M54.50");
        assert_eq!(t.normalize("lumbago", 0.5).unwrap().code, "M54.50");
        assert_eq!(t.normalize(" , ", 0.5), None);
    }

    #[test]
    fn grams_are_the_padded_words_three_characters_at_a_time() {
        // The definition, spelled out with a string per word.
        let reference = |text: &str| {
            let mut all: Vec<Gram> = Vec::new();
            for w in words(text) {
                let padded: Vec<char> = std::iter::once(' ')
                    .chain(w.chars())
                    .chain(std::iter::once(' '))
                    .collect();
                for g in padded.windows(3) {
                    all.push(((g[0] as u64) << 42) | ((g[1] as u64) << 21) | g[2] as u64);
                }
            }
            all.sort_unstable();
            all
        };
        for text in [
            "",
            "a",
            "Low back pain",
            "Lumbago, L4-L5 (M54.5); İstanbul Ärzte x",
        ] {
            let got: Vec<Gram> = grams(text)
                .into_iter()
                .flat_map(|(g, n)| std::iter::repeat_n(g, n as usize))
                .collect();
            assert_eq!(got, reference(text), "{text:?}");
        }
    }

    #[test]
    fn nearest_descriptions_by_character_grams() {
        let t = table();
        let l = t.normalize("carpal tunnel syndromes", 0.5).unwrap();
        assert_eq!((l.code.as_str(), l.matched), ("G56.00", CodeMatch::Nearest));
        assert!(l.score > 0.5 && l.score < 1.0, "{}", l.score);
        let r = t.normalize("cervical radiculopathies", 0.5).unwrap();
        assert_eq!(r.code, "M54.12");
        // Nothing like it: no code, however low the threshold is set.
        assert_eq!(t.normalize("xyzzy", 0.0), None);
        // Below the threshold: none.
        assert_eq!(t.normalize("tunnel", 0.9), None);
    }

    #[test]
    fn headings_descend_to_the_side_named_else_unspecified_else_other() {
        let t = table_of(
            &[
                ("G56.0", false, "Carpal tunnel syndrome"),
                (
                    "G56.00",
                    true,
                    "Carpal tunnel syndrome, unspecified upper limb",
                ),
                ("G56.01", true, "Carpal tunnel syndrome, right upper limb"),
                (
                    "G56.03",
                    true,
                    "Carpal tunnel syndrome, bilateral upper limbs",
                ),
                ("M62.83", false, "Muscle spasm"),
                ("M62.830", true, "Muscle spasm of back"),
                ("M62.838", true, "Other muscle spasm"),
                ("S52.5", false, "Fracture of lower end of radius"),
                (
                    "S52.50",
                    false,
                    "Unspecified fracture of the lower end of radius",
                ),
                (
                    "S52.502",
                    false,
                    "Unspecified fracture of the lower end of left radius",
                ),
                (
                    "S52.509",
                    false,
                    "Unspecified fracture of the lower end of unspecified radius",
                ),
            ],
            &[],
        );
        let code = |m: &str| t.normalize(m, 0.3).unwrap().code;
        assert_eq!(code("carpal tunnel syndrome"), "G56.00");
        assert_eq!(code("right carpal tunnel syndrome"), "G56.01");
        assert_eq!(code("bilateral carpal tunnel syndrome"), "G56.03");
        assert_eq!(code("muscle spasms"), "M62.838");
        assert_eq!(code("left distal radius fracture of lower end"), "S52.502");
        assert_eq!(code("fracture of lower end of radius"), "S52.509");
    }

    #[test]
    fn extended_codes_stand_for_their_parents() {
        assert!(extended("S39.012A"));
        assert!(!extended("S39.012"));
        assert!(!extended("M54.50"));
        assert_eq!(parent("S39.012A"), "S39.012");
        assert_eq!(parent("M54.5"), "M54");
    }

    #[test]
    fn the_code_files_are_read() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(
            b"code\tkind\tbillable_leaf\tdescription\n\
              1\tchapter\tN\tCertain infectious diseases\n\
              S39.012\tsubcategory\tN\tStrain of muscle, fascia and tendon of lower back\n\
              S39.012A\tsubcategory\tY\tStrain of muscle, fascia and tendon of lower back, initial encounter\n\
              M54.50\tsubcategory\tY\tLow back pain, unspecified\n",
        )
        .unwrap();
        let codes = e.finish().unwrap();
        let terms = b"code\tinclusion_term\nM54.50\tLumbago NOS\nS39.012A\tLow back strain\n";
        let t = Icd10::read(&codes[..], &terms[..]).unwrap();
        assert_eq!(t.len(), 2, "the chapter and the extended code are left out");
        assert_eq!(t.normalize("lumbago", 0.5).unwrap().code, "M54.50");
        assert_eq!(t.normalize("low back strain", 0.5).unwrap().code, "S39.012");
    }
}
