//! Character n-grams of each token's word, hashed into buckets: what lets the network know a
//! word it never met by its shape (`-codone`, `-profen`, `0.5`), beside the WordPiece id of the
//! piece itself. The encoder sums a learned vector per bucket (`ModelConfig::ngram_dim`), the
//! way fastText builds a vector for a word it was not trained on.
//!
//! A token's word is the run of tokens that continue each other inside one word
//! (`EncodedLetter::continues_word`), so every piece of `hydrocodone` reads the n-grams of the
//! whole word. Words are lower-cased and every digit is read as `0`, so that `7.5` and `2.5`
//! share their n-grams; `<` and `>` mark the word's start and end.

/// Buckets of the hash; bucket 0 is padding and never a hash's.
pub const NGRAM_BUCKETS: usize = 8192;
/// N-grams kept per token: the whole word, then its 3- and 4-grams from the edges inwards, so
/// that a long word keeps its prefix and suffix. Unused slots are bucket 0 with weight 0.
pub const NGRAMS_PER_TOKEN: usize = 24;

/// FNV-1a over the n-gram's characters, with `n` mixed in so that the whole word and an
/// n-gram of the same characters fall apart; into 1..NGRAM_BUCKETS.
fn bucket(chars: &[char], whole: bool) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ u64::from(whole);
    for &c in chars {
        h = (h ^ u64::from(u32::from(c))).wrapping_mul(0x0000_0100_0000_01b3);
    }
    1 + (h % (NGRAM_BUCKETS as u64 - 1)) as u32
}

/// The buckets of one word, at most `NGRAMS_PER_TOKEN`.
pub fn word_buckets(word: &[char]) -> Vec<u32> {
    let mut w: Vec<char> = Vec::with_capacity(word.len() + 2);
    w.push('<');
    for &c in word {
        if c.is_ascii_digit() {
            w.push('0');
        } else {
            w.extend(c.to_lowercase());
        }
    }
    w.push('>');
    let mut out = vec![bucket(&w, true)];
    for n in [3usize, 4] {
        if w.len() < n {
            continue;
        }
        let count = w.len() - n + 1;
        // From the edges inwards: 0, count-1, 1, count-2, ...
        for k in 0..count {
            let at = if k % 2 == 0 { k / 2 } else { count - 1 - k / 2 };
            out.push(bucket(&w[at..at + n], false));
        }
    }
    // A short word's list is cut only when long: keep the whole word, the 3-grams of the
    // edges, then the 4-grams of the edges, by interleaving the two orders.
    if out.len() > NGRAMS_PER_TOKEN {
        let n3 = w.len().saturating_sub(2);
        let (threes, fours) = out[1..].split_at(n3.min(out.len() - 1));
        let mut kept = vec![out[0]];
        let mut i = 0;
        while kept.len() < NGRAMS_PER_TOKEN {
            if let Some(&b) = threes.get(i) {
                kept.push(b);
            }
            if kept.len() < NGRAMS_PER_TOKEN {
                if let Some(&b) = fours.get(i) {
                    kept.push(b);
                }
            }
            i += 1;
        }
        out = kept;
    }
    out
}

/// Row-major `(tokens, NGRAMS_PER_TOKEN)` buckets of every token's word, 0 where unused.
pub fn token_ngrams(
    chars: &[char],
    offsets: &[(usize, usize)],
    continues_word: &[bool],
) -> Vec<u32> {
    let mut out = vec![0u32; offsets.len() * NGRAMS_PER_TOKEN];
    let mut k = 0;
    while k < offsets.len() {
        let mut last = k;
        while continues_word.get(last + 1) == Some(&true) {
            last += 1;
        }
        let (s, e) = (offsets[k].0, offsets[last].1.min(chars.len()));
        let buckets = word_buckets(&chars[s.min(e)..e]);
        for t in k..=last {
            out[t * NGRAMS_PER_TOKEN..t * NGRAMS_PER_TOKEN + buckets.len()]
                .copy_from_slice(&buckets);
        }
        k = last + 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Vec<u32> {
        word_buckets(&s.chars().collect::<Vec<_>>())
    }

    #[test]
    fn words_of_one_shape_share_buckets_and_case_and_digits_do_not_matter() {
        assert_eq!(of("Norco"), of("NORCO"));
        assert_eq!(of("7.5"), of("2.5"));
        let a = of("hydrocodone");
        let b = of("oxycodone");
        let shared = a.iter().filter(|x| b.contains(x)).count();
        assert!(shared >= 6, "{shared}");
        assert!(a.iter().all(|&x| x >= 1 && (x as usize) < NGRAM_BUCKETS));
        // The whole word is not the 4-gram of the same characters.
        assert_ne!(of("ab")[0], of("ab")[3]);
    }

    #[test]
    fn long_words_keep_their_edges_within_the_cap() {
        let long = of("hydrocodone/acetaminophen-extended");
        assert_eq!(long.len(), NGRAMS_PER_TOKEN);
        let w: Vec<char> = "<hydrocodone/acetaminophen-extended>".chars().collect();
        let suffix = bucket(&w[w.len() - 3..], false);
        let prefix4 = bucket(&w[..4], false);
        assert!(long.contains(&suffix) && long.contains(&prefix4));
        assert_eq!(of("ab").len(), 1 + 2 + 1);
    }

    #[test]
    fn every_piece_of_a_word_reads_the_whole_word() {
        let chars: Vec<char> = "Norco 10mg".chars().collect();
        let offsets = [(0, 3), (3, 5), (6, 8), (8, 10)];
        let continues = [false, true, false, false];
        let g = token_ngrams(&chars, &offsets, &continues);
        let row = |t: usize| &g[t * NGRAMS_PER_TOKEN..(t + 1) * NGRAMS_PER_TOKEN];
        assert_eq!(row(0), row(1));
        assert_eq!(row(0)[0], of("Norco")[0]);
        assert_eq!(row(2)[0], of("10")[0]);
        assert_ne!(row(2), row(3));
        assert_eq!(
            row(3)[of("mg").len()..],
            vec![0; NGRAMS_PER_TOKEN - of("mg").len()]
        );
    }
}
