//! `imr` reads California workers' compensation Independent Medical Review (IMR) determination
//! letters, tags the entities in them and predicts each disputed item's decision.
//!
//! Data flows one way: letter text -> sections & items ([`letter`]) -> tokens -> model ->
//! entities & decisions -> report/output.

pub mod annotation;
pub mod artifacts;
pub mod cli;
pub mod corpus;
pub mod encode;
pub mod error;
pub mod eval;
pub mod features;
pub mod letter;
pub mod lexicon;
pub mod memory;
pub mod model;
pub mod predict;
pub mod record;
pub mod rules;
pub mod tokenize;
pub mod train;

pub use error::{Error, Result};
pub use letter::{Decision, DisputedItem, Letter, Span};
