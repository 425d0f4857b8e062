//! `imr` reads California workers' compensation Independent Medical Review (IMR) determination
//! letters, tags the entities in them and predicts each disputed item's decision.
//!
//! Data flows one way: letter text -> sections & items ([`letter`]) -> tokens -> model ->
//! entities & decisions -> report/output.

// In the order the data flows: each module imports only those above it (`tests/layout.rs`).
pub mod annotation;
pub mod artifacts;
pub mod cli;
pub mod cv;
pub mod decode;
pub mod encode;
pub mod error;
pub mod eval;
pub mod letter;
pub mod model;
pub mod output;
pub mod predict;
pub mod tokenize;
pub mod train;

pub use error::{Error, Result};
pub use letter::{Decision, DisputedItem, Letter, Span};
