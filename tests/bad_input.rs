//! Hostile and broken input (`tests/bad_inputs/`, made by its `make.py`, plus larger cases built
//! here): every bad input gets an error that names the file and what is wrong, the other inputs
//! of the batch still get their records, and the exit code says which happened.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

fn imr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imr"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn bad(name: &str) -> PathBuf {
    root().join("tests/bad_inputs").join(name)
}

fn records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Each bad file of the corpus and a phrase its error must contain (`None`: it must succeed).
const CORPUS: &[(&str, Option<&str>)] = &[
    ("empty.txt", Some("empty file")),
    ("garbage.txt", Some("binary file (NUL byte at byte 61)")),
    ("garbage.pdf", Some("cannot read PDF")),
    (
        "latin1.txt",
        Some("not UTF-8 text (invalid byte sequence at byte"),
    ),
    ("utf16le.txt", None),
    ("truncated.pdf", Some("truncated")),
    ("encrypted.pdf", Some("encrypted PDF: needs a password")),
    ("scanned.pdf", Some("no text layer (scanned image?)")),
    (
        "no_items.txt",
        Some("no \"IMR ISSUES, DECISIONS AND RATIONALES\" section"),
    ),
    ("cut_off.txt", Some("no \"Decision rationale:\" (cut off?)")),
    ("letter.txt", None),
];

