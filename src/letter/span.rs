//! Character spans. One offset unit end to end: Unicode scalar values into the letter text, end
//! exclusive, as in BRAT `.ann` files. Byte offsets stay inside the functions that search `&str`.

use serde::{Deserialize, Serialize};

/// A half-open range of character offsets `[start, end)` into a letter's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(into = "[usize; 2]", from = "[usize; 2]")]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        debug_assert!(start <= end, "span {start}..{end} is reversed");
        Span { start, end }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    pub fn overlaps(&self, other: &Span) -> bool {
        self.start < other.end && other.start < self.end
    }

    pub fn contains(&self, other: &Span) -> bool {
        self.start <= other.start && other.end <= self.end
    }
}

impl From<Span> for [usize; 2] {
    fn from(s: Span) -> Self {
        [s.start, s.end]
    }
}

impl From<[usize; 2]> for Span {
    fn from([start, end]: [usize; 2]) -> Self {
        Span { start, end }
    }
}

/// Converts between byte and character offsets of one text.
///
/// Letters are almost all ASCII, where the two agree; then no table is kept.
#[derive(Debug, Clone)]
pub struct CharIndex {
    /// Byte offset of every char boundary (len = chars + 1), or `None` for ASCII text.
    boundaries: Option<Vec<usize>>,
    byte_len: usize,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        let boundaries = if text.is_ascii() {
            None
        } else {
            let mut b: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            b.push(text.len());
            Some(b)
        };
        CharIndex {
            boundaries,
            byte_len: text.len(),
        }
    }

    pub fn char_len(&self) -> usize {
        match &self.boundaries {
            None => self.byte_len,
            Some(b) => b.len() - 1,
        }
    }

    /// Character offset of a byte offset that lies on a char boundary.
    pub fn to_char(&self, byte: usize) -> usize {
        match &self.boundaries {
            None => byte,
            Some(b) => b.partition_point(|&x| x < byte),
        }
    }

    /// Byte offset of a character offset (`char_len()` maps to the text's byte length).
    pub fn to_byte(&self, ch: usize) -> usize {
        match &self.boundaries {
            None => ch.min(self.byte_len),
            Some(b) => b[ch.min(b.len() - 1)],
        }
    }

    pub fn span(&self, byte_start: usize, byte_end: usize) -> Span {
        Span::new(self.to_char(byte_start), self.to_char(byte_end))
    }

    /// The text of a character span.
    pub fn slice<'t>(&self, text: &'t str, span: Span) -> &'t str {
        &text[self.to_byte(span.start)..self.to_byte(span.end)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ascii_offsets_are_identity() {
        let ix = CharIndex::new("Norco 10/325mg");
        assert_eq!(ix.to_char(6), 6);
        assert_eq!(ix.slice("Norco 10/325mg", Span::new(6, 14)), "10/325mg");
    }

    #[test]
    fn multibyte_offsets_count_characters() {
        // "é" is two bytes and "–" three; the char offsets are what BRAT files use.
        let text = "café – Norco";
        let ix = CharIndex::new(text);
        assert_eq!(ix.char_len(), 12);
        let byte = text.find("Norco").unwrap();
        assert_eq!(byte, 10);
        assert_eq!(ix.to_char(byte), 7);
        assert_eq!(ix.slice(text, Span::new(7, 12)), "Norco");
        assert_eq!(ix.to_byte(12), text.len());
    }

    #[test]
    fn span_serializes_as_pair() {
        let s = Span::new(3, 9);
        assert_eq!(serde_json::to_string(&s).unwrap(), "[3,9]");
        assert_eq!(serde_json::from_str::<Span>("[3,9]").unwrap(), s);
    }
}
