//! A batch never hangs, never reads without bound and never panics, whatever it is given
//! (link loops, FIFOs, devices, endless lines, folders it cannot list, a killed parent); and
//! it tells the user what it did. Each test runs the real binary with a deadline, so that a
//! hang fails the test instead of stalling the suite. (A killed `predict`'s PDF reader is
//! tested in `bad_input.rs`, beside the other PDFs it builds.)

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

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

fn records(out: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// Runs `cmd` to its end, killing it (and failing) past `secs`.
fn within(secs: u64, cmd: &mut Command) -> Output {
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    finish_within(secs, child)
}

fn finish_within(secs: u64, mut child: Child) -> Output {
    let pid = child.id();
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = done.clone();
    let watchdog = std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if flag.load(std::sync::atomic::Ordering::SeqCst) {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
        true
    });
    let mut out = Vec::new();
    let mut err = Vec::new();
    if let Some(mut s) = child.stdout.take() {
        s.read_to_end(&mut out).unwrap();
    }
    if let Some(mut s) = child.stderr.take() {
        s.read_to_end(&mut err).unwrap();
    }
    let status = child.wait().unwrap();
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(
        !watchdog.join().unwrap(),
        "still running after {secs} s: {}",
        String::from_utf8_lossy(&err)
    );
    Output {
        status,
        stdout: out,
        stderr: err,
    }
}

fn mkfifo(path: &Path) {
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {path:?}");
}

