//! The tokenizer (a WordPiece vocabulary trained on the letters with the `tokenizers` crate) and
//! the alignment between entity spans and token BIO tags.
//!
//! Offsets are characters into the letter text, end to end (`encode_char_offsets`). Numbers are
//! split from letters and from punctuation, so that `10/325mg` is `10 / 325 mg`, `#90` is `# 90`
//! and `Page(s): 74-96` is `page ( s ) : 74 - 96`: every gold span edge falls on a token edge.

use std::path::Path;

use std::collections::{BTreeMap, BTreeSet, HashSet};

use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::{Lowercase, Sequence as NormalizerSequence, NFC};
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::pre_tokenizers::digits::Digits;
use tokenizers::pre_tokenizers::sequence::Sequence as PreTokenizerSequence;
use tokenizers::{
    NormalizedString, Normalizer, NormalizerWrapper, OffsetReferential, OffsetType,
    PreTokenizedString, PreTokenizer, PreTokenizerWrapper, Tokenizer,
};

use crate::annotation::tags::{tag_b, tag_i, tag_label};
use crate::annotation::{EntitySpan, Label};
use crate::error::{Error, Result};

pub const PAD: &str = "[PAD]";
pub const UNK: &str = "[UNK]";

/// A text as tokens: ids and the character span of each.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tokens {
    pub ids: Vec<u32>,
    /// `(start, end)` character offsets of each token in the text.
    pub offsets: Vec<(usize, usize)>,
}

impl Tokens {
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

/// The letters' WordPiece tokenizer.
#[derive(Clone)]
pub struct LetterTokenizer {
    inner: Tokenizer,
    pad_id: u32,
}

impl std::fmt::Debug for LetterTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LetterTokenizer(vocab={})", self.vocab_size())
    }
}

fn tk_err(path: &Path, e: impl Into<crate::error::BoxError>) -> Error {
    Error::model_cause(path, "tokenizer", e)
}

impl LetterTokenizer {
    /// Trains a WordPiece vocabulary of at most `vocab_size` pieces on `texts`.
    ///
    /// The pieces are chosen here rather than by the crate's `WordPieceTrainer`, which iterates
    /// a randomly seeded hash map and so gives a different vocabulary on every run (measured:
    /// 168 of 600 pieces differed between two runs on the same five letters). Words are cut by
    /// the crate's own normalizer and pre-tokenizer; every character seen is kept (alone and as
    /// a `##` continuation), then whole words, word starts and `##` word ends are ranked by how
    /// many word occurrences they cover, ties broken alphabetically.
    pub fn train<S: AsRef<str>>(texts: &[S], vocab_size: usize) -> Result<Self> {
        let here = Path::new("<training>");
        let normalizer: NormalizerWrapper =
            NormalizerSequence::new(vec![NFC.into(), Lowercase.into()]).into();
        let pre: PreTokenizerWrapper =
            PreTokenizerSequence::new(vec![BertPreTokenizer.into(), Digits::new(false).into()])
                .into();

        let mut words: BTreeMap<String, u64> = BTreeMap::new();
        for text in texts {
            let mut normalized = NormalizedString::from(text.as_ref());
            normalizer
                .normalize(&mut normalized)
                .map_err(|e| tk_err(here, e))?;
            let mut pretokenized = PreTokenizedString::from(normalized);
            pre.pre_tokenize(&mut pretokenized)
                .map_err(|e| tk_err(here, e))?;
            for (word, _, _) in
                pretokenized.get_splits(OffsetReferential::Original, OffsetType::Char)
            {
                *words.entry(word.to_owned()).or_default() += 1;
            }
        }

        let mut vocab: Vec<String> = vec![PAD.into(), UNK.into()];
        let chars: BTreeSet<char> = words.keys().flat_map(|w| w.chars()).collect();
        vocab.extend(chars.iter().map(|c| c.to_string()));
        vocab.extend(chars.iter().map(|c| format!("##{c}")));
        let mut seen: HashSet<String> = vocab.iter().cloned().collect();
        let mut score: BTreeMap<String, u64> = BTreeMap::new();
        for (word, &count) in &words {
            let bounds: Vec<usize> = word.char_indices().map(|(i, _)| i).skip(1).collect();
            if bounds.is_empty() || count < 2 {
                continue;
            }
            *score.entry(word.clone()).or_default() += count;
            for &b in &bounds {
                *score.entry(word[..b].to_owned()).or_default() += count;
                *score.entry(format!("##{}", &word[b..])).or_default() += count;
            }
        }
        let mut ranked: Vec<(String, u64)> = score
            .into_iter()
            .filter(|(p, _)| !seen.contains(p))
            .collect();
        // Frequent first; alphabetical among equals (the BTreeMap order, kept by a stable sort).
        ranked.sort_by_key(|(_, c)| std::cmp::Reverse(*c));
        for (piece, _) in ranked {
            if vocab.len() >= vocab_size {
                break;
            }
            if seen.insert(piece.clone()) {
                vocab.push(piece);
            }
        }
        let ids: ahash::AHashMap<String, u32> = vocab
            .into_iter()
            .enumerate()
            .map(|(i, p)| (p, i as u32))
            .collect();
        let model = WordPiece::builder()
            .vocab(ids)
            .unk_token(UNK.into())
            .continuing_subword_prefix("##".into())
            .build()
            .map_err(|e| tk_err(here, e))?;
        let mut tokenizer = Tokenizer::new(model);
        tokenizer
            .with_normalizer(Some(normalizer))
            .map_err(|e| tk_err(here, e))?;
        tokenizer.with_pre_tokenizer(Some(pre));
        Self::from_tokenizer(tokenizer, here)
    }

