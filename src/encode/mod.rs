//! A letter made ready for the network: its tokens, their features, and which tokens form each
//! disputed item's rationale. Shared by training and inference so the two cannot drift apart.

pub mod features;
pub mod lexicon;
pub mod ngrams;

use crate::words::Words;
use std::ops::Range;

use candle_core::{Device, Tensor};

use crate::encode::features::{
    letter_parts, pattern_matches, token_features, unpack, FeatureBits, FEATURE_DIM,
};
use crate::encode::lexicon::Lexicon;
use crate::encode::ngrams::{token_ngrams, NGRAMS_PER_TOKEN};
use crate::error::Result;
use crate::letter::Letter;
use crate::tokenize::{LetterTokenizer, Tokens};

#[derive(Debug, Clone)]
pub struct EncodedLetter {
    pub tokens: Tokens,
    /// Each token's features (`features::has` reads a column).
    pub features: Vec<FeatureBits>,
    /// Row-major `(tokens, NGRAMS_PER_TOKEN)`: the hashed character n-grams of each token's
    /// word (`ngrams.rs`), 0 where unused; empty where the model reads none (`for_model`).
    pub ngrams: Vec<u32>,
    /// Token range of each item's rationale, in item order.
    pub rationales: Vec<Range<usize>>,
    /// For each token, whether it continues the previous token inside one word: they touch,
    /// and the characters on either side of the junction are both letters or both digits.
    pub continues_word: Vec<bool>,
    /// For each token, whether it is a whole word that never begins or ends an entity: a
    /// function word (`and`, `of`), a severity or certainty word (`mild`, `possible`) or a
    /// separator (`,`, `;`). No gold span in `data/` begins or ends with one (0 of 3,169).
    pub edge_word: Vec<bool>,
    /// Guideline page citations (the page pattern's matches), in characters: a feature, and
    /// what the `page-forms` rule takes.
    pub pages: Vec<(usize, usize)>,
    /// Pairs of words next to each other as in some diagnosis phrase of the lexicon
    /// (`Matches::diagnosis_links`), for the diagnosis rules.
    pub diagnosis_links: Vec<[(usize, usize); 2]>,
    /// The letter's text, to read decoded spans by (its characters, a `Vec<char>`, are four
    /// times the size and only the decoding's rules need them: `chars`).
    pub text: String,
}

/// Words that may sit inside an entity but never at its edge (ANNOTATION.md: spans do not
/// take connectives, and severity and certainty words at the edges are left out).
static EDGE_WORDS: Words = Words("EDGE_WORDS");

/// Separators that never begin or end an entity.
const EDGE_PUNCTUATION: &[char] = &[',', ';', ':', '.', '!', '?', '"', '\'', '-', '/'];

fn is_edge_word(word: &[char]) -> bool {
    match word {
        [c] if EDGE_PUNCTUATION.contains(c) => true,
        // Capital A ends names such as `hepatitis A`.
        ['A'] => false,
        // No edge word is longer; longer words are not looked up.
        _ if word.len() <= 12 => {
            let w: String = word.iter().flat_map(|c| c.to_lowercase()).collect();
            EDGE_WORDS.contains(&w.as_str())
        }
        _ => false,
    }
}

/// Which tokens belong to an edge word (`is_edge_word`), given where each token continues
/// the word before it. Every piece of an edge word is one (`just` may be `j` `us` `t`), so
/// the first can't begin an entity and the last can't end one.
fn edge_tokens(chars: &[char], offsets: &[(usize, usize)], continues_word: &[bool]) -> Vec<bool> {
    let mut edge = vec![false; offsets.len()];
    let mut k = 0;
    while k < offsets.len() {
        let mut last = k;
        while continues_word.get(last + 1) == Some(&true) {
            last += 1;
        }
        let (s, e) = (offsets[k].0, offsets[last].1);
        if e <= chars.len() && is_edge_word(&chars[s..e]) {
            edge[k..=last].fill(true);
        }
        k = last + 1;
    }
    edge
}

impl EncodedLetter {
    /// Everything a network of any configuration reads, n-grams included.
    pub fn new(letter: &Letter, tokenizer: &LetterTokenizer, lexicon: &Lexicon) -> Result<Self> {
        Self::for_model(letter, tokenizer, lexicon, true)
    }

    /// As `new`, with the n-grams only if `ngrams` (the model has an n-gram table): they take
    /// 96 bytes a token, more than all the rest.
    pub fn for_model(
        letter: &Letter,
        tokenizer: &LetterTokenizer,
        lexicon: &Lexicon,
        ngrams: bool,
    ) -> Result<Self> {
        let tokens = tokenizer.encode(&letter.text)?;
        let chars: Vec<char> = letter.text.chars().collect();
        let matches = lexicon.find(&letter.text, &letter.chars);
        let parts = letter_parts(letter);
        let patterns = pattern_matches(&letter.text, &letter.chars);
        let features = token_features(&chars, &tokens, &matches, &patterns, &parts);
        let rationales = letter
            .items
            .iter()
            .map(|item| {
                let s = tokens
                    .offsets
                    .partition_point(|o| o.0 < item.rationale.start);
                let e = tokens
                    .offsets
                    .partition_point(|o| o.1 <= item.rationale.end);
                s..e.max(s)
            })
            .collect();
        let continues_word = tokens
            .offsets
            .iter()
            .enumerate()
            .map(|(k, &(s, _))| {
                k > 0
                    && tokens.offsets[k - 1].1 == s
                    && s < chars.len()
                    && ((chars[s - 1].is_alphabetic() && chars[s].is_alphabetic())
                        || (chars[s - 1].is_ascii_digit() && chars[s].is_ascii_digit()))
            })
            .collect::<Vec<bool>>();
        let edge_word = edge_tokens(&chars, &tokens.offsets, &continues_word);
        let ngrams = if ngrams {
            token_ngrams(&chars, &tokens.offsets, &continues_word)
        } else {
            Vec::new()
        };
        Ok(EncodedLetter {
            tokens,
            features,
            ngrams,
            rationales,
            continues_word,
            edge_word,
            pages: patterns.pages,
            diagnosis_links: matches.diagnosis_links,
            text: letter.text.clone(),
        })
    }

