//! The word tables every stage reads (function words, severity words, units, anatomy, drug
//! classes, ...), kept as data in one file, `tables.txt`, built into the binary: a table is
//! edited there, not in the code, and a test checks every table the code names is there.

use std::collections::HashMap;
use std::sync::LazyLock;

/// The tables of `tables.txt` by name, each in its order.
static TABLES: LazyLock<HashMap<&'static str, Vec<&'static str>>> =
    LazyLock::new(|| parse(include_str!("tables.txt")));

fn parse(text: &'static str) -> HashMap<&'static str, Vec<&'static str>> {
    let mut tables: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
    let mut current: Option<&'static str> = None;
    for line in text.lines() {
        if line.is_empty() || line.starts_with("# ") || line == "#" {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            current = Some(name);
            tables.entry(name).or_default();
        } else if let Some(name) = current {
            tables.entry(name).or_default().push(line);
        }
    }
    tables
}

/// A table of `tables.txt`, named; reads as the slice of its entries.
#[derive(Debug, Clone, Copy)]
pub struct Words(pub &'static str);

impl std::ops::Deref for Words {
    type Target = [&'static str];

    fn deref(&self) -> &[&'static str] {
        // Every name the code uses is checked by `every_table_the_code_names_is_there`.
        TABLES.get(self.0).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_the_code_names_is_there() {
        // The names given to `Words(..)` anywhere in src/.
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut stack = vec![src];
        let mut named = Vec::new();
        while let Some(dir) = stack.pop() {
            for e in std::fs::read_dir(dir).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else if p.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&p).unwrap();
                    for part in text.split("Words(\"").skip(1) {
                        named.push(part.split('"').next().unwrap().to_string());
                    }
                }
            }
        }
        assert!(named.len() >= 20, "{named:?}");
        for name in &named {
            let table = TABLES.get(name.as_str());
            assert!(
                table.is_some_and(|t| !t.is_empty()),
                "{name} is not a table of tables.txt"
            );
        }
    }

    #[test]
    fn sections_comments_and_order() {
        let t = parse("# a comment\n[A]\n# said of A\nx\n,\n\n[B]\ny\n");
        assert_eq!(t["A"], ["x", ","]);
        assert_eq!(t["B"], ["y"]);
    }
}