    fn from_tokenizer(inner: Tokenizer, path: &Path) -> Result<Self> {
        let pad_id = inner.token_to_id(PAD).ok_or_else(|| Error::Model {
            path: path.into(),
            message: format!("tokenizer: vocabulary has no {PAD} token"),
        })?;
        Ok(LetterTokenizer { inner, pad_id })
    }

    pub fn load(path: &Path) -> Result<Self> {
        let inner = Tokenizer::from_file(path).map_err(|e| tk_err(path, e))?;
        Self::from_tokenizer(inner, path)
    }

    /// A tokenizer from the bytes of its `tokenizer.json` (read from `path`).
    pub fn from_bytes(bytes: &[u8], path: &Path) -> Result<Self> {
        let inner = Tokenizer::from_bytes(bytes).map_err(|e| tk_err(path, e))?;
        Self::from_tokenizer(inner, path)
    }

    pub fn save(&self, path: &Path) -> Result<()> {
        self.inner.save(path, false).map_err(|e| tk_err(path, e))
    }

    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    pub fn unk_id(&self) -> u32 {
        self.inner.token_to_id(UNK).unwrap_or(self.pad_id)
    }

    pub fn pad_id(&self) -> u32 {
        self.pad_id
    }

    pub fn id_to_token(&self, id: u32) -> Option<String> {
        self.inner.id_to_token(id)
    }

    /// Tokens of `text` with character offsets.
    pub fn encode(&self, text: &str) -> Result<Tokens> {
        self.encode_in_pieces(text, PIECE_BYTES)
    }

    /// `encode`, the text given to the tokenizer a piece of at most about `piece` bytes at a
    /// time, each cut after a whitespace character. Nothing in the normalizer (NFC, lowercase)
    /// or the pre-tokenizer joins across whitespace, so the tokens are those of the whole
    /// text; only the tokenizer's working memory, which grows to ~130 bytes a character
    /// (300 MB for a 2.2 MB letter), is bounded.
    fn encode_in_pieces(&self, text: &str, piece: usize) -> Result<Tokens> {
        let mut out = Tokens::default();
        let (mut rest, mut chars_before) = (text, 0);
        while !rest.is_empty() {
            let (head, tail) = rest.split_at(piece_end(rest, piece));
            let enc = self
                .inner
                .encode_char_offsets(head, false)
                .map_err(|e| tk_err(Path::new("<text>"), e))?;
            out.ids.extend_from_slice(enc.get_ids());
            out.offsets.extend(
                enc.get_offsets()
                    .iter()
                    .map(|&(s, e)| (s + chars_before, e + chars_before)),
            );
            chars_before += head.chars().count();
            rest = tail;
        }
        // Kept as long as the letter is: not with the spare half of the last doubling.
        out.ids.shrink_to_fit();
        out.offsets.shrink_to_fit();
        Ok(out)
    }
}

/// Bytes of text the tokenizer is given at a time (`encode_in_pieces`).
const PIECE_BYTES: usize = 1 << 16;

/// Where the first piece of `text` ends: just after its last whitespace character within
/// `max` bytes; past the first one after that if there is none; or at its end.
fn piece_end(text: &str, max: usize) -> usize {
    if text.len() <= max {
        return text.len();
    }
    let mut at = max;
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let after = |i: usize| i + text[i..].chars().next().map_or(0, char::len_utf8);
    match text[..at].rfind(char::is_whitespace) {
        Some(i) => after(i),
        None => text[at..]
            .find(char::is_whitespace)
            .map_or(text.len(), |i| after(at + i)),
    }
}

