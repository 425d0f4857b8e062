//! A `DRUG` mention to its generic (ingredient) name: `Ultram` -> `tramadol`, `Fioricet` ->
//! `butalbital / acetaminophen`, `tramdol` -> `tramadol` (a misspelling, by a bounded edit
//! distance). The names come from the drug lexicon of `data/drug-lexicon/` (DrugBank-derived
//! variants mapped to their canonical name, FDA UNII brand names mapped to their substance), not
//! from the letters.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};

use flate2::read::GzDecoder;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::words::Words;

static SALT_WORDS: Words = Words("SALT_WORDS");
static FORM_WORDS: Words = Words("FORM_WORDS");

/// How a mention was matched to its generic name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DrugMatch {
    /// The mention, case and punctuation folded, is a name of the lexicon.
    Exact,
    /// It is, once its salt, release and form words are left out (`Tramadol ER`).
    Stripped,
    /// A name of the lexicon is within the edit distance allowed for the mention's length.
    Fuzzy,
}

/// The generic name of a `DRUG` mention.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DrugName {
    /// Lower-case ingredient names, several joined by ` / `.
    pub generic: String,
    #[serde(rename = "match")]
    pub matched: DrugMatch,
    /// Edits between the mention and the lexicon name (0 unless fuzzy).
    pub distance: usize,
}

/// Names of the lexicon (folded as [`key`]) to their generic names.
#[derive(Debug, Default)]
pub struct DrugNames {
    /// Each name (folded) -> its generic name's number in `generics`.
    generic: ahash::AHashMap<String, u32>,
    generics: Vec<String>,
    /// The names, sorted, for the fuzzy search.
    names: Vec<String>,
    /// The names' numbers by their length in characters, each with its letter counts (a lower
    /// bound on the edit distance that rules most names out without aligning).
    by_len: Vec<Vec<(u32, [u8; 27])>>,
    /// How many names lead to each generic name: the tie-break of the fuzzy search prefers the
    /// better-known drug.
    popularity: Vec<u32>,
}

/// The longest mention the fuzzy search is tried on, in characters.
const MAX_FUZZY_LEN: usize = 40;

