//! Phrases found as whole words in a letter's characters, case and line breaks aside: the
//! index the memory and the mention rules look phrases up with.

fn is_word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '\''
}

/// The lowercase run of word characters at the start of `chars`.
fn leading_word(chars: impl Iterator<Item = char>) -> String {
    chars
        .take_while(|&c| is_word_char(c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The end of `pattern` (lowercase words separated by single spaces) matched at `s` in `text`,
/// case aside, any whitespace run standing for a space, ending at a word's end.
fn match_at(text: &[char], s: usize, pattern: &[char]) -> Option<usize> {
    let same = |c: char, p: char| c == p || c.to_lowercase().eq(std::iter::once(p));
    let (mut i, mut j) = (s, 0);
    while j < pattern.len() && i < text.len() {
        if pattern[j] == ' ' {
            if !text[i].is_whitespace() {
                return None;
            }
            while i < text.len() && text[i].is_whitespace() {
                i += 1;
            }
        } else if !same(text[i], pattern[j]) {
            return None;
        } else {
            i += 1;
        }
        j += 1;
    }
    (j == pattern.len() && text.get(i).is_none_or(|&c| !is_word_char(c))).then_some(i)
}

/// Phrases to find as whole words in a letter: lowercase words separated by single spaces,
/// matched case aside and with any whitespace run standing for a space. Indexed by first word,
/// so one pass over a text's words looks all of them up and many phrases on a long text stay
/// linear.
#[derive(Debug, Clone, Default)]
pub struct Phrases {
    patterns: Vec<Vec<char>>,
    by_first: std::collections::HashMap<String, Vec<usize>>,
}

impl Phrases {
    pub fn new(patterns: Vec<Vec<char>>) -> Self {
        let mut by_first: std::collections::HashMap<String, Vec<usize>> = Default::default();
        for (k, p) in patterns.iter().enumerate() {
            let first = leading_word(p.iter().copied());
            if !first.is_empty() {
                by_first.entry(first).or_default().push(k);
            }
        }
        Phrases { patterns, by_first }
    }

    /// The phrases, in the order given.
    pub fn patterns(&self) -> &[Vec<char>] {
        &self.patterns
    }

    /// Every occurrence in `text`: (phrase index, start, end), ordered by phrase, then start.
    pub fn find(&self, text: &[char]) -> Vec<(usize, usize, usize)> {
        let mut out = Vec::new();
        if self.by_first.is_empty() {
            return out;
        }
        for s in 0..text.len() {
            if !is_word_char(text[s]) || (s > 0 && is_word_char(text[s - 1])) {
                continue;
            }
            let Some(ks) = self.by_first.get(&leading_word(text[s..].iter().copied())) else {
                continue;
            };
            for &k in ks {
                if let Some(end) = match_at(text, s, &self.patterns[k]) {
                    out.push((k, s, end));
                }
            }
        }
        out.sort_unstable();
        out
    }
}

/// The lookup form of a span's text: lowercase, whitespace runs as single spaces.
pub fn phrase_key(words: &str) -> Vec<char> {
    words
        .to_lowercase()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .collect()
}
