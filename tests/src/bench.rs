//! What the benchmark programs (`ingest-bench`, `desk-bench`, `outbox-bench`) share:
//! choosing and pinning cores (`machine`), finding release binaries and running the
//! measured processes (`proc`), reading `/proc` (`procfs`), and the figures' histograms and
//! CPU shares (`figures`). The programs keep only what they measure and how they print it.
//! Nothing here is used by the end-to-end tests.

pub mod figures;
pub mod machine;
pub mod proc;
pub mod procfs;
