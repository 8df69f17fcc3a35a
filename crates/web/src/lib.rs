#![doc = include_str!("../README.md")]

mod bindings;
mod model;

pub use model::{WebError, WebModel};
