//! The user's files are never lost: every command is run as the real binary on temporary
//! folders, and every file that was there before is there after, byte for byte, unless the
//! user asked for exactly that file to be replaced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn imr() -> Command {
    Command::new(env!("CARGO_BIN_EXE_imr"))
}

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn sample(name: &str) -> PathBuf {
    root().join("data/samples").join(name)
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn records(bytes: &[u8]) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Every file under `dir` (links not followed) with its bytes: what must survive a command.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let kind = e.file_type().unwrap();
            if kind.is_dir() {
                stack.push(e.path());
            } else if kind.is_file() {
                files.insert(e.path(), std::fs::read(e.path()).unwrap());
            }
        }
    }
    files
}

/// A folder of labelled letters (two seeds with their gold) and a precious file beside them.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    for stem in ["000_ec6b414565aecb80", "002_9da0cd1af723cf3b"] {
        for ext in ["txt", "ann"] {
            let name = format!("{stem}.{ext}");
            std::fs::copy(root().join("data/seeds").join(&name), letters.join(&name)).unwrap();
        }
    }
    std::fs::create_dir(dir.path().join("precious")).unwrap();
    std::fs::write(
        dir.path().join("precious/thesis.doc"),
        b"four years of work",
    )
    .unwrap();
    dir
}

/// The smallest training that runs: what matters here is where it writes.
const TINY: [&str; 12] = [
    "--epochs",
    "1",
    "--hidden",
    "8",
    "--embed-dim",
    "8",
    "--vocab-size",
    "200",
    "--lstm-tagger",
    "0",
    "--dev-fraction",
    "0.5",
];

fn train(dir: &Path, out: &Path, extra: &[&str]) -> Output {
    imr()
        .current_dir(dir)
        .args(["train", "--data", "letters", "--out"])
        .arg(out)
        .args(TINY)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn train_never_writes_over_what_is_not_its_own_model() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::write(dir.join("notes.txt"), b"not a model").unwrap();
    let before = snapshot(dir);
    let cases: [(&str, &str); 5] = [
        ("letters", "holds training letters"),
        (".", "holds training letters"),
        ("precious", "is not an imr model directory"),
        ("notes.txt", "is not a directory"),
        ("precious/thesis.doc", "is not a directory"),
    ];
    for (out, phrase) in cases {
        for force in [false, true] {
            let extra: &[&str] = if force { &["--force"] } else { &[] };
            let run = train(dir, Path::new(out), extra);
            let err = stderr(&run);
            assert_eq!(run.status.code(), Some(2), "--out {out}: {err}");
            assert!(
                err.contains(phrase),
                "--out {out}: {err:?} lacks {phrase:?}"
            );
            // Refused before training: no epoch ran.
            assert!(!err.contains("epoch"), "--out {out} trained first: {err}");
            assert_eq!(
                snapshot(dir),
                before,
                "--out {out} (force {force}) changed files"
            );
        }
    }
}

