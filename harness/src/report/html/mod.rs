//! The HTML pages, rendered with maud (compile-time checked templates that escape every
//! interpolated value): an index of runs, and a page per suite and variant with the verdict, the
//! anomalies with their operations, the fault schedule, a timeline and latency charts as inline
//! SVG. Pages are self-contained: no script, font or style from the network.

mod chart;
mod index;
mod latency;
mod layout;
mod run_page;
mod timeline;

pub(crate) use index::index_page;
pub(crate) use run_page::run_page;
