//! After the jobs: what users get. One-line JSON records, CSV rows, resume files, and the
//! accuracy reports (text, Markdown, HTML).

pub mod csv;
pub mod record;
pub mod records_file;
pub mod report;
pub mod text;