#[test]
fn train_replaces_a_model_only_with_force_and_cleans_up_after_killed_runs() {
    let ws = workspace();
    let dir = ws.path();
    let model = dir.join("model");
    let first = train(dir, &model, &[]);
    assert!(first.status.success(), "{}", stderr(&first));
    let trained = snapshot(&model);
    assert!(trained.contains_key(&model.join("model.safetensors")));

    // A second run without --force is refused, and the model stays as it was.
    let again = train(dir, &model, &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(
        stderr(&again).contains("pass --force"),
        "{}",
        stderr(&again)
    );
    assert_eq!(snapshot(&model), trained);

    // Leftovers of a killed run (its process gone) are removed; a folder of the user's that
    // only looks like one is kept.
    let stale = dir.join(".model.tmp-99999999");
    std::fs::create_dir(&stale).unwrap();
    std::fs::write(stale.join("config.json"), b"{}").unwrap();
    let users = dir.join(".model.tmp-99999998");
    std::fs::create_dir(&users).unwrap();
    std::fs::write(users.join("diary.txt"), b"mine").unwrap();
    let outside = snapshot(&dir.join("precious"));
    let forced = train(dir, &model, &["--force", "--seed", "7"]);
    assert!(forced.status.success(), "{}", stderr(&forced));
    assert!(
        !stale.exists(),
        "a killed run's temporary directory is left"
    );
    assert_eq!(std::fs::read(users.join("diary.txt")).unwrap(), b"mine");
    assert_ne!(snapshot(&model), trained, "--force replaced the model");
    assert_eq!(snapshot(&dir.join("precious")), outside);
    let leftovers: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".model.") && n != ".model.tmp-99999998")
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn train_and_eval_refuse_letters_without_gold_unless_told() {
    let ws = workspace();
    let dir = ws.path();
    std::fs::copy(
        sample("CM16-0219557.txt"),
        dir.join("letters/unlabelled.txt"),
    )
    .unwrap();
    let refused = train(dir, &dir.join("m"), &[]);
    assert_eq!(refused.status.code(), Some(2));
    let err = stderr(&refused);
    assert!(err.contains("unlabelled.txt: no unlabelled.ann"), "{err}");
    assert!(err.contains("--allow-unlabelled"), "{err}");
    assert!(!dir.join("m").exists());

    let eval = |extra: &[&str]| {
        imr()
            .current_dir(dir)
            .args(["eval", "--data", "letters", "--format", "json"])
            .args(extra)
            .output()
            .unwrap()
    };
    let refused = eval(&[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("unlabelled.txt"));
    let allowed = eval(&["--allow-unlabelled"]);
    assert!(allowed.status.success(), "{}", stderr(&allowed));
    assert!(
        stderr(&allowed).contains("left out 1 labelled .txt files"),
        "{}",
        stderr(&allowed)
    );
    let report: serde_json::Value = serde_json::from_slice(&allowed.stdout).unwrap();
    assert_eq!(report["letters"], 2, "{report}");
}

#[test]
fn predict_refuses_an_output_that_is_one_of_its_inputs() {
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    let letter = letters.join("a.txt");
    std::fs::copy(sample("CM16-0219557.txt"), &letter).unwrap();
    let jsonl = dir.path().join("in.jsonl");
    let text = std::fs::read_to_string(&letter).unwrap();
    std::fs::write(
        &jsonl,
        serde_json::json!({"file": "x", "text": text}).to_string(),
    )
    .unwrap();
    let before = snapshot(dir.path());
    let cases: Vec<(Vec<PathBuf>, PathBuf, bool)> = vec![
        // The letter itself, the letter found in its folder, another spelling of it, the
        // JSONL input; with and without --resume.
        (vec![letter.clone()], letter.clone(), false),
        (vec![letters.clone()], letter.clone(), false),
        (
            vec![letters.clone()],
            letters.join("../letters/a.txt"),
            true,
        ),
        (vec![jsonl.clone()], jsonl.clone(), false),
    ];
    for (inputs, out, resume) in cases {
        let mut cmd = imr();
        cmd.arg("predict").args(&inputs).arg("-o").arg(&out);
        if inputs[0] == jsonl {
            cmd.args(["--input-format", "jsonl"]);
        }
        if resume {
            cmd.arg("--resume");
        }
        let run = cmd.output().unwrap();
        assert_eq!(run.status.code(), Some(2), "{out:?}: {}", stderr(&run));
        assert!(
            stderr(&run).contains("is also an input"),
            "{}",
            stderr(&run)
        );
        assert_eq!(snapshot(dir.path()), before, "-o {out:?} changed files");
    }
}

#[test]
fn two_predict_runs_never_share_an_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out.jsonl");
    let letters = root().join("data/dwc-letters");
    let start = || {
        imr()
            .arg("predict")
            .arg(&letters)
            .arg("-o")
            .arg(&out)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (start(), start());
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    let codes = [a.status.code(), b.status.code()];
    // Exactly one writer: the other is refused, and the file holds the one run's records whole.
    assert!(
        codes.contains(&Some(0)) && codes.contains(&Some(2)),
        "{codes:?}: {} / {}",
        stderr(&a),
        stderr(&b)
    );
    let refused = if a.status.code() == Some(2) { &a } else { &b };
    assert!(
        stderr(refused).contains("another imr predict is writing to it"),
        "{}",
        stderr(refused)
    );
    let recs = records(&std::fs::read(&out).unwrap());
    assert_eq!(recs.len(), 260, "every letter once");
    let names: std::collections::HashSet<&str> =
        recs.iter().map(|r| r["file"].as_str().unwrap()).collect();
    assert_eq!(names.len(), 260);
}

#[test]
fn resume_takes_only_predict_records_and_never_cuts_a_complete_line() {
    let dir = tempfile::tempdir().unwrap();
    let samples = root().join("data/samples");
    let parse = imr().arg("parse").arg(&samples).output().unwrap();
    let text = std::fs::read_to_string(sample("CM16-0219557.txt")).unwrap();
    let input_line = serde_json::json!({"file": "a", "text": text}).to_string() + "\n";
    let foreign: [(&str, Vec<u8>); 4] = [
        ("parse output", parse.stdout.clone()),
        ("an input JSONL", input_line.into_bytes()),
        (
            "a note with a complete last line",
            b"{\"file\": \"x\"}\nnotes\n".to_vec(),
        ),
        ("a note without a newline", b"my notes".to_vec()),
    ];
    for (what, bytes) in foreign {
        let out = dir.path().join("out.jsonl");
        std::fs::write(&out, &bytes).unwrap();
        let run = imr()
            .arg("predict")
            .arg(&samples)
            .arg("-o")
            .arg(&out)
            .arg("--resume")
            .output()
            .unwrap();
        assert_eq!(run.status.code(), Some(2), "{what}: {}", stderr(&run));
        assert!(
            stderr(&run).contains("not a predict record"),
            "{what}: {}",
            stderr(&run)
        );
        assert_eq!(std::fs::read(&out).unwrap(), bytes, "{what} was changed");
    }
}

#[cfg(unix)]
#[test]
fn names_that_are_not_utf8_stay_distinct_and_resume_finds_them() {
    use std::os::unix::ffi::OsStrExt;
    let dir = tempfile::tempdir().unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    let names: [&[u8]; 4] = [
        b"L\xff0.txt",
        b"L\xfe0.txt",
        b"L\xef\xbf\xbd0.txt",
        b"L\\xFF0.txt",
    ];
    for n in names {
        let p = letters.join(std::ffi::OsStr::from_bytes(n));
        std::fs::copy(sample("CM16-0219557.txt"), p).unwrap();
    }
    let out = dir.path().join("out.jsonl");
    let full = imr()
        .arg("predict")
        .arg(&letters)
        .arg("-o")
        .arg(&out)
        .output()
        .unwrap();
    assert!(full.status.success(), "{}", stderr(&full));
    let complete = std::fs::read_to_string(&out).unwrap();
    let files: Vec<String> = records(complete.as_bytes())
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::HashSet<&String> = files.iter().collect();
    assert_eq!(unique.len(), 4, "{files:?}");
    let base = letters.display().to_string();
    for want in [
        "L\\xFF0.txt",
        "L\\xFE0.txt",
        "L\u{fffd}0.txt",
        "L\\\\xFF0.txt",
    ] {
        assert!(
            files.contains(&format!("{base}/{want}")),
            "{want} in {files:?}"
        );
    }

    // Cut after the first record: a resume predicts exactly the three others.
    let first_line = complete.lines().next().unwrap();
    std::fs::write(&out, format!("{first_line}\n")).unwrap();
    let resumed = imr()
        .arg("predict")
        .arg(&letters)
        .arg("-o")
        .arg(&out)
        .arg("--resume")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stderr(&resumed).contains("1 inputs were already there"));
    assert_eq!(std::fs::read_to_string(&out).unwrap(), complete);
}