fn check_corpus_records(out: &Output) {
    let recs = records(out);
    assert_eq!(recs.len(), CORPUS.len(), "one record per input");
    for (rec, (name, want)) in recs.iter().zip(CORPUS) {
        let file = rec["file"].as_str().unwrap();
        assert!(
            file.ends_with(name),
            "records keep input order: {file} vs {name}"
        );
        match want {
            None => {
                assert!(rec["error"].is_null(), "{name}: {}", rec["error"]);
                assert_eq!(rec["items"].as_array().unwrap().len(), 4, "{name}");
            }
            Some(phrase) => {
                let err = rec["error"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{name}: no error"));
                assert!(
                    err.contains(file),
                    "{name}: error does not name the file: {err}"
                );
                assert!(err.contains(phrase), "{name}: {err:?} lacks {phrase:?}");
            }
        }
    }
    // Some inputs failed: exit code 1, and nothing on stderr looks like a panic.
    assert_eq!(out.status.code(), Some(1), "{}", stderr(out));
    assert!(!stderr(out).contains("panicked"), "{}", stderr(out));
}

fn corpus_args() -> Vec<PathBuf> {
    CORPUS.iter().map(|(n, _)| bad(n)).collect()
}

#[test]
fn parse_gives_each_bad_file_a_clear_error_and_goes_on() {
    let out = imr().arg("parse").args(corpus_args()).output().unwrap();
    check_corpus_records(&out);
}

#[test]
fn predict_gives_each_bad_file_a_clear_error_and_goes_on() {
    let out = imr().arg("predict").args(corpus_args()).output().unwrap();
    check_corpus_records(&out);
    // The good letters are predicted in full.
    for rec in records(&out).iter().filter(|r| r["error"].is_null()) {
        assert!(!rec["entities"].as_array().unwrap().is_empty());
        assert!(rec["items"][0]["p_overturned"].is_number());
    }
}

#[test]
fn an_input_over_the_size_limit_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = dir.path().join("big.txt");
    let mut f = std::fs::File::create(&big).unwrap();
    let line = "The patient reports low back pain radiating to the left leg. ".repeat(16);
    let mut written = 0;
    while written < 50 * 1024 * 1024 {
        f.write_all(line.as_bytes()).unwrap();
        f.write_all(b"\n").unwrap();
        written += line.len() + 1;
    }
    drop(f);
    let out = imr()
        .arg("predict")
        .arg(&big)
        .arg(bad("letter.txt"))
        .output()
        .unwrap();
    let recs = records(&out);
    let err = recs[0]["error"].as_str().unwrap();
    assert!(err.contains("big.txt"), "{err}");
    assert!(
        err.contains("over the input limit of 16777216 bytes"),
        "{err}"
    );
    assert!(recs[1]["error"].is_null());
    assert_eq!(out.status.code(), Some(1));

    // The same limit holds for stdin, where the size is not known in advance.
    let mut child = imr()
        .args(["parse", "--max-input-bytes", "1000", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The reader stops after the limit: a broken pipe here is expected.
    let _ = stdin.write_all(&std::fs::read(bad("letter.txt")).unwrap());
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let err = records(&out)[0]["error"].as_str().unwrap().to_string();
    assert!(
        err.contains("more than the input limit of 1000 bytes"),
        "{err}"
    );
}

/// The sample letter with its first item repeated `n` times as the whole items section.
fn letter_with_items(n: usize) -> String {
    let text = std::fs::read_to_string(bad("letter.txt")).unwrap();
    let start = text.find("Naproxen 500mg #60: Upheld").unwrap();
    let end = text.find("Pantoprazole 20mg #30: Upheld").unwrap();
    format!("{}{}", &text[..start], text[start..end].repeat(n))
}

#[test]
fn a_letter_with_200_items_is_read_and_tagged_to_its_end() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("long.txt");
    std::fs::write(&path, letter_with_items(200)).unwrap();
    let out = imr().arg("predict").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let rec = &records(&out)[0];
    let items = rec["items"].as_array().unwrap();
    assert_eq!(items.len(), 200);
    // The letter is ~40 times the model's window: tagged in overlapping windows, never cut.
    // The last item's request is tagged as the first one's is.
    let first = &items[0];
    let last = &items[199];
    for key in ["drug", "dose", "quantity", "predicted_decision"] {
        assert!(!first[key].is_null(), "{key} found in the first item");
        assert_eq!(first[key], last[key], "{key}");
    }
    let text_len = std::fs::read_to_string(&path).unwrap().chars().count();
    let last_entity_end = rec["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["end"].as_u64().unwrap() as usize)
        .max()
        .unwrap();
    assert!(
        last_entity_end > text_len - 1500,
        "entities found near the end ({last_entity_end} of {text_len})"
    );
}

/// A PDF with one page whose content stream inflates to `inflated` bytes of spaces.
fn compression_bomb(inflated: usize) -> Vec<u8> {
    use flate2::{write::ZlibEncoder, Compression};
    let mut z = ZlibEncoder::new(Vec::new(), Compression::best());
    let block = vec![b' '; 1 << 20];
    for _ in 0..inflated.div_ceil(block.len()) {
        z.write_all(&block).unwrap();
    }
    let stream = z.finish().unwrap();
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>".to_vec(),
    ];
    let mut content = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    content.extend(&stream);
    content.extend(b"\nendstream");
    objects.push(content);
    pdf_of(&objects)
}

/// A PDF from object bodies, with a correct cross-reference table.
fn pdf_of(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, body) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend(format!("{} 0 obj\n", i + 1).bytes());
        out.extend(body);
        out.extend(b"\nendobj\n");
    }
    let xref = out.len();
    out.extend(format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).bytes());
    for o in offsets {
        out.extend(format!("{o:010} 00000 n \n").bytes());
    }
    out.extend(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .bytes(),
    );
    out
}

