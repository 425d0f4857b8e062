//! The `.ann` loader on arbitrary content against a real letter: spans it accepts lie inside
//! the text, never overlap, and survive a write and a re-read.
#![no_main]

use std::path::Path;

use imr::annotation::{brat, validate_spans};
use libfuzzer_sys::fuzz_target;

const LETTER: &str = include_str!("../../data/samples/CM17-0013716.txt");

fuzz_target!(|data: &[u8]| {
    let Ok(content) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz.ann");
    if let Ok(spans) = brat::parse(path, content, LETTER) {
        assert!(validate_spans(&spans, LETTER.chars().count()).is_ok());
        let written = brat::write(&spans, LETTER);
        assert_eq!(brat::parse(path, &written, LETTER).unwrap(), spans);
    }
});