#[test]
fn predict_writes_to_devices_and_names_the_output_it_cannot_write() {
    let null = imr()
        .arg("predict")
        .arg(sample("CM16-0219557.txt"))
        .args(["-o", "/dev/null"])
        .output()
        .unwrap();
    assert!(null.status.success(), "{}", stderr(&null));
    if Path::new("/dev/full").exists() {
        let full = imr()
            .arg("predict")
            .arg(sample("CM16-0219557.txt"))
            .args(["-o", "/dev/full"])
            .output()
            .unwrap();
        assert_eq!(full.status.code(), Some(2));
        let err = stderr(&full);
        assert!(err.contains("/dev/full: cannot write the records"), "{err}");
        assert_eq!(err.matches("os error 28").count(), 1, "{err}");
    }
}

#[test]
fn an_os_error_is_said_once() {
    let dir = tempfile::tempdir().unwrap();
    let run = imr()
        .current_dir(dir.path())
        .args(["train", "--data", "no-such-folder", "--out", "m"])
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(2));
    let err = stderr(&run);
    assert!(err.contains("no-such-folder"), "{err}");
    let said = err
        .to_lowercase()
        .matches("no such file or directory")
        .count();
    assert_eq!(said, 1, "{err}");
    // A lexicon folder that is not there: its OS error once, after the file it is about.
    let ws = workspace();
    let run = imr()
        .current_dir(ws.path())
        .args([
            "train",
            "--data",
            "letters",
            "--out",
            "m",
            "--lexicons",
            "nowhere",
        ])
        .output()
        .unwrap();
    let err = stderr(&run);
    assert_eq!(run.status.code(), Some(2), "{err}");
    assert!(err.contains("nowhere"), "{err}");
    assert_eq!(err.matches("os error 2").count(), 1, "{err}");
}
