//! The `imr` command-line program. All the work is in the library and `imr::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    imr::cli::run()
}
