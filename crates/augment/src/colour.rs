use kao_image::RgbImage;

/// Rotates hue by `hue` degrees in HSV (saturation and value kept), then multiplies by
/// `brightness` (as Keras' PIL `ImageEnhance.Brightness`), clipping to 0–255.
/// `hue == 0` and `brightness == 1` leave the bytes untouched.
pub fn jitter(image: &mut RgbImage, hue: f32, brightness: f32) {
    let turn = (hue / 60.0).rem_euclid(6.0);
    let rotate = turn != 0.0;
    let scale = brightness != 1.0;
    if !rotate && !scale {
        return;
    }
    // Blocks of planar f32 lanes, so the branch-free per-pixel code below vectorises.
    const LANES: usize = 64;
    for block in image.chunks_mut(3 * LANES) {
        let mut c = [[0.0f32; LANES]; 3];
        for (i, px) in block.chunks_exact(3).enumerate() {
            for ch in 0..3 {
                c[ch][i] = f32::from(px[ch]);
            }
        }
        if rotate {
            let [cr, cg, cb] = &mut c;
            for ((r, g), b) in cr.iter_mut().zip(cg.iter_mut()).zip(cb.iter_mut()) {
                [*r, *g, *b] = rotate_hue([*r, *g, *b], turn);
            }
        }
        for (i, px) in block.chunks_exact_mut(3).enumerate() {
            for ch in 0..3 {
                let v = if scale {
                    c[ch][i] * brightness
                } else {
                    c[ch][i]
                };
                // Values are ≥ 0, so +0.5 and truncation round (halves up) like
                // `f32::round`, a libm call on baseline x86-64; `as` clips at 255.
                px[ch] = (v + 0.5) as u8;
            }
        }
    }
}

/// Hue rotation by `turn` sextants (60° each, `0 ≤ turn < 6`). Max and min of RGB are V
/// and V − chroma, which a hue rotation keeps; only the position on the hexagon moves.
/// Written with selects, not branches: which channel is largest is random per pixel, and
/// mispredicted branches cost more than the arithmetic.
#[inline]
fn rotate_hue([r, g, b]: [f32; 3], turn: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    // A grey (chroma 0) takes any hue and comes back unchanged below.
    let inv = 1.0 / chroma.max(1.0);
    // Hue in sextants, in [−1, 6).
    let from_g = (b - r) * inv + 2.0;
    let from_b = (r - g) * inv + 4.0;
    let rest = if max == g { from_g } else { from_b };
    let h = if max == r { (g - b) * inv } else { rest };
    let h = h + turn;
    let h = if h < 0.0 { h + 6.0 } else { h };
    let h = if h >= 6.0 { h - 6.0 } else { h };
    // HSV → RGB: channel n is V − C·clamp(min(k, 4 − k), 0, 1), k = (n + h) mod 6.
    let channel = |n: f32| {
        let k = n + h;
        let k = if k >= 6.0 { k - 6.0 } else { k };
        max - chroma * k.min(4.0 - k).clamp(0.0, 1.0)
    };
    [channel(5.0), channel(3.0), channel(1.0)]
}
