//! Viterbi over tag log-probabilities with the BIO constraints (no `I-X` except after `B-X`
//! or `I-X`), so every decoded span is well-formed, and optionally whole words and clean edges.

pub use crate::annotation::tags::allowed;
use crate::annotation::tags::{tag_label, NUM_TAGS};

/// Whether tag `to` may follow `from` on a token that continues the previous one inside a word
/// (a `##` piece): it must stay in the same entity, or stay outside. No gold span edge in
/// `data/` falls inside a run of letters or of digits (0 of 6,338), so this only removes errors.
pub fn allowed_within_word(from: usize, to: usize) -> bool {
    match tag_label(from) {
        None => to == 0,
        Some((label, _)) => tag_label(to) == Some((label, false)),
    }
}

/// Best tag sequence under the BIO constraints. `log_probs` is row-major `(seq, NUM_TAGS)`;
/// `back` is a reusable buffer (resized here) so that decoding allocates nothing per token.
pub fn viterbi(log_probs: &[f32], back: &mut Vec<u8>, tags: &mut Vec<usize>) {
    viterbi_words(log_probs, Constraints::default(), back, tags)
}

/// Which extra constraints the decoder applies, beyond well-formed BIO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Constraints<'a> {
    /// `continues[i]`: token `i` is a piece of the same word as token `i - 1`; no span may
    /// start or end inside a word.
    pub continues: Option<&'a [bool]>,
    /// `edge[i]`: token `i` is a word that never begins or ends an entity (a function word or a
    /// separator); it may only sit inside one.
    pub edge: Option<&'a [bool]>,
}

/// Viterbi under the BIO constraints and `constraints`. An edge token can't take `B-X`, a
/// token after an edge token that is inside `X` must be `I-X`, and the last token can't be an
/// edge inside an entity.
pub fn viterbi_words(
    log_probs: &[f32],
    constraints: Constraints,
    back: &mut Vec<u8>,
    tags: &mut Vec<usize>,
) {
    let n = log_probs.len() / NUM_TAGS;
    tags.clear();
    if n == 0 {
        return;
    }
    let is_edge = |i: usize| constraints.edge.is_some_and(|e| e[i]);
    back.clear();
    back.resize(n * NUM_TAGS, 0);
    let mut score = [f32::NEG_INFINITY; NUM_TAGS];
    for (t, s) in score.iter_mut().enumerate() {
        if allowed(None, t) && !(is_edge(0) && t != 0) {
            *s = log_probs[t];
        }
    }
    let mut next = [f32::NEG_INFINITY; NUM_TAGS];
    for i in 1..n {
        let row = &log_probs[i * NUM_TAGS..(i + 1) * NUM_TAGS];
        let inside_word = constraints.continues.is_some_and(|c| c[i]);
        let (edge_here, edge_before) = (is_edge(i), is_edge(i - 1));
        for to in 0..NUM_TAGS {
            let mut best = f32::NEG_INFINITY;
            let mut arg = 0u8;
            if !(edge_here && matches!(tag_label(to), Some((_, true)))) {
                for (from, &s) in score.iter().enumerate() {
                    if s > best
                        && allowed(Some(from), to)
                        && (!inside_word || allowed_within_word(from, to))
                        && (!edge_before || allowed_after_edge(from, to))
                    {
                        best = s;
                        arg = from as u8;
                    }
                }
            }
            next[to] = best + row[to];
            back[i * NUM_TAGS + to] = arg;
        }
        score = next;
    }
    if is_edge(n - 1) {
        score[1..].fill(f32::NEG_INFINITY);
    }
    let mut cur = (0..NUM_TAGS)
        .max_by(|&a, &b| score[a].total_cmp(&score[b]))
        .unwrap_or(0);
    tags.resize(n, 0);
    for i in (0..n).rev() {
        tags[i] = cur;
        if i > 0 {
            cur = back[i * NUM_TAGS + cur] as usize;
        }
    }
}

