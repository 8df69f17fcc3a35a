#![allow(dead_code, unused_imports)] // each test binary uses a different part

pub mod data;
pub mod server;
