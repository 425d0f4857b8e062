//! `imr` reads California workers' compensation Independent Medical Review (IMR) determination
//! letters, tags the entities in them and predicts each disputed item's decision.
//!
//! Data flows one way, and each module imports only the stages before it (checked by
//! `tests/layout.rs`): [`letter`] -> [`annotation`] -> [`tokenize`] -> [`encode`] ->
//! [`model`] -> [`decode`] -> [`artifacts`] -> [`predict`] -> [`normalize`] -> [`eval`] -> [`train`] ->
//! [`cv`] -> [`output`] -> [`cli`], with [`error`] and the word tables ([`words`]) beneath
//! them all.

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
pub mod normalize;
pub mod output;
pub mod predict;
pub mod tokenize;
pub mod train;
pub mod words;

pub use error::{Error, Result};
pub use letter::{Decision, DisputedItem, Letter, Span};
