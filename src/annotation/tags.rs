//! The BIO tag scheme: `O`, then `B-` and `I-` for each entity label, in label order. The
//! tagger predicts these; `tokenize` aligns them with tokens and `decode` turns them back into
//! spans.

use super::Label;

/// Number of BIO tags: `O`, then `B-` and `I-` for each label.
pub const NUM_TAGS: usize = 1 + 2 * Label::ALL.len();

/// Tag index: 0 = O, `1 + 2l` = B-label, `2 + 2l` = I-label.
pub fn tag_b(label: Label) -> usize {
    1 + 2 * label.index()
}

pub fn tag_i(label: Label) -> usize {
    2 + 2 * label.index()
}

/// The label of a tag and whether it begins a span.
pub fn tag_label(tag: usize) -> Option<(Label, bool)> {
    if tag == 0 {
        return None;
    }
    Label::from_index((tag - 1) / 2).map(|l| (l, (tag - 1).is_multiple_of(2)))
}

/// Whether tag `to` may follow tag `from` (`None` = sequence start): no `I-X` except after
/// `B-X` or `I-X`. Viterbi decodes under it and the CRF's transitions (`model::crf`) keep to it.
pub fn allowed(from: Option<usize>, to: usize) -> bool {
    match tag_label(to) {
        Some((label, false)) => {
            matches!(from.and_then(tag_label), Some((l, _)) if l == label)
        }
        _ => true,
    }
}

pub fn tag_names() -> Vec<String> {
    let mut v = vec!["O".to_string()];
    for l in Label::ALL {
        v.push(format!("B-{l}"));
        v.push(format!("I-{l}"));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag_names_follow_indices() {
        let names = tag_names();
        assert_eq!(names.len(), NUM_TAGS);
        assert_eq!(names[tag_b(Label::Dose)], "B-DOSE");
        assert_eq!(names[tag_i(Label::GuidelinePage)], "I-GUIDELINE_PAGE");
        assert_eq!(tag_label(tag_i(Label::Drug)), Some((Label::Drug, false)));
    }
}
