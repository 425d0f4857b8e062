//! `imr` reads California workers' compensation Independent Medical Review (IMR) determination
//! letters, tags the entities in them and predicts each disputed item's decision.
//!
//! Data flows one way: letter text -> sections & items ([`letter`]) -> tokens -> model ->
//! entities & decisions -> report/output.

pub mod annotation;
pub mod cli;
pub mod corpus;
pub mod error;
pub mod letter;
pub mod record;

pub use error::{Error, Result};
pub use letter::{Decision, DisputedItem, Letter, Span};
