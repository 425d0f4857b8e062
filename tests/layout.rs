//! The modules read in the order the data flows, and each imports only those before it:
//! letter -> annotation -> tokenize -> encode -> model -> decode -> artifacts -> predict ->
//! normalize -> eval -> train -> cv -> output -> cli. This reads every `crate::` path in `src/` (imports and
//! inline paths, tests included) and fails on a path from a module to one after it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The stages, in order; `error` and the word tables are beneath them all.
const ORDER: [&str; 16] = [
    "error",
    "words",
    "letter",
    "annotation",
    "tokenize",
    "encode",
    "model",
    "decode",
    "artifacts",
    "predict",
    "normalize",
    "eval",
    "train",
    "cv",
    "output",
    "cli",
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "rs") {
            out.push(p);
        }
    }
}

/// The top-level module a file of `src/` belongs to (`None` for `lib.rs` and `main.rs`).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).unwrap();
    let first = rel.components().next()?.as_os_str().to_string_lossy();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "lib" && name != "main").then_some(name)
}

/// The top-level modules a file names through `crate::`: `use crate::a::b`, `use crate::{a,
/// b::c}` and inline `crate::a::f()`.
fn referenced(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let mut rest = code.as_str();
    while let Some(i) = rest.find("crate::") {
        rest = &rest[i + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a, b::c}`: every first segment in the group.
            let end = group.find('}').unwrap_or(group.len());
            for part in group[..end].split(',') {
                let name: String = part
                    .trim()
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                if !name.is_empty() {
                    found.insert(name);
                }
            }
        } else {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if !name.is_empty() {
                found.insert(name);
            }
        }
    }
    found
}

#[test]
fn no_module_imports_a_later_stage() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let rank = |m: &str| ORDER.iter().position(|o| *o == m);
    let mut back_edges = Vec::new();
    let mut seen_modules = BTreeSet::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let here = rank(&module)
            .unwrap_or_else(|| panic!("{}: module {module} is not in ORDER", file.display()));
        seen_modules.insert(module.clone());
        let text = std::fs::read_to_string(file).unwrap();
        for target in referenced(&text) {
            // Names re-exported at the root (`crate::Error`, `crate::Letter`) are the
            // earliest stages' own.
            let Some(there) = rank(&target) else {
                continue;
            };
            if there > here {
                back_edges.push(format!(
                    "{} ({module}) uses {target}",
                    file.strip_prefix(&src).unwrap().display()
                ));
            }
        }
    }
    assert!(
        back_edges.is_empty(),
        "imports from a later stage:\n  {}",
        back_edges.join("\n  ")
    );
    // Every stage exists: a renamed module must be renamed here too.
    let missing: Vec<&&str> = ORDER
        .iter()
        .filter(|o| !seen_modules.contains(**o))
        .collect();
    assert!(missing.is_empty(), "no such modules: {missing:?}");
}

#[test]
fn the_reader_sees_the_paths_it_must() {
    let text = "use crate::{annotation::Label, encode::lexicon};\nfn f() { crate::cv::run(); }\n// crate::cli in a comment\n";
    let got: Vec<String> = referenced(text).into_iter().collect();
    assert_eq!(got, ["annotation", "cv", "encode"]);
}