#[test]
fn pdf_bombs_and_deep_nesting_end_one_input_not_the_batch() {
    let dir = tempfile::tempdir().unwrap();
    // 600 MB inflated from ~600 kB, read under a 256 MB limit.
    let bomb = dir.path().join("bomb.pdf");
    std::fs::write(&bomb, compression_bomb(600 << 20)).unwrap();
    // An array nested 200,000 deep: a recursive parser's stack cannot hold it.
    let deep = dir.path().join("deep.pdf");
    let nested = [
        b"<< /Type /Catalog /Pages 2 0 R /Deep ".to_vec(),
        vec![b'['; 200_000],
        vec![b']'; 200_000],
        b" >>".to_vec(),
    ]
    .concat();
    std::fs::write(
        &deep,
        pdf_of(&[nested, b"<< /Type /Pages /Kids [] /Count 0 >>".to_vec()]),
    )
    .unwrap();
    let good = root().join("data/samples/CM16-0234464.pdf");
    let out = imr()
        .args(["parse", "--pdf-memory", "256"])
        .args([&bomb, &deep, &good])
        .output()
        .unwrap();
    let recs = records(&out);
    assert_eq!(recs.len(), 3, "{}", stderr(&out));
    let err = recs[0]["error"].as_str().expect("the bomb is refused");
    assert!(
        err.contains("bomb.pdf: cannot read PDF: needs more than the memory limit of 256 MB"),
        "{err}"
    );
    // lopdf bounds its nesting depth; the page tree is then empty: no text.
    let err = recs[1]["error"].as_str().expect("the deep file is refused");
    assert!(err.contains("deep.pdf"), "{err}");
    assert!(recs[2]["error"].is_null(), "{}", recs[2]["error"]);
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn a_pdf_past_the_time_limit_is_given_up() {
    let good = root().join("data/samples/CM16-0234464.pdf");
    let out = imr()
        .args(["parse", "--pdf-timeout", "0"])
        .arg(&good)
        .arg(bad("letter.txt"))
        .output()
        .unwrap();
    let recs = records(&out);
    let err = recs[0]["error"].as_str().unwrap();
    assert!(err.contains("gave up after 0 s"), "{err}");
    assert!(recs[1]["error"].is_null());
}

#[test]
fn bad_annotation_files_name_the_file_line_and_problem() {
    let cases = [
        ("out_of_range.ann", "past the end of the letter"),
        ("reversed.ann", "is empty or reversed"),
        ("overlapping.ann", "overlap"),
        ("mislabelled.ann", "MEDICATION"),
        ("wrong_text.ann", "does not match the letter"),
    ];
    let dir = tempfile::tempdir().unwrap();
    for (ann, _) in cases {
        let stem = ann.trim_end_matches(".ann");
        std::fs::copy(bad("letter.txt"), dir.path().join(format!("{stem}.txt"))).unwrap();
        std::fs::copy(bad(ann), dir.path().join(ann)).unwrap();
    }
    // Every bad file is listed in one run, each with its line and what is wrong.
    let err = imr::annotation::corpus::load(&[dir.path().to_path_buf()])
        .expect_err("bad annotations are refused")
        .to_string();
    assert!(err.starts_with("5 files cannot be used"), "{err}");
    for (ann, phrase) in cases {
        let line = err
            .lines()
            .find(|l| l.contains(ann))
            .unwrap_or_else(|| panic!("{ann} not named: {err}"));
        assert!(line.contains(&format!("{ann}:")), "{line}");
        assert!(line.contains(phrase), "{line} lacks {phrase:?}");
    }
    // The command line says the same and exits 2: a corpus with bad gold is not used.
    let out = imr()
        .args(["eval", "--data"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("overlapping.ann:2"),
        "{}",
        stderr(&out)
    );
}

/// Copies the shipped model to a temporary directory for damaging.
fn model_copy() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("model");
    std::fs::create_dir(&m).unwrap();
    for e in std::fs::read_dir(root().join("models/default")).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), m.join(e.file_name())).unwrap();
    }
    (dir, m)
}

fn edit_json(path: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, serde_json::to_string(&v).unwrap()).unwrap();
}

/// Overwrites the first value of the first tensor of a safetensors file with `value`.
fn poison_first_weight(path: &Path, value: f32) {
    let mut bytes = std::fs::read(path).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let (_, first) = header
        .as_object()
        .unwrap()
        .iter()
        .find(|(k, _)| *k != "__metadata__")
        .unwrap();
    assert_eq!(first["dtype"], "F32");
    let at = 8 + n + first["data_offsets"][0].as_u64().unwrap() as usize;
    bytes[at..at + 4].copy_from_slice(&value.to_le_bytes());
    std::fs::write(path, bytes).unwrap();
}