/// After an edge token tagged `from`: if it is inside an entity the entity must go on.
fn allowed_after_edge(from: usize, to: usize) -> bool {
    match tag_label(from) {
        None => true,
        Some((label, _)) => tag_label(to) == Some((label, false)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::annotation::tags::{tag_b, tag_i};
    use crate::annotation::Label;

    fn rows(best: &[usize]) -> Vec<f32> {
        let mut v = vec![(0.01f32).ln(); best.len() * NUM_TAGS];
        for (i, &b) in best.iter().enumerate() {
            v[i * NUM_TAGS + b] = (0.9f32).ln();
        }
        v
    }

    #[test]
    fn keeps_valid_sequences() {
        let want = vec![
            0,
            tag_b(Label::Drug),
            0,
            tag_b(Label::Dose),
            tag_i(Label::Dose),
        ];
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        viterbi(&rows(&want), &mut back, &mut tags);
        assert_eq!(tags, want);
    }

    #[test]
    fn whole_words_keep_a_span_from_ending_inside_a_word() {
        // "anxiety" as pieces anx ##iet ##y: the per-token argmax is B-DIAGNOSIS, I-DIAGNOSIS, O,
        // which would cut the word; with the word constraint the span must cover all pieces.
        let b = tag_b(Label::Diagnosis);
        let i = tag_i(Label::Diagnosis);
        let mut lp = rows(&[b, i, 0]);
        lp[2 * NUM_TAGS + i] = (0.3f32).ln();
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        viterbi(&lp, &mut back, &mut tags);
        assert_eq!(tags, vec![b, i, 0], "unconstrained decoding cuts the word");
        let words = |c: &'static [bool]| Constraints {
            continues: Some(c),
            edge: None,
        };
        viterbi_words(&lp, words(&[false, true, true]), &mut back, &mut tags);
        assert_eq!(tags, vec![b, i, i]);
        // And a word outside any span stays outside as a whole.
        let lp = rows(&[0, i, 0]);
        viterbi_words(&lp, words(&[false, true, false]), &mut back, &mut tags);
        assert_eq!(tags, vec![0, 0, 0]);
    }

    #[test]
    fn never_starts_a_span_with_i() {
        // The per-token argmax would be O, I-DRUG, I-DRUG: ill-formed. Viterbi must repair it.
        let mut lp = rows(&[0, tag_i(Label::Drug), tag_i(Label::Drug)]);
        // Make B-DRUG the runner-up at position 1.
        lp[NUM_TAGS + tag_b(Label::Drug)] = (0.08f32).ln();
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        viterbi(&lp, &mut back, &mut tags);
        for w in tags.windows(2) {
            assert!(allowed(Some(w[0]), w[1]), "{tags:?}");
        }
        assert!(allowed(None, tags[0]));
        assert_eq!(tags, vec![0, tag_b(Label::Drug), tag_i(Label::Drug)]);
    }

    #[test]
    fn edge_words_never_begin_or_end_a_span() {
        // "tear and pain ,": the argmax would tag "tear and" and "pain ," as spans.
        let (b, i) = (tag_b(Label::Diagnosis), tag_i(Label::Diagnosis));
        let lp = rows(&[b, i, b, i]);
        let edge = [false, true, false, true];
        let c = Constraints {
            continues: None,
            edge: Some(&edge),
        };
        let (mut back, mut tags) = (Vec::new(), Vec::new());
        viterbi_words(&lp, c, &mut back, &mut tags);
        assert_eq!(tags, vec![b, 0, b, 0]);
        // Inside a span an edge word stays: "pain of the back".
        let lp = rows(&[b, i, i, i]);
        let edge = [false, true, true, false];
        let c = Constraints {
            continues: None,
            edge: Some(&edge),
        };
        viterbi_words(&lp, c, &mut back, &mut tags);
        assert_eq!(tags, vec![b, i, i, i]);
        // An edge word at the start of the letter stays outside.
        let lp = rows(&[b, i]);
        let edge = [true, false];
        let c = Constraints {
            continues: None,
            edge: Some(&edge),
        };
        viterbi_words(&lp, c, &mut back, &mut tags);
        assert_eq!(tags[0], 0);
    }
}
