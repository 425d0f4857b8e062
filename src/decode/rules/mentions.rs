//! Mentions: a sure drug or diagnosis tagged at its other mentions, and the memory's
//! phrases where the model missed them.

use super::*;

/// Titles and tests where a condition's name is not a diagnosis: the sentence around
/// `start..end` (at most 300 characters either side) cites a guideline (`Guidelines`,
/// `Section(s)`, `Chapter`, `Citation`), or a test or sign follows (`impingement sign`).
pub(crate) fn in_citation_or_test(text: &[char], start: usize, end: usize) -> bool {
    let lo = start.saturating_sub(300);
    let from = text[lo..start]
        .iter()
        .rposition(|&c| c == '.')
        .map_or(lo, |k| lo + k + 1);
    let hi = (end + 300).min(text.len());
    let to = text[end..hi]
        .iter()
        .position(|&c| c == '.')
        .map_or(hi, |k| end + k);
    let sentence: String = text[from..to].iter().collect();
    let after: String = text[end..(end + 12).min(text.len())].iter().collect();
    let next: String = after
        .trim_start()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect::<String>()
        .to_ascii_lowercase();
    ["Guideline", "Section(s)", "Chapter", "Citation"]
        .iter()
        .any(|w| sentence.contains(w))
        || matches!(
            next.as_str(),
            "test" | "tests" | "testing" | "sign" | "signs"
        )
}

/// How sure the model must be of a drug or diagnosis (its mean tag probability) for the rules
/// to tag the same words elsewhere in the letter.
pub const PROPAGATE_MIN_SCORE: f32 = 0.9;

/// "Every mention counts": a drug or diagnosis the model is sure of (`PROPAGATE_MIN_SCORE`) is
/// tagged wherever the same words stand in the letter and no entity is (the model finds
/// `Fexmid` in the item line and misses it in the rationale). Words of at least 4 letters;
/// case and line breaks aside. The added spans get the score of the one they copy.
pub(crate) fn propagate(text: &[char], kept: Vec<(EntitySpan, f32)>) -> Vec<(EntitySpan, f32)> {
    let mut sure: std::collections::BTreeMap<Vec<char>, (Label, f32)> = Default::default();
    for (e, score) in &kept {
        if matches!(e.label, Label::Drug | Label::Diagnosis) && *score >= PROPAGATE_MIN_SCORE {
            let key = phrase_key(
                &text[e.start..e.end.min(text.len())]
                    .iter()
                    .collect::<String>(),
            );
            if key.len() >= 4 {
                sure.entry(key).or_insert((e.label, *score));
            }
        }
    }
    if sure.is_empty() {
        return kept;
    }
    let (keys, found): (Vec<Vec<char>>, Vec<(Label, f32)>) = sure.into_iter().unzip();
    // Taken character ranges, start -> end, none overlapping.
    let mut taken: std::collections::BTreeMap<usize, usize> =
        kept.iter().map(|(e, _)| (e.start, e.end)).collect();
    let free = |taken: &std::collections::BTreeMap<usize, usize>, start: usize, end: usize| {
        taken
            .range(..end)
            .next_back()
            .is_none_or(|(_, &e)| e <= start)
    };
    let mut out = kept;
    let before = out.len();
    for (k, start, end) in Phrases::new(keys).find(text) {
        if free(&taken, start, end) && !in_citation_or_test(text, start, end) {
            taken.insert(start, end);
            let (label, score) = found[k];
            out.push((EntitySpan { start, end, label }, score));
        }
    }
    if out.len() > before {
        out.sort_by_key(|(e, _)| e.start);
    }
    out
}

/// What the training letters' gold tagged (`Memory`), where the model forgot it: drug or
/// diagnosis spans that lie inside a longer mention of a remembered phrase of their label, with
/// nothing else overlapping it, become that one span (`myalgias` -> `myalgias and myositis`;
/// `numbness` + `tingling in the arms` -> `numbness and tingling in the arms`); a mention
/// that no entity touches is tagged (`addiction`, `CTS`), the longer first where two start
/// together, with the phrase's share of tagged mentions as its score, unless it is a diagnosis
/// that names no condition (bare pain, a body part alone: a training gold that tagged one does
/// not override the annotation). Not in a guideline citation or before `test`/`sign`
/// (`propagate`'s exceptions). `recalled` is ordered by start, the longer first; `entities` may
/// not overlap each other.
pub(crate) fn remember(
    text: &[char],
    vague: &[(usize, usize, WordKind)],
    recalled: &[Recalled],
    mut entities: Vec<(EntitySpan, f32)>,
) -> Vec<(EntitySpan, f32)> {
    if recalled.is_empty() {
        return entities;
    }
    entities.sort_by_key(|(e, _)| e.start);
    // Which entities each mention overlaps: those from the first that ends after its start
    // to the last that starts before its end (disjoint spans in order end in order too).
    let overlapping = |entities: &[(EntitySpan, f32)], r: &Recalled| {
        entities.partition_point(|(e, _)| e.end <= r.start)
            ..entities.partition_point(|(e, _)| e.start < r.end)
    };
    // Per entity, the longest mention that starts a run of entities there, lies around all of
    // them and overlaps no other: (start, end, how many entities).
    let mut widen: Vec<Option<(usize, usize, usize)>> = vec![None; entities.len()];
    let mut free = Vec::new();
    for r in recalled {
        let hit = overlapping(&entities, r);
        if hit.is_empty() {
            free.push(r);
            continue;
        }
        let inside = entities[hit.clone()]
            .iter()
            .all(|(e, _)| e.label == r.label && r.start <= e.start && e.end <= r.end);
        let covered = entities[hit.end - 1].0.end - entities[hit.start].0.start;
        let longer = widen[hit.start].is_none_or(|(s, t, _)| r.end - r.start > t - s);
        if inside
            && (hit.len() > 1 || r.end - r.start > covered)
            && longer
            && !in_citation_or_test(text, r.start, r.end)
        {
            widen[hit.start] = Some((r.start, r.end, hit.len()));
        }
    }
    // Widen in order, each only from where the previous entity (widened or not) ends; the
    // entities a widened span takes in become one, with their mean score.
    let mut out: Vec<(EntitySpan, f32)> = Vec::with_capacity(entities.len());
    let mut i = 0;
    while i < entities.len() {
        let prev_end = out.last().map_or(0, |(e, _)| e.end);
        match widen[i].filter(|&(s, _, _)| s >= prev_end) {
            Some((start, end, n)) => {
                let score = entities[i..i + n].iter().map(|(_, p)| p).sum::<f32>() / n as f32;
                let label = entities[i].0.label;
                out.push((EntitySpan { start, end, label }, score));
                i += n;
            }
            None => {
                out.push(entities[i]);
                i += 1;
            }
        }
    }
    let mut entities = out;
    let taken: Vec<(usize, usize)> = entities.iter().map(|(e, _)| (e.start, e.end)).collect();
    let mut added_end = 0;
    let before = entities.len();
    for r in free {
        let span = EntitySpan {
            start: r.start,
            end: r.end,
            label: r.label,
        };
        let no_condition = span.label == Label::Diagnosis
            && names_no_condition(&span, word_count(text, &span), vague);
        if r.start >= added_end
            && !overlaps_sorted(&taken, r.start, r.end)
            && !in_citation_or_test(text, r.start, r.end)
            && !no_condition
        {
            added_end = r.end;
            entities.push((span, r.share));
        }
    }
    if entities.len() > before {
        entities.sort_by_key(|(e, _)| e.start);
    }
    entities
}