/// Writes the blocks of `content` gzipped to `path`.
fn write_gz(path: &Path, content: &mut dyn Iterator<Item = &[u8]>) {
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(path).unwrap(),
        flate2::Compression::fast(),
    );
    for block in content {
        gz.write_all(block).unwrap();
    }
    gz.finish().unwrap();
}

fn truncate(path: &Path) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..bytes.len() / 2]).unwrap();
}

#[test]
fn a_damaged_model_directory_is_a_clear_error() {
    type Damage = fn(&Path);
    let cases: [(&str, Damage, &str, &str); 23] = [
        (
            "a window of 0 tokens",
            |m| edit_json(&m.join("config.json"), |v| v["model"]["window"] = 0.into()),
            "config.json",
            "window is 0",
        ),
        (
            "a margin larger than the window",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["window_margin"] = 600.into()
                })
            },
            "config.json",
            "not more than twice its margin of 600",
        ),
        (
            "a dilation of a billion",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["dilations"] = serde_json::json!([1, 2, 4, 1_000_000_000])
                })
            },
            "config.json",
            "a dilation is 1000000000",
        ),
        (
            "no convolutions, but their weights",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["dilations"] = serde_json::json!([])
                })
            },
            "model.safetensors",
            "tensors that config.json does not use",
        ),
        (
            "a NaN among the weights",
            |m| poison_first_weight(&m.join("model.safetensors"), f32::NAN),
            "model.safetensors",
            "NaN or infinite",
        ),
        (
            "an infinite weight",
            |m| poison_first_weight(&m.join("model.safetensors"), f32::INFINITY),
            "model.safetensors",
            "NaN or infinite",
        ),
        (
            "an empty lexicon",
            |m| write_gz(&m.join("lexicon.txt.gz"), &mut std::iter::empty()),
            "lexicon.txt.gz",
            "0 drugs and 0 diagnoses",
        ),
        (
            "a lexicon of 300 MB",
            |m| {
                let line = b"D\tacetaminophen hydrocodone bitartrate\n".repeat(1 << 16);
                write_gz(
                    &m.join("lexicon.txt.gz"),
                    &mut std::iter::repeat_n(line.as_slice(), 300 * (1 << 20) / line.len()),
                )
            },
            "lexicon.txt.gz",
            "uncompressed",
        ),
        (
            "missing weights",
            |m| std::fs::remove_file(m.join("model.safetensors")).unwrap(),
            "model",
            "missing model.safetensors",
        ),
        (
            "truncated weights",
            |m| truncate(&m.join("model.safetensors")),
            "model.safetensors",
            "unreadable weights",
        ),
        (
            "weights vs config",
            |m| edit_json(&m.join("config.json"), |v| v["model"]["hidden"] = 64.into()),
            "model.safetensors",
            "weights do not fit config.json",
        ),
        (
            "attention layers the weights lack",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["attention_layers"] = 1.into();
                    v["model"]["attention_heads"] = 4.into();
                    v["model"]["attention_radius"] = 16.into();
                })
            },
            "model.safetensors",
            "weights do not fit config.json",
        ),
        (
            "an LSTM layer the weights lack",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["lstm_units"] = 64.into()
                })
            },
            "model.safetensors",
            "weights do not fit config.json",
        ),
        (
            "a second tagger the weights lack",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["lstm_tagger_units"] = 16.into()
                })
            },
            "model.safetensors",
            "weights do not fit config.json",
        ),
        (
            "attention heads that do not split the hidden size",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["attention_layers"] = 1.into();
                    v["model"]["attention_heads"] = 3.into();
                })
            },
            "config.json",
            "not a multiple of 3 heads",
        ),
        (
            "tokenizer vs config",
            |m| {
                edit_json(&m.join("config.json"), |v| {
                    v["model"]["vocab_size"] = 100.into()
                })
            },
            "tokenizer.json",
            "vocabulary of",
        ),
        (
            "truncated tokenizer",
            |m| truncate(&m.join("tokenizer.json")),
            "tokenizer.json",
            "",
        ),
        (
            "label set",
            |m| {
                edit_json(&m.join("labels.json"), |v| {
                    v["tags"].as_array_mut().unwrap().pop();
                })
            },
            "labels.json",
            "label set",
        ),
        (
            "format version",
            |m| edit_json(&m.join("config.json"), |v| v["format_version"] = 99.into()),
            "config.json",
            "format version 99",
        ),
        (
            "truncated config",
            |m| truncate(&m.join("config.json")),
            "config.json",
            "invalid JSON",
        ),
        (
            "truncated lexicon",
            |m| truncate(&m.join("lexicon.txt.gz")),
            "lexicon.txt.gz",
            "",
        ),
        (
            "missing memory",
            |m| std::fs::remove_file(m.join("memory.tsv")).unwrap(),
            "model",
            "missing memory.tsv",
        ),
        (
            "damaged memory",
            |m| {
                std::fs::write(
                    m.join("memory.tsv"),
                    "DIAGNOSIS\t1\t1\tlow back pain\nDRUG norco\n",
                )
                .unwrap()
            },
            "memory.tsv",
            "line 2",
        ),
    ];
    for (what, damage, file, phrase) in cases {
        let (_keep, m) = model_copy();
        damage(&m);
        let out = imr()
            .args(["predict", "--model"])
            .arg(&m)
            .arg(bad("letter.txt"))
            .output()
            .unwrap();
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(
            out.stdout.is_empty(),
            "{what}: no records from a broken model"
        );
        assert!(err.contains(file), "{what}: {err:?} does not name {file}");
        assert!(err.contains(phrase), "{what}: {err:?} lacks {phrase:?}");
        assert!(!err.contains("panicked"), "{what}: {err}");
    }
}

