//! `imr parse` run as a real binary on real letters and on broken input.

use std::path::Path;
use std::process::{Command, Stdio};

fn imr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imr"))
}

fn data(rel: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(rel)
        .display()
        .to_string()
}

fn lines(stdout: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn parses_sample_letters_text_and_pdf() {
    let out = imr()
        .args(["parse", &data("data/samples")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let recs = lines(&out.stdout);
    assert_eq!(recs.len(), 4);
    let pdf = recs
        .iter()
        .find(|r| r["file"].as_str().unwrap().ends_with(".pdf"))
        .unwrap();
    assert_eq!(pdf["source"], "pdf");
    assert_eq!(pdf["case_number"], "CM16-0234464");
    assert_eq!(pdf["items"].as_array().unwrap().len(), 6);
    let first = &recs[0];
    assert_eq!(first["case_number"], "CM16-0219557");
    assert_eq!(first["error"], serde_json::Value::Null);
    let item = &first["items"][0];
    assert_eq!(item["request"], "Facet joint injections L4-5, L5-S1");
    assert_eq!(item["stated_decision"], "Upheld");
    assert_eq!(item["request_span"].as_array().unwrap().len(), 2);
}

#[test]
fn bad_inputs_get_error_records_and_the_rest_still_parse() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, bytes: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, bytes).unwrap();
        p.display().to_string()
    };
    let empty = write("empty.txt", b"");
    let binary = write("garbage.txt", &[0x7f, b'E', b'L', b'F', 0, 1, 2, 3]);
    let latin1 = write(
        "latin1.txt",
        b"IMR ISSUES, DECISIONS AND RATIONALES caf\xe9",
    );
    let truncated = write("truncated.pdf", b"%PDF-1.5\n1 0 obj << /Type /Catalog");
    let no_items = write("memo.txt", b"Dear claimant, your appeal was received.\n");
    let good = data("data/samples/CM16-0219557.txt");
    let missing = dir.path().join("missing.txt").display().to_string();

    let out = imr()
        .args([
            "parse", &empty, &binary, &good, &latin1, &truncated, &no_items, &missing,
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "some inputs failed");
    let recs = lines(&out.stdout);
    assert_eq!(recs.len(), 7, "one line per input, in input order");
    let expect = [
        (&empty, "empty file"),
        (&binary, "binary file"),
        (&latin1, "not UTF-8"),
        (&truncated, "truncated"),
        (&no_items, "no \"IMR ISSUES"),
        (&missing, "No such file"),
    ];
    for (file, what) in expect {
        let r = recs.iter().find(|r| r["file"] == file.as_str()).unwrap();
        let err = r["error"]
            .as_str()
            .unwrap_or_else(|| panic!("{file}: no error"));
        assert!(err.contains(file.as_str()), "error names the file: {err}");
        assert!(err.contains(what), "{err}");
    }
    let ok = &recs[2];
    assert_eq!(ok["error"], serde_json::Value::Null);
    assert_eq!(ok["items"].as_array().unwrap().len(), 1);
    assert!(
        out.stderr.is_empty(),
        "no panic noise: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn reads_a_letter_from_stdin() {
    let text = std::fs::read(data("data/seeds/000_ec6b414565aecb80.txt")).unwrap();
    let mut child = imr()
        .args(["parse", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let recs = lines(&out.stdout);
    assert_eq!(recs[0]["file"], "-");
    assert_eq!(recs[0]["items"].as_array().unwrap().len(), 3);
}

#[test]
fn usage_errors_exit_2() {
    let out = imr().args(["parse"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = imr().args(["frobnicate"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = imr().args(["--help"]).output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("parse"));
}

/// `parse --format csv`: the predict columns, one row per item, the model's columns empty;
/// a format only `predict` writes is refused.
#[test]
fn parse_writes_csv_rows_and_refuses_predict_only_formats() {
    let out = imr()
        .args([
            "parse",
            "--format",
            "csv",
            &data("data/samples/CM17-0013716.txt"),
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut rdr = csv::Reader::from_reader(out.stdout.as_slice());
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(&headers[0], "file");
    let rows: Vec<csv::StringRecord> = rdr.records().map(|r| r.unwrap()).collect();
    assert_eq!(rows.len(), 4, "one row per disputed item");
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    assert_eq!(&rows[0][col("request")], "Naproxen 500mg #60");
    assert_eq!(&rows[0][col("guidelines")], "MTUS");
    assert_eq!(&rows[0][col("predicted_decision")], "");
    let html = imr()
        .args(["parse", "--format", "html", &data("data/samples")])
        .output()
        .unwrap();
    assert_eq!(html.status.code(), Some(2));
}
