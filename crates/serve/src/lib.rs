#![doc = include_str!("../README.md")]

mod auth;
mod config;
mod crawls;
mod error;
mod fetch;
mod metrics;
mod model;
mod page;
mod predict;
mod response;
mod server;
mod state;
mod training;

pub use auth::{KeyOrigin, TRAINING_KEY_FILE};
pub use config::{ServeConfig, DEFAULT_MAX_BODY};
pub use error::ServeError;
pub use server::{shutdown_signal, Server};