/// Spans -> one BIO tag per token. A token inside a span is tagged with it; a token that
/// straddles a span edge cannot be tagged exactly and is reported in the second value.
pub fn spans_to_bio(offsets: &[(usize, usize)], spans: &[EntitySpan]) -> (Vec<usize>, usize) {
    let mut tags = vec![0usize; offsets.len()];
    let mut misaligned = 0;
    let mut sorted: Vec<&EntitySpan> = spans.iter().collect();
    sorted.sort_by_key(|s| s.start);
    let mut t = 0;
    for s in sorted {
        while t < offsets.len() && offsets[t].1 <= s.start {
            t += 1;
        }
        let mut first = true;
        let mut k = t;
        while k < offsets.len() && offsets[k].0 < s.end {
            let (a, b) = offsets[k];
            if a >= s.start && b <= s.end {
                tags[k] = if first {
                    tag_b(s.label)
                } else {
                    tag_i(s.label)
                };
                first = false;
            } else {
                misaligned += 1;
            }
            k += 1;
        }
        if first {
            misaligned += 1;
        }
    }
    (tags, misaligned)
}

/// BIO tags -> spans, character offsets from the tokens. A stray `I-` opens a span (the
/// decoder never produces one; this keeps the function total).
pub fn bio_to_spans(offsets: &[(usize, usize)], tags: &[usize]) -> Vec<EntitySpan> {
    let mut out = Vec::new();
    let mut open: Option<(Label, usize, usize)> = None;
    for (k, &tag) in tags.iter().enumerate() {
        let (a, b) = offsets[k];
        match (tag_label(tag), open) {
            (Some((l, false)), Some((ol, s, _))) if l == ol => open = Some((ol, s, b)),
            (next, prev) => {
                if let Some((l, s, e)) = prev {
                    out.push(EntitySpan {
                        start: s,
                        end: e,
                        label: l,
                    });
                }
                open = next.map(|(l, _)| (l, a, b));
            }
        }
    }
    if let Some((l, s, e)) = open {
        out.push(EntitySpan {
            start: s,
            end: e,
            label: l,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_text_in_pieces_has_the_tokens_of_the_whole() {
        let text = "Norco 10/325mg #90 for CÔTÉ's\tlumbar\u{a0}pain;\n\n Café\u{301} naïve x2 \
                    Page(s): 74-96.  Ibuprofen 800mg, 60 tablets; Tramadol ER 150 mg #30";
        let tokenizer = LetterTokenizer::train(&[text], 120).unwrap();
        let whole = tokenizer.encode_in_pieces(text, usize::MAX).unwrap();
        assert!(whole.len() > 30);
        for piece in [1, 2, 3, 7, 16, 40] {
            assert_eq!(
                tokenizer.encode_in_pieces(text, piece).unwrap(),
                whole,
                "{piece}"
            );
        }
    }

    #[test]
    fn pieces_end_after_whitespace() {
        assert_eq!(piece_end("ab cd ef", 100), 8);
        assert_eq!(piece_end("ab cd ef", 5), 3);
        assert_eq!(piece_end("ab cd ef", 6), 6);
        // No whitespace within the limit: the piece runs to the next.
        assert_eq!(piece_end("abcdef gh", 3), 7);
        assert_eq!(piece_end("abcdefgh", 3), 8);
        // A multi-byte whitespace character stays whole.
        assert_eq!(piece_end("ab\u{a0}cd", 4), 4);
    }

    #[test]
    fn bio_round_trip_by_hand() {
        // "Norco 10/325mg #90": tokens norco, 10, /, 325, mg, #, 90
        let offsets = [
            (0, 5),
            (6, 8),
            (8, 9),
            (9, 12),
            (12, 14),
            (15, 16),
            (16, 18),
        ];
        let spans = vec![
            EntitySpan {
                start: 0,
                end: 5,
                label: Label::Drug,
            },
            EntitySpan {
                start: 6,
                end: 14,
                label: Label::Dose,
            },
            EntitySpan {
                start: 15,
                end: 18,
                label: Label::Quantity,
            },
        ];
        let (tags, bad) = spans_to_bio(&offsets, &spans);
        assert_eq!(bad, 0);
        assert_eq!(tags, vec![1, 3, 4, 4, 4, 5, 6]);
        assert_eq!(bio_to_spans(&offsets, &tags), spans);
    }

    #[test]
    fn adjacent_spans_of_one_label_stay_apart() {
        let offsets = [(0, 6), (7, 15)];
        let spans = vec![
            EntitySpan {
                start: 0,
                end: 6,
                label: Label::Diagnosis,
            },
            EntitySpan {
                start: 7,
                end: 15,
                label: Label::Diagnosis,
            },
        ];
        let (tags, _) = spans_to_bio(&offsets, &spans);
        assert_eq!(tags, vec![7, 7]);
        assert_eq!(bio_to_spans(&offsets, &tags), spans);
    }

    #[test]
    fn a_span_inside_a_token_is_reported() {
        let (_, bad) = spans_to_bio(
            &[(0, 10)],
            &[EntitySpan {
                start: 2,
                end: 5,
                label: Label::Drug,
            }],
        );
        assert!(bad > 0);
    }
}
