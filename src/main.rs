//! The `imr` command-line program. All the work is in the library and `imr::cli`.

use std::process::ExitCode;

fn main() -> ExitCode {
    few_malloc_arenas();
    imr::cli::run()
}

/// glibc gives each thread that allocates its own heap ("arena", up to 8 a core), and freed
/// memory stays with the arena that had it: with the reader, the normaliser's and rayon's
/// threads, `predict` held 10-20 MB more than it used. Two arenas serve two cores.
fn few_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets an allocator parameter; it is called before any thread starts.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}
