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
/// Letters are almost all ASCII, where the two agree: only the multi-byte characters are
/// kept (a table of every boundary took 8 bytes a character, 19 MB for a 2.2 MB letter).
#[derive(Debug, Clone)]
pub struct CharIndex {
    /// Each multi-byte character, in order.
    multi: Vec<Multi>,
    byte_len: usize,
}

/// A multi-byte character: where it is, and the bytes beyond one a character up to its end.
#[derive(Debug, Clone, Copy)]
struct Multi {
    char: usize,
    byte: usize,
    extra_after: usize,
}

impl CharIndex {
    pub fn new(text: &str) -> Self {
        let mut multi = Vec::new();
        let mut extra = 0;
        if !text.is_ascii() {
            for (char, (byte, c)) in text.char_indices().enumerate() {
                if c.len_utf8() > 1 {
                    extra += c.len_utf8() - 1;
                    multi.push(Multi {
                        char,
                        byte,
                        extra_after: extra,
                    });
                }
            }
        }
        CharIndex {
            multi,
            byte_len: text.len(),
        }
    }

    fn extra_total(&self) -> usize {
        self.multi.last().map_or(0, |m| m.extra_after)
    }

    pub fn char_len(&self) -> usize {
        self.byte_len - self.extra_total()
    }

    /// Character offset of a byte offset that lies on a char boundary (one inside a character
    /// maps to the next character).
    pub fn to_char(&self, byte: usize) -> usize {
        let k = self.multi.partition_point(|m| m.byte < byte);
        match k.checked_sub(1).map(|i| self.multi[i]) {
            None => byte,
            Some(m) if byte < m.byte + (m.extra_after - self.extra_before(k - 1)) + 1 => m.char + 1,
            Some(m) => byte - m.extra_after,
        }
    }

    /// The extra bytes of the multi-byte characters before the `k`-th.
    fn extra_before(&self, k: usize) -> usize {
        k.checked_sub(1).map_or(0, |i| self.multi[i].extra_after)
    }

    /// Byte offset of a character offset (`char_len()` maps to the text's byte length).
    pub fn to_byte(&self, ch: usize) -> usize {
        let ch = ch.min(self.char_len());
        let k = self.multi.partition_point(|m| m.char < ch);
        ch + self.extra_before(k)
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
    fn offsets_agree_with_a_table_of_every_boundary() {
        for text in [
            "",
            "abc",
            "é",
            "aé–b😀c",
            "–– x é😀",
            "Norco\u{a0}10 mg – Café",
        ] {
            let ix = CharIndex::new(text);
            let mut bounds: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
            bounds.push(text.len());
            assert_eq!(ix.char_len(), bounds.len() - 1, "{text:?}");
            for byte in 0..=text.len() {
                let want = bounds.partition_point(|&x| x < byte);
                assert_eq!(ix.to_char(byte), want, "{text:?} byte {byte}");
            }
            for ch in 0..bounds.len() + 2 {
                let want = bounds[ch.min(bounds.len() - 1)];
                assert_eq!(ix.to_byte(ch), want, "{text:?} char {ch}");
            }
        }
    }

    #[test]
    fn span_serializes_as_pair() {
        let s = Span::new(3, 9);
        assert_eq!(serde_json::to_string(&s).unwrap(), "[3,9]");
        assert_eq!(serde_json::from_str::<Span>("[3,9]").unwrap(), s);
    }
}
