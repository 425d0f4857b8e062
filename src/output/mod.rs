//! After the jobs: what users get. One-line JSON records, CSV rows, resume files, and the
//! accuracy reports (text, Markdown, HTML).

pub mod record;
pub mod report;