/// Folds a name to its lookup form: lower-case runs of letters and digits joined by one space
/// (`EC-Naprosyn` -> `ec naprosyn`).
pub fn key(name: &str) -> String {
    name.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Leaves out salt, release and form words, unless nothing else is left.
fn strip(k: &str) -> String {
    let kept: Vec<&str> = k
        .split(' ')
        .filter(|w| !SALT_WORDS.contains(w) && !FORM_WORDS.contains(w))
        .collect();
    if kept.is_empty() {
        k.to_string()
    } else {
        kept.join(" ")
    }
}

/// The generic form of a lexicon's canonical or substance name: its ingredients (split at `/`,
/// `+`, `,` and ` and `), each without salt and form words, joined by ` / `.
pub fn generic_form(canonical: &str) -> String {
    let lower = canonical.to_lowercase().replace(" and ", "/");
    let mut parts: Vec<String> = Vec::new();
    for part in lower.split(['/', '+', ',']) {
        let s = strip(&key(part));
        if !s.is_empty() && !parts.contains(&s) {
            parts.push(s);
        }
    }
    parts.join(" / ")
}

fn letter_counts(s: &str) -> [u8; 27] {
    let mut h = [0u8; 27];
    for c in s.chars() {
        let i = if c.is_ascii_lowercase() {
            (c as u8 - b'a') as usize
        } else {
            26
        };
        h[i] = h[i].saturating_add(1);
    }
    h
}

/// A lower bound on the edit distance of two strings from their letter counts: an edit changes
/// at most two counts by one.
fn count_bound(a: &[u8; 27], b: &[u8; 27]) -> usize {
    let l1: usize = a.iter().zip(b).map(|(x, y)| x.abs_diff(*y) as usize).sum();
    l1.div_ceil(2)
}

/// Edits allowed for a mention of `len` characters: none under 5 (too many short names are a
/// letter apart), one up to 9, two from 10 (two edits in a short name reach another drug:
/// `tabradol` is two from `tramadol`).
fn allowed_edits(len: usize) -> usize {
    match len {
        0..=4 => 0,
        5..=9 => 1,
        _ => 2,
    }
}

/// Wikipedia-derived variants that carry markup are noise, not names.
fn is_markup(v: &str) -> bool {
    v.contains(['&', '=', '<', '>', ';', '{', '}', '|'])
}

fn gz_lines(bytes: impl Read, what: &'static str) -> impl Iterator<Item = Result<String>> {
    BufReader::new(GzDecoder::new(bytes))
        .lines()
        .skip(1) // header row
        .map(move |l| l.map_err(|e| Error::io(what, e)))
}

impl DrugNames {
    /// Reads the DrugBank-derived variants (`variant, canonical, is_brand`) and the FDA UNII
    /// brand names (`Name, TYPE, UNII, Display Name`), both gzipped TSV with a header row.
    /// Where both know a name, the variants' canonical name wins (it names combinations).
    pub fn read(variants_gz: impl Read, brands_gz: impl Read) -> Result<DrugNames> {
        let mut generic: HashMap<String, String> = HashMap::new();
        for line in gz_lines(variants_gz, "drugner_variant_to_canonical.tsv.gz") {
            let line = line?;
            let mut cols = line.split('\t');
            let (Some(variant), Some(canonical)) = (cols.next(), cols.next()) else {
                continue;
            };
            if is_markup(variant) || is_markup(canonical) {
                continue;
            }
            let g = generic_form(canonical);
            if g.is_empty() {
                continue;
            }
            for k in [key(variant), key(canonical)] {
                if !k.is_empty() {
                    generic.entry(k).or_insert_with(|| g.clone());
                }
            }
        }
        let mut brands: Vec<(String, String)> = Vec::new();
        for line in gz_lines(brands_gz, "fda_unii_brand_names.tsv.gz") {
            let line = line?;
            let cols: Vec<&str> = line.split('\t').collect();
            if cols.len() >= 4 && !is_markup(cols[0]) {
                brands.push((key(cols[0]), generic_form(cols[3])));
            }
        }
        for (k, substance) in brands {
            if k.is_empty() || substance.is_empty() {
                continue;
            }
            // A substance the variants know by another canonical name takes that name.
            let g = generic
                .get(&substance)
                .cloned()
                .unwrap_or_else(|| substance.clone());
            generic.entry(k).or_insert(g);
        }
        Ok(DrugNames::from_map(generic))
    }

    /// The names from a map of folded name -> generic name.
    pub fn from_map(map: HashMap<String, String>) -> DrugNames {
        let mut ids: ahash::AHashMap<String, u32> = ahash::AHashMap::new();
        let mut generics: Vec<String> = Vec::new();
        let mut names: Vec<(String, String)> = map.into_iter().collect();
        names.sort(); // the same order on every run, whatever the map's
        let mut generic: ahash::AHashMap<String, u32> = ahash::AHashMap::with_capacity(names.len());
        let mut popularity: Vec<u32> = Vec::new();
        for (name, g) in &names {
            let id = *ids.entry(g.clone()).or_insert_with(|| {
                generics.push(g.clone());
                popularity.push(0);
                (generics.len() - 1) as u32
            });
            popularity[id as usize] += 1;
            generic.insert(name.clone(), id);
        }
        let names: Vec<String> = names.into_iter().map(|(n, _)| n).collect();
        let mut by_len: Vec<Vec<(u32, [u8; 27])>> = Vec::new();
        for (i, k) in names.iter().enumerate() {
            let n = k.chars().count();
            if n > MAX_FUZZY_LEN + 2 {
                continue;
            }
            if by_len.len() <= n {
                by_len.resize_with(n + 1, Vec::new);
            }
            by_len[n].push((i as u32, letter_counts(k)));
        }
        DrugNames {
            generic,
            generics,
            names,
            by_len,
            popularity,
        }
    }

    pub fn len(&self) -> usize {
        self.generic.len()
    }

    pub fn is_empty(&self) -> bool {
        self.generic.is_empty()
    }

    /// The generic name of a mention, or `None` when no name of the lexicon is close enough.
    pub fn normalize(&self, mention: &str) -> Option<DrugName> {
        let k = key(mention);
        if k.is_empty() {
            return None;
        }
        let found = |id: u32, matched, distance| DrugName {
            generic: self.generics[id as usize].clone(),
            matched,
            distance,
        };
        if let Some(&g) = self.generic.get(&k) {
            return Some(found(g, DrugMatch::Exact, 0));
        }
        let stripped = strip(&k);
        if let Some(&g) = self.generic.get(&stripped) {
            return Some(found(g, DrugMatch::Stripped, 0));
        }
        if let Some(combined) = self.combination(mention) {
            return Some(combined);
        }
        let (name, d) = self.nearest(&stripped)?;
        Some(found(self.generic[name], DrugMatch::Fuzzy, d))
    }

    /// A combination written with `/` or `-` between its ingredients (`oxycodone/APAP`,
    /// `diclofenac-misoprostol`): each part's generic name, when every part has one.
    fn combination(&self, mention: &str) -> Option<DrugName> {
        let parts: Vec<&str> = mention
            .split(['/', '-'])
            .map(str::trim)
            .filter(|p| !p.is_empty())
            .collect();
        if parts.len() < 2 {
            return None;
        }
        let mut names: Vec<String> = Vec::new();
        let (mut matched, mut distance) = (DrugMatch::Exact, 0);
        for p in parts {
            let d = self.normalize(p)?;
            matched = matched.max(d.matched);
            distance += d.distance;
            for g in d.generic.split(" / ") {
                if !names.iter().any(|n| n == g) {
                    names.push(g.to_string());
                }
            }
        }
        Some(DrugName {
            generic: names.join(" / "),
            matched,
            distance,
        })
    }

    /// The name of the lexicon nearest `k` (optimal string alignment distance, within
    /// [`allowed_edits`]); ties go to the better-known generic, then to the first name.
    fn nearest(&self, k: &str) -> Option<(&String, usize)> {
        let n = k.chars().count();
        let max = allowed_edits(n);
        if max == 0 || n > MAX_FUZZY_LEN || !k.chars().any(char::is_alphabetic) {
            return None;
        }
        let counts = letter_counts(k);
        let mut best: Option<(usize, std::cmp::Reverse<u32>, &String)> = None;
        for len in n.saturating_sub(max)..=(n + max).min(self.by_len.len().saturating_sub(1)) {
            for (i, c) in &self.by_len[len] {
                if count_bound(&counts, c) > max {
                    continue;
                }
                let name = &self.names[*i as usize];
                let d = strsim::osa_distance(k, name);
                if d > max {
                    continue;
                }
                let pop = std::cmp::Reverse(self.popularity[self.generic[name] as usize]);
                let candidate = (d, pop, name);
                if best.as_ref().is_none_or(|b| candidate < *b) {
                    best = Some(candidate);
                }
            }
        }
        best.map(|(d, _, name)| (name, d))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(pairs: &[(&str, &str)]) -> DrugNames {
        DrugNames::from_map(
            pairs
                .iter()
                .map(|(k, g)| (key(k), generic_form(g)))
                .collect(),
        )
    }

    #[test]
    fn generic_forms_leave_out_salts_and_forms() {
        assert_eq!(
            generic_form("CYCLOBENZAPRINE HYDROCHLORIDE"),
            "cyclobenzaprine"
        );
        assert_eq!(generic_form("lidocaine patch"), "lidocaine");
        assert_eq!(
            generic_form("butalbital/acetaminophen"),
            "butalbital / acetaminophen"
        );
        assert_eq!(
            generic_form("ledipasvir and sofosbuvir"),
            "ledipasvir / sofosbuvir"
        );
        // A name that is nothing but a form word is kept, not emptied.
        assert_eq!(generic_form("Patch"), "patch");
    }

    #[test]
    fn exact_stripped_and_fuzzy_matches() {
        let n = names(&[
            ("ultram", "tramadol"),
            ("tramadol", "tramadol"),
            ("tramadol hcl", "tramadol"),
            ("naprosyn", "naproxen"),
            ("orphenadrine", "orphenadrine"),
        ]);
        let g = |m: &str| n.normalize(m).map(|d| (d.generic, d.matched, d.distance));
        assert_eq!(g("ULTRAM"), Some(("tramadol".into(), DrugMatch::Exact, 0)));
        assert_eq!(
            g("EC-Naprosyn"),
            Some(("naproxen".into(), DrugMatch::Stripped, 0))
        );
        assert_eq!(
            g("Orphenadrine citrate ER"),
            Some(("orphenadrine".into(), DrugMatch::Stripped, 0))
        );
        assert_eq!(g("tramdol"), Some(("tramadol".into(), DrugMatch::Fuzzy, 1)));
        assert_eq!(
            g("Tramadol/Naprosyn"),
            Some(("tramadol / naproxen".into(), DrugMatch::Exact, 0))
        );
        assert_eq!(g("tramadol/unknownium"), None);
        assert_eq!(
            g("ophenadrine"),
            Some(("orphenadrine".into(), DrugMatch::Fuzzy, 1))
        );
        // Too far, or too short to be told from another name by one letter.
        assert_eq!(g("tremendol"), None);
        assert_eq!(g("ultr"), None);
        assert_eq!(g(" - "), None);
    }

    #[test]
    fn fuzzy_ties_go_to_the_better_known_drug() {
        // `tamadol` is one edit from both; three names lead to tramadol, one to the other.
        let n = names(&[
            ("tramadol", "tramadol"),
            ("ultram", "tramadol"),
            ("tramal", "tramadol"),
            ("tamadoz", "other"),
        ]);
        assert_eq!(n.normalize("tamadol").unwrap().generic, "tramadol");
    }

    #[test]
    fn the_count_bound_never_exceeds_the_distance() {
        for (a, b) in [
            ("tramadol", "tramdol"),
            ("abc", "cba"),
            ("naproxen", "anaprox"),
            ("x", "yyyy"),
        ] {
            let bound = count_bound(&letter_counts(a), &letter_counts(b));
            assert!(bound <= strsim::osa_distance(a, b), "{a} {b}");
        }
    }

    #[test]
    fn the_lexicon_files_are_read() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let gz = |text: &str| {
            let mut e = GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(text.as_bytes()).unwrap();
            e.finish().unwrap()
        };
        let variants = gz("variant\tcanonical\tis_brand\n\
                           flexeril\tcyclobenzaprine\t\n\
                           &lt;ref\tnoise\t\n\
                           fioricet\tbutalbital/acetaminophen\t\n");
        let brands = gz("Name\tTYPE\tUNII\tDisplay Name\n\
                         FLEXERIL\tbn\tX\tCYCLOBENZAPRINE HYDROCHLORIDE\n\
                         SOMA\tbn\tY\tCARISOPRODOL\n");
        let n = DrugNames::read(&variants[..], &brands[..]).unwrap();
        assert_eq!(n.normalize("Flexeril").unwrap().generic, "cyclobenzaprine");
        assert_eq!(n.normalize("Soma").unwrap().generic, "carisoprodol");
        assert_eq!(
            n.normalize("Fioricet").unwrap().generic,
            "butalbital / acetaminophen"
        );
        assert!(n.normalize("noise").is_none(), "a markup row is not a name");
        assert_eq!(n.len(), 5);
    }
}