#[test]
fn predict_output_resumes_where_it_stopped() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.jsonl");
    let samples = root().join("data/samples");
    let full = imr()
        .arg("predict")
        .arg(&samples)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert!(full.status.success(), "{}", stderr(&full));
    assert!(
        full.stdout.is_empty(),
        "--output writes to the file, not stdout"
    );
    let complete = std::fs::read_to_string(&out_file).unwrap();
    let lines: Vec<&str> = complete.lines().collect();
    assert_eq!(lines.len(), 4);

    // Interrupted after two letters, in the middle of writing the third.
    let cut = format!("{}\n{}\n{}", lines[0], lines[1], &lines[2][..100]);
    std::fs::write(&out_file, cut).unwrap();
    let resumed = imr()
        .arg("predict")
        .arg(&samples)
        .arg("-o")
        .arg(&out_file)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(
        stderr(&resumed).contains("2 inputs were already there"),
        "{}",
        stderr(&resumed)
    );
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), complete);

    // Resuming a finished file does nothing; resuming CSV is refused (exit 2).
    let again = imr()
        .arg("predict")
        .arg(&samples)
        .arg("-o")
        .arg(&out_file)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(again.status.success());
    assert_eq!(std::fs::read_to_string(&out_file).unwrap(), complete);
    let csv = imr()
        .args(["predict", "--format", "csv", "--resume", "-o"])
        .arg(&out_file)
        .arg(&samples)
        .output()
        .unwrap();
    assert_eq!(csv.status.code(), Some(2));

    // A file that is not predict output is not resumed into (and not truncated).
    let foreign = dir.path().join("notes.txt");
    std::fs::write(&foreign, "shopping list\nmilk\n").unwrap();
    let refused = imr()
        .arg("predict")
        .arg(&samples)
        .arg("-o")
        .arg(&foreign)
        .arg("--resume")
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{}", stderr(&refused));
    assert_eq!(
        std::fs::read_to_string(&foreign).unwrap(),
        "shopping list\nmilk\n"
    );
}

