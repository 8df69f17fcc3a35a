#![doc = include_str!("../README.md")]

mod artifacts;
mod browser;
mod error;
mod server;

pub use artifacts::{build_static_kao, build_web_runtime, export_target_dir, workspace_root};
pub use browser::{Chromium, ChromiumOptions, CHROMEDRIVER, CHROMIUM};
pub use error::{HarnessError, Result};
pub use server::StaticServer;
