use serde::{Deserialize, Serialize};

/// Hard limits checked on the file size and on the header's dimensions, before any
/// pixel buffer is allocated, so a hostile header cannot make the decoder reserve gigabytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Limits {
    /// Largest accepted file, in bytes (default 20 MB).
    pub max_bytes: u64,
    /// Largest accepted width or height, in pixels (default 10,240, as Azure Custom Vision).
    pub max_side: u32,
    /// Largest accepted width × height (default 40 Mpx).
    pub max_pixels: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 20_000_000,
            max_side: 10_240,
            max_pixels: 40_000_000,
        }
    }
}

impl Limits {
    /// No limits at all; only for trusted input.
    pub fn unlimited() -> Self {
        Limits {
            max_bytes: u64::MAX,
            max_side: u32::MAX,
            max_pixels: u64::MAX,
        }
    }
}
