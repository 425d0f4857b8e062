//! `docs/record.schema.json` describes what `imr predict` prints: every record of real output
//! (letters, a failed input, a JSONL line with extra fields) validates against it, and records
//! that break it are caught. The validator below reads the keywords the schema uses (`type`,
//! `enum`, `required`, `properties`, `additionalProperties`, `items`, `minItems`, `maxItems`,
//! `minimum`, `maximum`, `$ref`); any other keyword in the schema fails the test, so that the
//! schema cannot say more than is checked.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn schema() -> Value {
    let text = std::fs::read_to_string(root().join("docs/record.schema.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

const KEYWORDS: [&str; 14] = [
    "$schema",
    "$id",
    "title",
    "description",
    "type",
    "enum",
    "required",
    "properties",
    "additionalProperties",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
];

fn type_matches(t: &str, v: &Value) -> bool {
    match t {
        "null" => v.is_null(),
        "boolean" => v.is_boolean(),
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        other => panic!("unknown type {other}"),
    }
}

/// The errors of `v` against `s` (a schema node of `root`), with their JSON paths.
fn validate(root: &Value, s: &Value, v: &Value, at: &str, errors: &mut Vec<String>) {
    let s = match s.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.strip_prefix("#/$defs/").expect("local $ref");
            &root["$defs"][name]
        }
        None => s,
    };
    for k in s.as_object().unwrap().keys() {
        assert!(
            KEYWORDS.contains(&k.as_str()) || k == "$defs" || k == "$ref",
            "the schema uses {k}, which this test does not check"
        );
    }
    if let Some(t) = s.get("type") {
        let types: Vec<&str> = match t {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().map(|t| t.as_str().unwrap()).collect(),
            _ => panic!("type"),
        };
        if !types.iter().any(|t| type_matches(t, v)) {
            errors.push(format!("{at}: {v} is not {types:?}"));
            return;
        }
    }
    if let Some(Value::Array(options)) = s.get("enum") {
        if !options.contains(v) {
            errors.push(format!("{at}: {v} is not one of {options:?}"));
        }
    }
    if let Some(n) = v.as_f64() {
        if s.get("minimum")
            .and_then(Value::as_f64)
            .is_some_and(|m| n < m)
            || s.get("maximum")
                .and_then(Value::as_f64)
                .is_some_and(|m| n > m)
        {
            errors.push(format!("{at}: {n} is out of range"));
        }
    }
    if let Value::Array(xs) = v {
        let len = xs.len() as u64;
        if s.get("minItems")
            .and_then(Value::as_u64)
            .is_some_and(|m| len < m)
            || s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|m| len > m)
        {
            errors.push(format!("{at}: {len} items"));
        }
        if let Some(item) = s.get("items") {
            for (i, x) in xs.iter().enumerate() {
                validate(root, item, x, &format!("{at}[{i}]"), errors);
            }
        }
    }
    if let Value::Object(fields) = v {
        let props = s.get("properties").and_then(Value::as_object);
        for r in s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_str().unwrap();
            if !fields.contains_key(r) {
                errors.push(format!("{at}: no {r}"));
            }
        }
        for (k, x) in fields {
            match props.and_then(|p| p.get(k)) {
                Some(ps) => validate(root, ps, x, &format!("{at}.{k}"), errors),
                None if s.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{at}: unexpected {k}"))
                }
                None => {}
            }
        }
    }
}

fn errors_of(record: &Value) -> Vec<String> {
    let s = schema();
    let mut errors = Vec::new();
    validate(&s, &s, record, "$", &mut errors);
    errors
}

fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn real_predict_output_follows_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_imr"))
        .arg("predict")
        .arg(root().join("data/samples"))
        .arg(&empty)
        .output()
        .unwrap();
    let mut all = records(&out.stdout);
    assert_eq!(all.len(), 5);
    assert!(all[4]["error"].is_string());
    let text = std::fs::read_to_string(root().join("data/samples/CM16-0219557.txt")).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_imr"))
        .args(["predict", "--input-format", "jsonl", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let line = serde_json::json!({"file": "a", "text": text, "claim": {"id": 7}});
    writeln!(child.stdin.take().unwrap(), "{line}").unwrap();
    let piped = records(&child.wait_with_output().unwrap().stdout);
    assert!(piped[0]["meta"].is_object());
    all.extend(piped);
    for r in &all {
        let errors = errors_of(r);
        assert!(errors.is_empty(), "{}: {errors:?}", r["file"]);
    }
}

#[test]
fn records_that_break_the_schema_are_caught() {
    let out = Command::new(env!("CARGO_BIN_EXE_imr"))
        .arg("predict")
        .arg(root().join("data/samples/CM16-0219557.txt"))
        .output()
        .unwrap();
    let good = records(&out.stdout).remove(0);
    assert!(errors_of(&good).is_empty());
    type Break = fn(&mut Value);
    let breaks: [(&str, Break); 6] = [
        ("an unknown field", |r| r["extra"] = 1.into()),
        ("a missing field", |r| {
            r.as_object_mut().unwrap().remove("items");
        }),
        ("a wrong type", |r| r["case_number"] = 5.into()),
        ("a decision that is not one", |r| {
            r["items"][0]["predicted_decision"] = "Maybe".into()
        }),
        ("a probability over 1", |r| {
            r["items"][0]["p_overturned"] = 1.5.into()
        }),
        ("a span of three numbers", |r| {
            r["items"][0]["request_span"] = serde_json::json!([1, 2, 3])
        }),
    ];
    for (what, b) in breaks {
        let mut r = good.clone();
        b(&mut r);
        assert!(!errors_of(&r).is_empty(), "{what} passed");
    }
}
