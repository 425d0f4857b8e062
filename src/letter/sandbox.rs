//! PDF text extraction in a child process with bounded memory and time.
//!
//! A PDF is untrusted: a decompression bomb can ask for gigabytes, a deeply nested object can
//! overflow the extractor's stack (which aborts the process: `catch_unwind` cannot help), and
//! a crafted file can make it loop. In a child process each of these ends that one input with
//! an error record; the batch goes on.
//!
//! The child is any program that reads PDF bytes on stdin and writes the text on stdout: the
//! `imr` binary runs itself with its hidden `pdf-text` subcommand ([`child_main`]).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::error::{Error, Result};

/// Exit code of the child when the PDF has no text layer.
pub const EXIT_NO_TEXT: i32 = 3;
/// Exit code of the child when the PDF cannot be read (the reason is on stderr).
pub const EXIT_BAD_PDF: i32 = 4;

/// Default wall-clock limit for one PDF (the 130 DWC letters take ~5 ms each).
pub const DEFAULT_PDF_TIMEOUT: Duration = Duration::from_secs(30);
/// Default address-space limit of the child, in bytes.
pub const DEFAULT_PDF_MEMORY: u64 = 1024 * 1024 * 1024;

/// How PDFs are turned into text.
#[derive(Debug, Clone, Default)]
pub enum PdfReader {
    /// In this process, behind `catch_unwind`: fastest, but memory and time are not bounded
    /// and a stack overflow in the extractor ends the process.
    #[default]
    InProcess,
    /// In a child process with bounded memory and time.
    Isolated(PdfSandbox),
}

#[derive(Debug, Clone)]
pub struct PdfSandbox {
    /// The program and its arguments: reads a PDF on stdin, writes its text on stdout.
    pub program: PathBuf,
    pub args: Vec<String>,
    /// Wall-clock limit; the child is killed past it.
    pub timeout: Duration,
    /// Address-space limit of the child (`RLIMIT_AS`), in bytes.
    pub max_memory: u64,
    /// Longest text accepted back, in bytes.
    pub max_text_bytes: u64,
}

impl PdfSandbox {
    /// The running `imr` binary as its own sandbox (`imr pdf-text`).
    pub fn current_exe(timeout: Duration, max_memory: u64, max_text_bytes: u64) -> Result<Self> {
        let program = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
        Ok(PdfSandbox {
            program,
            args: vec![
                "pdf-text".into(),
                "--max-text-bytes".into(),
                max_text_bytes.to_string(),
            ],
            timeout,
            max_memory,
            max_text_bytes,
        })
    }

    /// Extracts the text of the PDF `bytes` (read from `path`) in a child process.
    pub fn extract(&self, path: &Path, bytes: &[u8]) -> Result<String> {
        let pdf_error = |message: String| Error::Pdf {
            path: path.into(),
            message,
        };
        let mut command = Command::new(&self.program);
        command
            .args(&self.args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        confine(&mut command, self.max_memory);
        let mut child = command
            .spawn()
            .map_err(|e| pdf_error(format!("cannot start the PDF reader: {e}")))?;
        let pid = child.id();
        let started = std::time::Instant::now();
        let mut stdin = child.stdin.take().expect("piped");
        let mut stdout = child.stdout.take().expect("piped");
        let mut stderr = child.stderr.take().expect("piped");
        let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
        let timeout = self.timeout;
        let (text, message, timed_out) = std::thread::scope(|s| {
            // The child may die before it has read everything: a broken pipe is fine.
            s.spawn(move || {
                let _ = stdin.write_all(bytes);
            });
            let err = s.spawn(move || {
                let mut buf = Vec::new();
                let _ = (&mut stderr).take(64 * 1024).read_to_end(&mut buf);
                String::from_utf8_lossy(&buf).trim().to_string()
            });
            // The watchdog kills the child at the deadline. The child is reaped only after the
            // watchdog has finished, so its pid cannot have been reused when it is killed.
            let watchdog = s.spawn(move || {
                if done_rx.recv_timeout(timeout) == Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                {
                    kill(pid);
                    return true;
                }
                false
            });
            let mut text = Vec::new();
            let read = (&mut stdout)
                .take(self.max_text_bytes.saturating_add(1))
                .read_to_end(&mut text);
            if read.is_ok() && text.len() as u64 > self.max_text_bytes {
                kill(pid);
            }
            drop(stdout);
            let message = err.join().unwrap_or_default();
            let _ = done_tx.send(());
            let timed_out = watchdog.join().unwrap_or(false);
            (text, message, timed_out)
        });
        let status = child
            .wait()
            .map_err(|e| pdf_error(format!("PDF reader: {e}")))?;
        // The watchdog may lose the race with a child that ends right at the deadline (or,
        // with a limit of 0, before the watchdog ran): the limit is the time taken.
        if timed_out || started.elapsed() >= self.timeout {
            return Err(pdf_error(format!(
                "gave up after {} s (time limit for one PDF)",
                self.timeout.as_secs_f64()
            )));
        }
        if text.len() as u64 > self.max_text_bytes {
            return Err(pdf_error(format!(
                "its text is over the limit of {} bytes",
                self.max_text_bytes
            )));
        }
        match status.code() {
            Some(0) => String::from_utf8(text).map_err(|_| pdf_error("text is not UTF-8".into())),
            Some(EXIT_NO_TEXT) => Err(Error::PdfNoText { path: path.into() }),
            Some(EXIT_BAD_PDF) => Err(pdf_error(message)),
            _ if message.contains("memory allocation") => Err(pdf_error(format!(
                "needs more than the memory limit of {} MB",
                self.max_memory / (1024 * 1024)
            ))),
            _ => Err(pdf_error(format!(
                "the PDF reader crashed ({}){}",
                describe(&status),
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {}", last_line(&message))
                }
            ))),
        }
    }
}

