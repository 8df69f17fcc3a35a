//! Descriptor sets: what the heads are trained and measured on.

use kao_infer::head::{l2_normalise, Matrix};

/// Raw descriptors with their tag index.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Samples {
    pub x: Vec<Vec<f32>>,
    pub y: Vec<usize>,
}

impl Samples {
    pub fn len(&self) -> usize {
        self.y.len()
    }

    pub fn is_empty(&self) -> bool {
        self.y.is_empty()
    }

    pub fn push(&mut self, x: Vec<f32>, y: usize) {
        self.x.push(x);
        self.y.push(y);
    }

    pub fn extend(&mut self, other: &Samples) {
        self.x.extend(other.x.iter().cloned());
        self.y.extend(&other.y);
    }

    /// L2-normalised rows as one `[n, d]` matrix (what every head takes).
    pub fn normalised(&self) -> Matrix {
        let d = self.x.first().map_or(0, |v| v.len());
        let data = self.x.iter().flat_map(|v| l2_normalise(v)).collect();
        Matrix::new(self.len(), d, data)
    }

    /// Raw rows as one matrix.
    pub fn raw(&self) -> Matrix {
        let d = self.x.first().map_or(0, |v| v.len());
        Matrix::new(self.len(), d, self.x.concat())
    }

    /// Faces per tag.
    pub fn counts(&self, classes: usize) -> Vec<usize> {
        let mut c = vec![0; classes];
        for &y in &self.y {
            c[y] += 1;
        }
        c
    }
}

/// SplitMix64: a tiny seeded generator, so that initial weights and batch order depend on
/// the seed alone (candle's own random tensors do not take a seed on the CPU).
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }

    pub fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            let j = (self.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}
