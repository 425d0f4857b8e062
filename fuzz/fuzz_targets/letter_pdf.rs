//! The PDF reader in-process on arbitrary bytes. Panics inside the extractor are caught and
//! become errors; what the fuzzer can find here is an abort, a stack overflow, a hang or a
//! runaway allocation: the reasons `imr` reads PDFs in a bounded child process.
#![no_main]

use std::path::Path;

use imr::letter::{self, PdfReader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("fuzz.pdf");
    if let Ok((text, kind)) = letter::source::decode_letter_bytes(path, data, &PdfReader::InProcess)
    {
        let _ = letter::parse_letter(path, text, kind);
    }
});
