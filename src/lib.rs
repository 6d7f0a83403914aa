//! aitrapp: an intraday trading system for NSE cash and F&O through Zerodha Kite Connect,
//! built as an LMAX-style pipeline: feed -> strategy -> risk -> order, joined by rings.

pub mod app;
pub mod clock;
pub mod config;
pub mod control;
pub mod domain;
pub mod exec;
pub mod feed;
pub mod journal;
pub mod pipeline;
pub mod risk;
pub mod strategy;
pub mod telemetry;
pub mod universe;
