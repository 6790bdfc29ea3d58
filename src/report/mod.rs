//! Reporting: aggregation of stored results (statistics), and exporters that only format.

pub mod csv;
pub mod stats;
pub mod summary;
