use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::affine::Affine;
use crate::params::{AugmentParams, FillMode};

/// The concrete random parameters of one augmentation. With the source and the chip
/// transform it fixes the output bytes, so its [`key`](Draw::key) can name the output in a
/// cache.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Draw {
    /// Rotation in degrees (Keras `theta`).
    pub rotation: f32,
    /// Horizontal shift, fraction of the width (Keras `ty`, in pixels there).
    pub width_shift: f32,
    /// Vertical shift, fraction of the height (Keras `tx`).
    pub height_shift: f32,
    /// Shear in degrees (Keras `shear`).
    pub shear: f32,
    /// Horizontal zoom factor (Keras `zy`, which scales columns).
    pub zoom_x: f32,
    /// Vertical zoom factor (Keras `zx`, which scales rows).
    pub zoom_y: f32,
    pub flip_horizontal: bool,
    pub flip_vertical: bool,
    /// Hue rotation in degrees.
    pub hue: f32,
    /// Brightness factor.
    pub brightness: f32,
    pub fill_mode: FillMode,
    pub cval: u8,
}

impl Draw {
    /// The draw that changes nothing.
    pub const IDENTITY: Draw = Draw {
        rotation: 0.0,
        width_shift: 0.0,
        height_shift: 0.0,
        shear: 0.0,
        zoom_x: 1.0,
        zoom_y: 1.0,
        flip_horizontal: false,
        flip_vertical: false,
        hue: 0.0,
        brightness: 1.0,
        fill_mode: FillMode::Nearest,
        cval: 0,
    };

    /// A stable text key of every field, exact (shortest round-trip decimals), e.g.
    /// `aug1 r-3.25 w0.01 h0 s1.5 zx1 zy0.95 f10 hue2 b1.1 nearest`.
    pub fn key(&self) -> String {
        let fill = match self.fill_mode {
            FillMode::Constant => format!("constant{}", self.cval),
            m => m.name().to_string(),
        };
        format!(
            "aug1 r{} w{} h{} s{} zx{} zy{} f{}{} hue{} b{} {fill}",
            self.rotation,
            self.width_shift,
            self.height_shift,
            self.shear,
            self.zoom_x,
            self.zoom_y,
            u8::from(self.flip_horizontal),
            u8::from(self.flip_vertical),
            self.hue,
            self.brightness,
        )
    }

    /// True when the geometry leaves every pixel where it is.
    pub fn is_geometric_identity(&self) -> bool {
        self.rotation == 0.0
            && self.width_shift == 0.0
            && self.height_shift == 0.0
            && self.shear == 0.0
            && self.zoom_x == 1.0
            && self.zoom_y == 1.0
            && !self.flip_horizontal
            && !self.flip_vertical
    }

    /// The map from output pixel to input pixel of a `size`×`size` chip, composed as Keras'
    /// `apply_affine_transform` (rotation · shift · shear · zoom about the centre
    /// `size/2 − 0.5`) followed by its flips. Pixel centres are at integer coordinates.
    pub fn chip_map(&self, size: u32) -> Affine {
        let n = f64::from(size);
        let o = n / 2.0 - 0.5;
        let (s, c) = f64::from(self.rotation).to_radians().sin_cos();
        // Keras works in (row, col); these are its matrices rewritten in (x = col, y = row).
        let rotation = Affine([c, s, 0.0, -s, c, 0.0]);
        let shift = Affine::translate(
            f64::from(self.width_shift) * n,
            f64::from(self.height_shift) * n,
        );
        let (ss, sc) = f64::from(self.shear).to_radians().sin_cos();
        let shear = Affine([sc, 0.0, 0.0, -ss, 1.0, 0.0]);
        let zoom = Affine([
            f64::from(self.zoom_x),
            0.0,
            0.0,
            0.0,
            f64::from(self.zoom_y),
            0.0,
        ]);
        let m = rotation.after(&shift).after(&shear).after(&zoom);
        let centred = Affine::translate(o, o)
            .after(&m)
            .after(&Affine::translate(-o, -o));
        // Keras flips the warped array, i.e. output (x, y) reads warped (n−1−x, y).
        let flip = Affine([
            if self.flip_horizontal { -1.0 } else { 1.0 },
            0.0,
            if self.flip_horizontal { n - 1.0 } else { 0.0 },
            0.0,
            if self.flip_vertical { -1.0 } else { 1.0 },
            if self.flip_vertical { n - 1.0 } else { 0.0 },
        ]);
        centred.after(&flip)
    }
}

/// Draws augmentation `k` of item `item_id`. The values depend only on
/// (`params`, `seed`, `item_id`, `k`) — never on threads, order or platform — and are
/// drawn in a fixed order whatever the ranges, so zeroing one range leaves the others.
pub fn sample(params: &AugmentParams, seed: u64, item_id: &str, k: u32) -> Draw {
    let mut h = Sha256::new();
    h.update(b"kao-augment/v1\0");
    h.update(seed.to_le_bytes());
    h.update((item_id.len() as u64).to_le_bytes());
    h.update(item_id.as_bytes());
    h.update(k.to_le_bytes());
    let digest = h.finalize();
    let mut state = [0u8; 8];
    state.copy_from_slice(&digest[..8]);
    let mut rng = SplitMix64(u64::from_le_bytes(state));

    let sym = |rng: &mut SplitMix64, r: f32| {
        let u = rng.unit();
        if r == 0.0 {
            0.0
        } else {
            (f64::from(-r) + 2.0 * f64::from(r) * u) as f32
        }
    };
    let between = |rng: &mut SplitMix64, (lo, hi): (f32, f32)| {
        let u = rng.unit();
        if lo == hi {
            lo
        } else {
            (f64::from(lo) + (f64::from(hi) - f64::from(lo)) * u) as f32
        }
    };
    let coin = |rng: &mut SplitMix64, on: bool| {
        let u = rng.unit();
        on && u < 0.5
    };
    // Keras' order: theta, tx, ty, shear, zx, zy, flips, then colour.
    let rotation = sym(&mut rng, params.rotation_range);
    let height_shift = sym(&mut rng, params.height_shift_range);
    let width_shift = sym(&mut rng, params.width_shift_range);
    let shear = sym(&mut rng, params.shear_range);
    let zoom_y = between(&mut rng, params.zoom_range);
    let zoom_x = between(&mut rng, params.zoom_range);
    let flip_horizontal = coin(&mut rng, params.horizontal_flip);
    let flip_vertical = coin(&mut rng, params.vertical_flip);
    let hue = sym(&mut rng, params.hue_range);
    let brightness = between(&mut rng, params.brightness_range);
    Draw {
        rotation,
        width_shift,
        height_shift,
        shear,
        zoom_x,
        zoom_y,
        flip_horizontal,
        flip_vertical,
        hue,
        brightness,
        fill_mode: params.fill_mode,
        cval: params.cval,
    }
}

/// SplitMix64 (Steele, Lea, Flood 2014): tiny, fast, and fixed forever, unlike a library
/// PRNG whose algorithm may change between versions.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1) with 53 random bits.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }
}
