//! The letter reader on arbitrary bytes as a `.txt`: decode, then parse. It must return a
//! letter or an error, and a letter's spans must lie inside its text, in order.
#![no_main]

use std::path::Path;

use imr::letter::{self, PdfReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.txt");
    let Ok((text, kind)) = letter::source::decode_letter_bytes(path, data, &PdfReader::InProcess)
    else {
        return;
    };
    if let Ok(l) = letter::parse_letter(path, text, kind) {
        let n = l.char_len();
        let mut previous_end = 0;
        for item in &l.items {
            assert!(item.statement.start >= previous_end);
            assert!(item.statement.end <= item.rationale.start);
            assert!(item.rationale.end <= n);
            assert!(item.statement.contains(&item.request.span));
            previous_end = item.rationale.end;
        }
    }
});