#[test]
fn predict_reads_letters_as_jsonl_on_stdin_as_a_pipeline_stage() {
    let sample = root().join("data/samples/CM16-0219557.txt");
    let text = std::fs::read_to_string(&sample).unwrap();
    let mut input = String::new();
    input += &serde_json::json!({"file": "a", "text": text}).to_string();
    input += "\n{\"text\": 3}\nnot json\n\n";
    input += &serde_json::json!({"id": 42, "text": text}).to_string();
    input += "\n";
    let mut child = imr()
        .args(["predict", "--input-format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let recs = records(&out);
    // One record per non-empty input line, in order; bad lines name their line.
    assert_eq!(recs.len(), 4, "{}", stderr(&out));
    assert_eq!(recs[0]["file"], "a");
    assert!(recs[1]["error"]
        .as_str()
        .unwrap()
        .contains("-:2: no \"text\""));
    assert!(recs[2]["error"]
        .as_str()
        .unwrap()
        .contains("-:3: not a JSON object"));
    assert_eq!(recs[3]["file"], "42");
    assert_eq!(out.status.code(), Some(1));
    // The same letter gives the same record as when it is read from its file.
    let from_file = records(&imr().arg("predict").arg(&sample).output().unwrap()).remove(0);
    for key in ["items", "entities", "case_number"] {
        assert_eq!(recs[0][key], from_file[key], "{key}");
        assert_eq!(recs[3][key], from_file[key], "{key}");
    }
}

#[test]
fn records_do_not_depend_on_threads_or_on_flushing_each() {
    let mut letters: Vec<PathBuf> = std::fs::read_dir(root().join("data/dwc-letters"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "txt"))
        .collect();
    letters.sort();
    letters.truncate(12);
    let run = |extra: &[&str]| {
        let out = imr()
            .arg("predict")
            .args(extra)
            .args(&letters)
            .output()
            .unwrap();
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        String::from_utf8(out.stdout).unwrap()
    };
    let plain = run(&[]);
    assert_eq!(plain.lines().count(), 12);
    for extra in [
        &["-j", "1"][..],
        &["--threads", "2"],
        &["-j", "3", "--flush-each"],
    ] {
        assert!(run(extra) == plain, "{extra:?} changed the records");
    }
    let out = imr()
        .args(["predict", "-j", "0"])
        .args(&letters)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--threads"), "{}", stderr(&out));
}

/// A PDF whose text takes the reader seconds: ten million text operators.
fn slow_pdf() -> Vec<u8> {
    use flate2::{write::ZlibEncoder, Compression};
    let mut z = ZlibEncoder::new(Vec::new(), Compression::fast());
    z.write_all(b"BT /F1 12 Tf ").unwrap();
    let block = b"(word) Tj ".repeat(100_000);
    for _ in 0..100 {
        z.write_all(&block).unwrap();
    }
    z.write_all(b" ET").unwrap();
    let stream = z.finish().unwrap();
    let mut content = format!(
        "<< /Length {} /Filter /FlateDecode >>\nstream\n",
        stream.len()
    )
    .into_bytes();
    content.extend(&stream);
    content.extend(b"\nendstream");
    let objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R \
          /Resources << /Font << /F1 5 0 R >> >> >>"
            .to_vec(),
        content,
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    pdf_of(&objects)
}

/// The pids of running `imr pdf-text` children whose arguments carry `marker`.
fn pdf_children(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(e.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|&b| b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.iter().any(|a| a == "pdf-text") && args.iter().any(|a| a == marker) {
            found.push(pid);
        }
    }
    found
}

#[cfg(target_os = "linux")]
#[test]
fn killing_predict_kills_its_pdf_reader() {
    let dir = tempfile::tempdir().unwrap();
    let pdf = dir.path().join("slow.pdf");
    std::fs::write(&pdf, slow_pdf()).unwrap();
    // An input limit no other run uses marks this run's PDF reader among the processes.
    let marker = "16777199";
    let mut predict = imr()
        .args(["predict", "--pdf-timeout", "300", "--pdf-memory", "8192"])
        .args(["--max-input-bytes", marker])
        .arg(&pdf)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while pdf_children(marker).is_empty() {
        assert!(Instant::now() < deadline, "the PDF reader never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    predict.kill().unwrap();
    predict.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !pdf_children(marker).is_empty() {
        assert!(
            Instant::now() < deadline,
            "the PDF reader outlived predict by 10 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
