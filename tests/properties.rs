//! Properties over generated input (proptest): whatever a letter looks like, what the reader
//! returns is well-formed; span -> BIO -> span is the identity.

use std::path::Path;
use std::sync::OnceLock;

use imr::annotation::{brat, EntitySpan, Label};
use imr::letter::{self, Letter, PdfReader, PdfSandbox, Span};
use imr::tokenize::{bio_to_spans, spans_to_bio, LetterTokenizer};
use proptest::prelude::*;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample() -> &'static str {
    static TEXT: OnceLock<String> = OnceLock::new();
    TEXT.get_or_init(|| {
        std::fs::read_to_string(root().join("data/samples/CM16-0229336.txt")).unwrap()
    })
}

fn tokenizer() -> &'static LetterTokenizer {
    static TOK: OnceLock<LetterTokenizer> = OnceLock::new();
    TOK.get_or_init(|| {
        LetterTokenizer::load(&root().join("models/default/tokenizer.json")).unwrap()
    })
}

/// A real letter with pieces cut out, duplicated or replaced: the shapes of damaged, scraped
/// and concatenated letters.
fn mutated_letter() -> impl Strategy<Value = String> {
    let edits = prop::collection::vec(
        (
            0..3u8,
            any::<prop::sample::Index>(),
            0..400usize,
            "[ -~\n]{0,40}",
        ),
        0..6,
    );
    edits.prop_map(|edits| {
        let mut chars: Vec<char> = sample().chars().collect();
        for (kind, at, len, insert) in edits {
            if chars.is_empty() {
                break;
            }
            let at = at.index(chars.len());
            let end = (at + len).min(chars.len());
            match kind {
                0 => {
                    chars.drain(at..end);
                }
                1 => {
                    let piece: Vec<char> = chars[at..end].to_vec();
                    chars.splice(at..at, piece);
                }
                _ => {
                    chars.splice(at..end, insert.chars());
                }
            }
        }
        chars.into_iter().collect()
    })
}

fn check_well_formed(letter: &Letter) -> Result<(), TestCaseError> {
    let n = letter.char_len();
    let inside = |s: Span| s.start <= s.end && s.end <= n;
    let fields = [
        &letter.header.case_number,
        &letter.header.date_assigned,
        &letter.header.date_of_injury,
        &letter.header.decision_date,
        &letter.header.ur_denial_date,
        &letter.header.application_received,
        &letter.header.priority,
        &letter.header.reviewer_specialty,
    ];
    for f in fields.into_iter().flatten() {
        prop_assert!(inside(f.span), "header field {:?} outside the text", f);
    }
    let mut previous_end = 0;
    for item in &letter.items {
        // In order, never overlapping: statement, then rationale, then the next item.
        prop_assert!(inside(item.statement) && inside(item.rationale));
        prop_assert!(item.statement.start >= previous_end, "items overlap");
        prop_assert!(item.statement.end <= item.rationale.start);
        prop_assert!(item.statement.contains(&item.request.span));
        if let Some(d) = item.decision_span {
            prop_assert!(item.statement.contains(&d));
        }
        for g in [
            &item.claims_administrator_guideline,
            &item.maximus_guideline,
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(inside(g.span) && g.span.start >= item.statement.end);
            prop_assert!(g.span.end <= item.rationale.start);
        }
        previous_end = item.rationale.end;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn parsed_spans_lie_inside_the_text_in_order_without_overlap(text in mutated_letter()) {
        // An error is a fine answer for a damaged letter; a panic or a bad span is not.
        if let Ok(letter) = Letter::from_text("mutated.txt", text) {
            check_well_formed(&letter)?;
        }
    }

    #[test]
    fn any_bytes_give_a_letter_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..2000)) {
        let path = Path::new("random.txt");
        if let Ok((text, kind)) = letter::source::decode_letter_bytes(path, &bytes, &PdfReader::InProcess) {
            if let Ok(l) = letter::parse_letter(path, text, kind) {
                check_well_formed(&l)?;
            }
        }
    }

    #[test]
    fn span_to_bio_to_span_is_the_identity(
        picks in prop::collection::vec((any::<prop::sample::Index>(), 1..6usize, 0..5usize), 0..40)
    ) {
        // Spans on token boundaries (as gold spans are), non-overlapping, any labels.
        let text = sample();
        let tokens = tokenizer().encode(text).unwrap();
        let n = tokens.offsets.len();
        let mut taken = vec![false; n];
        let mut spans = Vec::new();
        for (at, len, label) in picks {
            let a = at.index(n);
            let b = (a + len).min(n);
            if taken[a..b].iter().any(|&t| t) {
                continue;
            }
            taken[a..b].iter_mut().for_each(|t| *t = true);
            spans.push(EntitySpan {
                start: tokens.offsets[a].0,
                end: tokens.offsets[b - 1].1,
                label: Label::from_index(label).unwrap(),
            });
        }
        spans.sort();
        // Two spans on adjacent tokens with the same label stay two: B- starts each.
        let (tags, misaligned) = spans_to_bio(&tokens.offsets, &spans);
        prop_assert_eq!(misaligned, 0);
        prop_assert_eq!(bio_to_spans(&tokens.offsets, &tags), spans);
    }

    #[test]
    fn ann_files_round_trip_or_fail_cleanly(content in "(T[0-9]{1,2}\t(DRUG|DOSE|FOO) [0-9]{1,5} [0-9]{1,5}\t[a-z ]{0,8}\n){0,5}") {
        let text = sample();
        let path = Path::new("random.ann");
        if let Ok(spans) = brat::parse(path, &content, text) {
            let written = brat::write(&spans, text);
            prop_assert_eq!(brat::parse(path, &written, text).unwrap(), spans);
        }
    }
}

/// Inputs the fuzzers (scripts/fuzz.sh) once crashed on, kept in tests/fuzz_regressions/TARGET:
/// each goes through what its fuzz target checks.
#[test]
fn fuzz_regressions_stay_fixed() {
    let dir = root().join("tests/fuzz_regressions");
    let mut seen = 0;
    for target in ["letter_text", "letter_pdf", "ann"] {
        let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
            continue;
        };
        for e in entries {
            let path = e.unwrap().path();
            let data = std::fs::read(&path).unwrap();
            seen += 1;
            match target {
                "ann" => {
                    if let Ok(content) = std::str::from_utf8(&data) {
                        let _ = brat::parse(Path::new("fuzz.ann"), content, sample());
                    }
                }
                _ => {
                    let name = if target == "letter_pdf" {
                        "fuzz.pdf"
                    } else {
                        "fuzz.txt"
                    };
                    let p = Path::new(name);
                    // PDFs that hang or blow up the extractor are what the sandbox is for:
                    // they are read the way the command line reads them, under its limits.
                    let reader = if target == "letter_pdf" {
                        PdfReader::Isolated(PdfSandbox {
                            program: env!("CARGO_BIN_EXE_imr").into(),
                            args: vec!["pdf-text".into()],
                            timeout: std::time::Duration::from_secs(5),
                            max_memory: 1 << 30,
                            max_text_bytes: 1 << 24,
                        })
                    } else {
                        PdfReader::InProcess
                    };
                    if let Ok((text, kind)) = letter::source::decode_letter_bytes(p, &data, &reader)
                    {
                        if let Ok(l) = letter::parse_letter(p, text, kind) {
                            check_well_formed(&l).unwrap();
                        }
                    }
                }
            }
        }
    }
    assert!(seen > 0, "the regression inputs are found");
}