fn last_line(s: &str) -> &str {
    s.lines().last().unwrap_or(s)
}

#[cfg(unix)]
fn describe(status: &std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(9)) => "killed".into(),
        (None, Some(6)) => "aborted".into(),
        (None, Some(11)) => "segmentation fault".into(),
        (None, Some(s)) => format!("signal {s}"),
        (None, None) => "unknown status".into(),
    }
}

#[cfg(not(unix))]
fn describe(status: &std::process::ExitStatus) -> String {
    format!("{status}")
}

/// Limits the child's address space, and (on Linux) has the kernel kill it when this process
/// dies: a killed `imr predict` must not leave a PDF reader running past its time limit.
#[cfg(unix)]
fn confine(command: &mut Command, bytes: u64) {
    use std::os::unix::process::CommandExt;
    #[cfg(target_os = "linux")]
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: setrlimit, prctl and getppid are async-signal-safe and touch only the child
    // after fork.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes as libc::rlim_t,
                rlim_max: bytes as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &limit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // The parent may have died between fork and prctl: then nobody would kill us.
                if libc::getppid() != parent {
                    return Err(std::io::Error::other("the parent process is gone"));
                }
            }
            Ok(())
        });
    }
}

#[cfg(not(unix))]
fn confine(_: &mut Command, _: u64) {}

#[cfg(unix)]
fn kill(pid: u32) {
    // SAFETY: plain syscall; the pid is our unreaped child (see the watchdog).
    unsafe {
        libc::kill(pid as libc::pid_t, libc::SIGKILL);
    }
}

#[cfg(not(unix))]
fn kill(_: u32) {}

/// The child's side: PDF bytes on stdin, text on stdout. Returns the exit code.
pub fn child_main(max_text_bytes: u64) -> i32 {
    let mut bytes = Vec::new();
    if let Err(e) = std::io::stdin().lock().read_to_end(&mut bytes) {
        eprintln!("reading stdin: {e}");
        return EXIT_BAD_PDF;
    }
    match super::source::extract_pdf(&bytes) {
        Ok(text) if text.len() as u64 > max_text_bytes => {
            eprintln!("its text is over the limit of {max_text_bytes} bytes");
            EXIT_BAD_PDF
        }
        Ok(text) => match std::io::stdout().lock().write_all(text.as_bytes()) {
            Ok(()) => 0,
            Err(_) => EXIT_BAD_PDF,
        },
        Err(None) => EXIT_NO_TEXT,
        Err(Some(message)) => {
            eprintln!("{message}");
            EXIT_BAD_PDF
        }
    }
}