#[cfg(unix)]
#[test]
fn link_loops_fifos_and_devices_in_a_folder_are_passed_over() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().join("d");
    std::fs::create_dir_all(d.join("sub")).unwrap();
    std::fs::copy(sample("CM16-0219557.txt"), d.join("a.txt")).unwrap();
    std::fs::copy(sample("CM17-0013716.txt"), d.join("sub/b.txt")).unwrap();
    // Two loops, a link to a letter, a FIFO and a device with a letter's name.
    symlink(".", d.join("self")).unwrap();
    symlink("..", d.join("sub/up")).unwrap();
    symlink("a.txt", d.join("link.txt")).unwrap();
    mkfifo(&d.join("pipe.txt"));
    symlink("/dev/zero", d.join("zero.txt")).unwrap();
    let out = within(120, imr().arg("parse").arg(&d));
    let files: Vec<String> = records(&out)
        .iter()
        .map(|r| r["file"].as_str().unwrap().to_string())
        .collect();
    let base = d.display().to_string();
    assert_eq!(
        files,
        [
            format!("{base}/a.txt"),
            format!("{base}/link.txt"),
            format!("{base}/sub/b.txt")
        ],
        "{}",
        stderr(&out)
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[cfg(unix)]
#[test]
fn fifos_and_devices_named_as_inputs_end_with_an_error_each() {
    let dir = tempfile::tempdir().unwrap();
    let idle = dir.path().join("idle.fifo");
    mkfifo(&idle);
    // A FIFO whose writer (this test) holds it open and sends nothing.
    let stalled = dir.path().join("stalled.fifo");
    mkfifo(&stalled);
    let _writer = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(&stalled)
        .unwrap();
    let mut cmd = imr();
    cmd.args([
        "parse",
        "--read-timeout",
        "1",
        "--max-input-bytes",
        "100000",
    ])
    .arg(&idle)
    .arg(&stalled)
    .args(["/dev/zero", "/dev/urandom", "/proc/self/status"])
    .arg(sample("CM16-0219557.txt"));
    let out = within(60, &mut cmd);
    let recs = records(&out);
    let errors: Vec<&str> = recs
        .iter()
        .map(|r| r["error"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(recs.len(), 6, "{}", stderr(&out));
    assert!(errors[0].contains("idle.fifo: empty file"), "{}", errors[0]);
    assert!(
        errors[1].contains("nothing to read for 1 s"),
        "{}",
        errors[1]
    );
    for e in &errors[2..4] {
        assert!(
            e.contains("more than the input limit of 100000 bytes"),
            "{e}"
        );
    }
    assert!(errors[4].contains("not an IMR letter"), "{}", errors[4]);
    assert_eq!(errors[5], "", "the letter after them is read");
    assert_eq!(out.status.code(), Some(1));
}

#[test]
fn the_largest_input_limit_does_not_overflow() {
    let max = u64::MAX.to_string();
    let text = std::fs::read(sample("CM16-0219557.txt")).unwrap();
    let mut child = imr()
        .args(["parse", "--max-input-bytes", &max, "-"])
        .arg(sample("CM16-0234464.pdf"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&text).unwrap();
    let out = finish_within(120, child);
    let recs = records(&out);
    assert_eq!(recs.len(), 2);
    for r in &recs {
        assert!(r["error"].is_null(), "{}", r["error"]);
    }
}

#[test]
fn a_stream_over_the_limit_is_refused_by_the_limit() {
    let mut child = imr()
        .args(["parse", "--max-input-bytes", "1000", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    // The reader stops after the limit: a broken pipe here is expected.
    let _ = stdin.write_all(&vec![b'a'; 5000]);
    drop(stdin);
    let out = finish_within(60, child);
    let err = records(&out)[0]["error"].as_str().unwrap().to_string();
    assert_eq!(err, "-: more than the input limit of 1000 bytes");
}

#[test]
fn jsonl_lines_are_bounded_and_an_endless_one_ends_one_record() {
    let text = std::fs::read_to_string(sample("CM16-0219557.txt")).unwrap();
    let good = serde_json::json!({"file": "good", "text": text}).to_string();
    let mut child = imr()
        .args(["predict", "--input-format", "jsonl", "--max-input-bytes"])
        .arg((good.len() + 10).to_string())
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || {
        // A 20 MB line, a good one, then 200 MB with no newline at all.
        let big = serde_json::json!({"file": "big", "text": "x".repeat(20 << 20)}).to_string();
        stdin.write_all(big.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        stdin.write_all(good.as_bytes()).unwrap();
        stdin.write_all(b"\n").unwrap();
        let block = vec![b'y'; 1 << 20];
        for _ in 0..200 {
            if stdin.write_all(&block).is_err() {
                break;
            }
        }
    });
    let out = finish_within(180, child);
    writer.join().unwrap();
    let recs = records(&out);
    assert_eq!(recs.len(), 3, "{}", stderr(&out));
    assert!(recs[0]["error"]
        .as_str()
        .unwrap()
        .contains("-:1: line over the input limit"));
    assert_eq!(recs[1]["file"], "good");
    assert!(recs[1]["error"].is_null());
    assert!(recs[2]["error"]
        .as_str()
        .unwrap()
        .contains("-:3: line over the input limit"));
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
}

/// Makes `dir/deep/d.../d.../...` deeper than PATH_MAX (4096 on Linux) with a letter at its
/// bottom, step by step from each folder's handle: no single path to it can be opened.
#[cfg(unix)]
fn too_deep(dir: &Path) {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let cstr = |s: &[u8]| CString::new(s).unwrap();
    let step = cstr(&[b'd'; 200]);
    let top = dir.join("deep");
    std::fs::create_dir(&top).unwrap();
    // SAFETY: plain syscalls on descriptors this function opens and closes.
    unsafe {
        let mut fd = libc::open(
            cstr(top.as_os_str().as_bytes()).as_ptr(),
            libc::O_DIRECTORY | libc::O_RDONLY,
        );
        assert!(fd >= 0);
        for _ in 0..30 {
            assert_eq!(libc::mkdirat(fd, step.as_ptr(), 0o755), 0);
            let next = libc::openat(fd, step.as_ptr(), libc::O_DIRECTORY | libc::O_RDONLY);
            assert!(next >= 0);
            libc::close(fd);
            fd = next;
        }
        let letter = std::fs::read(sample("CM16-0219557.txt")).unwrap();
        let file = libc::openat(
            fd,
            cstr(b"letter.txt").as_ptr(),
            libc::O_WRONLY | libc::O_CREAT,
            0o644,
        );
        assert!(file >= 0);
        assert_eq!(
            libc::write(file, letter.as_ptr().cast(), letter.len()),
            letter.len() as isize
        );
        libc::close(file);
        libc::close(fd);
    }
}

#[cfg(unix)]
#[test]
fn a_folder_that_cannot_be_listed_gets_an_error_record_and_the_rest_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let top = dir.path();
    std::fs::copy(sample("CM16-0219557.txt"), top.join("a.txt")).unwrap();
    too_deep(top);
    let locked = top.join("locked");
    std::fs::create_dir(&locked).unwrap();
    std::fs::copy(sample("CM16-0219557.txt"), locked.join("c.txt")).unwrap();
    std::fs::copy(sample("CM17-0013716.txt"), top.join("z.txt")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    // Root reads a folder whatever its mode: then `locked` is listed like any other.
    let root_reads = std::fs::read_dir(&locked).is_ok();
    for command in ["parse", "predict"] {
        let out = within(120, imr().arg(command).arg(top));
        let recs = records(&out);
        let failed: Vec<&str> = recs.iter().filter_map(|r| r["error"].as_str()).collect();
        let deep: Vec<&&str> = failed
            .iter()
            .filter(|e| e.contains("File name too long"))
            .collect();
        assert_eq!(deep.len(), 1, "{command}: {failed:?}");
        assert!(deep[0].contains("/deep/"), "{}", deep[0]);
        if !root_reads {
            assert!(
                failed
                    .iter()
                    .any(|e| e.contains("locked") && e.contains("denied")),
                "{failed:?}"
            );
        }
        let good = recs.iter().filter(|r| r["error"].is_null()).count();
        assert_eq!(good, if root_reads { 3 } else { 2 }, "{command}: {recs:?}");
        assert_eq!(out.status.code(), Some(1));
    }
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn csv_into_a_closed_pipe_is_not_an_error() {
    let mut child = imr()
        .args(["predict", "--format", "csv"])
        .arg(root().join("data/dwc-letters"))
        .arg(root().join("data/seeds"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // `head -400`: the pipe closes in the middle of a chunk's rows, inside the CSV writer.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    assert!(
        first.starts_with("file,case_number,date_assigned"),
        "{first}"
    );
    for _ in 1..400 {
        lines.next().unwrap().unwrap();
    }
    drop(lines);
    let out = finish_within(300, child);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stderr(&out).contains("Broken pipe"), "{}", stderr(&out));
}

#[test]
fn a_jsonl_co_process_answers_each_line_as_it_comes_and_keeps_its_fields() {
    co_process(&[]);
}

#[test]
fn a_co_process_that_flushes_each_record_answers_each_line() {
    co_process(&["--flush-each"]);
}

fn co_process(extra: &[&str]) {
    let text = std::fs::read_to_string(sample("CM16-0219557.txt")).unwrap();
    let mut child = imr()
        .args(["predict", "--input-format", "jsonl", "-"])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    for (i, claim) in ["A-1", "B-2"].iter().enumerate() {
        let line = serde_json::json!({
            "file": format!("letter-{i}"),
            "text": text,
            "meta": {"claim": claim},
            "batch": 7,
        });
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        // The answer comes while stdin stays open (a watchdog fails a stall).
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = std::thread::spawn(move || {
            let mut answer = String::new();
            stdout.read_line(&mut answer).unwrap();
            tx.send(()).unwrap();
            (stdout, answer)
        });
        assert!(
            rx.recv_timeout(Duration::from_secs(60)).is_ok(),
            "no answer to line {} within 60 s",
            i + 1
        );
        let (back, answer) = reader.join().unwrap();
        stdout = back;
        let r: serde_json::Value = serde_json::from_str(&answer).unwrap();
        assert_eq!(r["file"], format!("letter-{i}"));
        assert!(r["error"].is_null(), "{}", r["error"]);
        assert_eq!(r["meta"]["meta"]["claim"], *claim, "{}", r["meta"]);
        assert_eq!(r["meta"]["batch"], 7);
        assert!(r["meta"].get("text").is_none());
    }
    drop(stdin);
    let out = finish_within(60, child);
    assert!(out.status.success());
    assert!(
        stderr(&out).contains("imr predict: 2 letters, 0 failed"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn predict_ends_with_a_summary_naming_each_failure() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.txt");
    std::fs::write(&empty, b"").unwrap();
    let out_file = dir.path().join("out.jsonl");
    let out = within(
        120,
        imr()
            .arg("predict")
            .arg(sample("CM16-0219557.txt"))
            .arg(&empty)
            .arg(sample("CM17-0013716.txt"))
            .arg("-o")
            .arg(&out_file),
    );
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // Not a terminal: no progress bar, only the summary and the failure it names.
    let lines: Vec<&str> = err.lines().collect();
    assert_eq!(lines.len(), 2, "{err}");
    assert!(
        lines[0].starts_with("imr predict: 3 letters, 1 failed, "),
        "{err}"
    );
    assert!(lines[0].ends_with(" s"), "{err}");
    assert!(lines[1].contains("empty.txt: empty file"), "{err}");
}

#[test]
fn an_installed_binary_works_anywhere() {
    // The binary alone, in a folder far from the source tree, with no model named: it
    // predicts and trains with what it carries.
    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("imr");
    std::fs::copy(env!("CARGO_BIN_EXE_imr"), &bin).unwrap();
    let letters = dir.path().join("letters");
    std::fs::create_dir(&letters).unwrap();
    for stem in [
        "000_ec6b414565aecb80",
        "002_9da0cd1af723cf3b",
        "001_0506ad99e145f6a0",
    ] {
        for ext in ["txt", "ann"] {
            let name = format!("{stem}.{ext}");
            let from = root().join("data/seeds").join(&name);
            if from.exists() {
                std::fs::copy(from, letters.join(&name)).unwrap();
            }
        }
    }
    let run = |args: &[&str]| {
        let mut cmd = Command::new(&bin);
        cmd.current_dir(dir.path())
            .env_remove("IMR_MODEL")
            .args(args);
        within(300, &mut cmd)
    };
    let predicted = run(&["predict", "letters"]);
    assert!(predicted.status.success(), "{}", stderr(&predicted));
    let in_tree = within(
        300,
        imr()
            .current_dir(root())
            .env_remove("IMR_MODEL")
            .arg("predict")
            .arg(&letters),
    );
    let strip = |out: &Output| {
        records(out)
            .into_iter()
            .map(|mut r| {
                r.as_object_mut().unwrap().remove("file");
                r
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(
        strip(&predicted),
        strip(&in_tree),
        "the built-in model is models/default"
    );
    let trained = run(&[
        "train",
        "--data",
        "letters",
        "--out",
        "m",
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
    ]);
    assert!(trained.status.success(), "{}", stderr(&trained));
    assert!(dir.path().join("m/model.safetensors").is_file());
}

#[test]
fn every_option_of_every_command_is_described() {
    for command in ["parse", "train", "predict", "eval"] {
        let out = imr().args([command, "--help"]).output().unwrap();
        let help = String::from_utf8(out.stdout).unwrap();
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines.iter().enumerate() {
            let t = line.trim_start();
            let option = t.starts_with("--") || (t.starts_with('-') && t.get(2..4) == Some(", "));
            if !option || line.len() - t.len() > 6 {
                continue;
            }
            // clap's long help puts the description on the next line.
            let next = lines.get(i + 1).map_or("", |l| l.trim());
            assert!(!next.is_empty(), "imr {command}: {t} has no description");
        }
    }
    let eval = imr().args(["eval", "--help"]).output().unwrap();
    assert!(String::from_utf8_lossy(&eval.stdout).contains("$IMR_MODEL"));
}
