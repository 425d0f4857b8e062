//! After the jobs: what users get. One-line JSON records, CSV rows, resume files, the
//! accuracy reports (text, Markdown, HTML) and the summary of a batch.

pub mod annotations;
pub mod csv;
pub mod letter_view;
pub mod record;
pub mod records_file;
pub mod report;
pub mod summary;
pub mod text;
