use image::RgbImage;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// SHA-256 of the file bytes, lower-case hex: the content id of an image.
pub fn content_id(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Hamming distance at or below which two images count as near-duplicates.
///
/// Measured on LFW "five people" (1,140 photos, all centred portraits: the hardest case for
/// a global hash): the known near-identical frames `George_W_Bush_0130`/`_0206` and three
/// more pairs of consecutive frames (checked by eye) are 0–4 apart; the closest pairs of
/// different people appear at 6. Re-encoding or resizing a photo moves it 0–2 bits.
pub const NEAR_DUPLICATE_DISTANCE: u32 = 4;

/// A 64-bit perceptual hash (pHash): the signs of the 8×8 lowest-frequency DCT
/// coefficients of a 32×32 area-averaged grey image, relative to their median.
///
/// Area averaging makes the hash insensitive to the source resolution and JPEG
/// re-encoding; comparing against the median (not the mean) keeps a balanced bit count.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct PerceptualHash(#[serde(with = "hex_u64")] pub u64);

impl PerceptualHash {
    /// Number of differing bits, 0 (same picture) to 64.
    pub fn distance(self, other: PerceptualHash) -> u32 {
        (self.0 ^ other.0).count_ones()
    }

    pub fn is_near(self, other: PerceptualHash) -> bool {
        self.distance(other) <= NEAR_DUPLICATE_DISTANCE
    }
}

impl std::fmt::Display for PerceptualHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

mod hex_u64 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("{v:016x}"))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let s = String::deserialize(d)?;
        u64::from_str_radix(&s, 16).map_err(serde::de::Error::custom)
    }
}

const SIDE: usize = 32;
const KEEP: usize = 8;

/// Computes the perceptual hash of an image of any size.
pub fn perceptual_hash(image: &RgbImage) -> PerceptualHash {
    let grey = area_average_grey(image);
    let dct = dct_low(&grey);
    let mut sorted = dct;
    // The DC term only carries overall brightness; leave it out of the median.
    sorted[0] = f64::NAN;
    let mut values: Vec<f64> = sorted.iter().copied().filter(|v| !v.is_nan()).collect();
    values.sort_by(|a, b| a.total_cmp(b));
    let median = (values[values.len() / 2 - 1] + values[values.len() / 2]) / 2.0;
    let mut bits = 0u64;
    for (i, &v) in dct.iter().enumerate() {
        if v > median {
            bits |= 1 << i;
        }
    }
    PerceptualHash(bits)
}

fn area_average_grey(image: &RgbImage) -> [f64; SIDE * SIDE] {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let raw = image.as_raw();
    let bounds = |n: usize, i: usize| {
        let a = i * n / SIDE;
        let b = ((i + 1) * n / SIDE).max(a + 1).min(n);
        (a.min(n - 1), b)
    };
    let mut out = [0.0; SIDE * SIDE];
    for oy in 0..SIDE {
        let (y0, y1) = bounds(h, oy);
        for ox in 0..SIDE {
            let (x0, x1) = bounds(w, ox);
            let mut sum = 0u64;
            for y in y0..y1 {
                let row = &raw[(y * w + x0) * 3..(y * w + x1) * 3];
                for px in row.chunks_exact(3) {
                    sum += 299 * u64::from(px[0]) + 587 * u64::from(px[1]) + 114 * u64::from(px[2]);
                }
            }
            let n = ((y1 - y0) * (x1 - x0)) as f64;
            out[oy * SIDE + ox] = sum as f64 / (1000.0 * n);
        }
    }
    out
}

/// The KEEP×KEEP lowest frequencies of a 2-D DCT-II of a SIDE×SIDE block.
fn dct_low(block: &[f64; SIDE * SIDE]) -> [f64; KEEP * KEEP] {
    let mut basis = [[0.0; SIDE]; KEEP];
    for (u, row) in basis.iter_mut().enumerate() {
        for (x, b) in row.iter_mut().enumerate() {
            *b = (std::f64::consts::PI * (2 * x + 1) as f64 * u as f64 / (2 * SIDE) as f64).cos();
        }
    }
    // Rows first, then columns: 2·K·S² multiplications instead of K²·S².
    let mut rows = [[0.0; KEEP]; SIDE];
    for y in 0..SIDE {
        for u in 0..KEEP {
            rows[y][u] = (0..SIDE).map(|x| block[y * SIDE + x] * basis[u][x]).sum();
        }
    }
    let mut out = [0.0; KEEP * KEEP];
    for v in 0..KEEP {
        for u in 0..KEEP {
            out[v * KEEP + u] = (0..SIDE).map(|y| rows[y][u] * basis[v][y]).sum();
        }
    }
    out
}
