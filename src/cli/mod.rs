//! The aitrapp binary's subcommands: the library does the work; these parse, print and set
//! exit codes. (A module of the binary, not of the library.)

mod args;
pub mod inspect;
pub mod kite;
pub use args::*;