    /// The letter's characters.
    pub fn chars(&self) -> Vec<char> {
        self.text.chars().collect()
    }

    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// The token indices the decision head reads for item `i`: the whole rationale, or its
    /// first and last `max / 2` tokens when longer (verdicts open or close a rationale).
    pub fn rationale_tokens(&self, i: usize, max: usize) -> Vec<usize> {
        let r = self.rationales[i].clone();
        if r.len() <= max {
            r.collect()
        } else {
            let half = max / 2;
            r.clone()
                .take(half)
                .chain(r.end - (max - half)..r.end)
                .collect()
        }
    }
}

/// One sequence of a batch: token indices into an encoded letter.
pub struct Piece<'a> {
    pub letter: &'a EncodedLetter,
    pub positions: Vec<usize>,
}

/// A padded batch: ids `(batch, seq)` u32, features `(batch, seq, FEATURE_DIM)`, mask
/// `(batch, seq)` f32; each token's n-gram buckets `(batch, seq, NGRAMS_PER_TOKEN)` u32 and
/// their weights, f32 of the same shape: 1/n for each of a token's n used slots, 0 elsewhere,
/// so that the encoder's sum of n-gram vectors is their mean (None where a piece's letter was
/// encoded without n-grams).
pub struct Batch {
    pub ids: Tensor,
    pub features: Tensor,
    pub mask: Tensor,
    pub ngrams: Option<(Tensor, Tensor)>,
    pub seq: usize,
}

pub fn make_batch(pieces: &[Piece], pad_id: u32, device: &Device) -> candle_core::Result<Batch> {
    let b = pieces.len();
    let seq = pieces
        .iter()
        .map(|p| p.positions.len())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut ids = vec![pad_id; b * seq];
    let mut feats = vec![0f32; b * seq * FEATURE_DIM];
    let mut mask = vec![0f32; b * seq];
    const K: usize = NGRAMS_PER_TOKEN;
    // Whether every letter was encoded with its n-grams (a letter of no tokens has none either
    // way).
    let with_ngrams = pieces
        .iter()
        .all(|p| p.letter.ngrams.len() == p.letter.len() * K);
    let k = if with_ngrams { K } else { 0 };
    let mut ngrams = vec![0u32; b * seq * k];
    let mut weights = vec![0f32; b * seq * k];
    for (i, p) in pieces.iter().enumerate() {
        for (j, &pos) in p.positions.iter().enumerate() {
            ids[i * seq + j] = p.letter.tokens.ids[pos];
            mask[i * seq + j] = 1.0;
            if with_ngrams {
                let src = &p.letter.ngrams[pos * K..(pos + 1) * K];
                let used = src.iter().filter(|&&g| g != 0).count().max(1);
                let at = (i * seq + j) * K;
                ngrams[at..at + K].copy_from_slice(src);
                for (w, &g) in weights[at..at + K].iter_mut().zip(src) {
                    *w = if g != 0 { 1.0 / used as f32 } else { 0.0 };
                }
            }
            let dst = (i * seq + j) * FEATURE_DIM;
            unpack(p.letter.features[pos], &mut feats[dst..dst + FEATURE_DIM]);
        }
    }
    let ngrams = if with_ngrams {
        Some((
            Tensor::from_vec(ngrams, (b, seq, K), device)?,
            Tensor::from_vec(weights, (b, seq, K), device)?,
        ))
    } else {
        None
    };
    Ok(Batch {
        ids: Tensor::from_vec(ids, (b, seq), device)?,
        features: Tensor::from_vec(feats, (b, seq, FEATURE_DIM), device)?,
        mask: Tensor::from_vec(mask, (b, seq), device)?,
        ngrams,
        seq,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_piece_of_an_edge_word_is_an_edge_token() {
        let text: Vec<char> = "tendon just proximal of".chars().collect();
        // `tendon` `j` `us` `t` `pro` `ximal` `of`
        let offsets = [
            (0, 6),
            (7, 8),
            (8, 10),
            (10, 11),
            (12, 15),
            (15, 20),
            (21, 23),
        ];
        let continues = [false, false, true, true, false, true, false];
        assert_eq!(
            edge_tokens(&text, &offsets, &continues),
            [false, true, true, true, false, false, true]
        );
    }

    #[test]
    fn every_listed_edge_word_is_one() {
        for w in EDGE_WORDS.iter() {
            let chars: Vec<char> = w.chars().collect();
            assert!(is_edge_word(&chars), "{w}");
        }
        let upper: Vec<char> = "Significant".chars().collect();
        assert!(is_edge_word(&upper));
    }
}
