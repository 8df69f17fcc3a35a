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
    for px in image.pixels_mut() {
        let mut rgb = [f32::from(px[0]), f32::from(px[1]), f32::from(px[2])];
        if rotate {
            rgb = rotate_hue(rgb, turn);
        }
        for (out, v) in px.0.iter_mut().zip(rgb) {
            let v = if scale { v * brightness } else { v };
            // Values are ≥ 0, so +0.5 and truncation round (halves up) like `f32::round`,
            // which is a libm call on baseline x86-64; `as` clips at 255.
            *out = (v + 0.5) as u8;
        }
    }
}

static RECIPROCAL: [f32; 256] = {
    let mut t = [0.0f32; 256];
    let mut i = 1;
    while i < 256 {
        t[i] = 1.0 / i as f32;
        i += 1;
    }
    t
};

/// Hue rotation by `turn` sextants (60° each, `0 ≤ turn < 6`). Max and min of RGB are V
/// and V − chroma, which a hue rotation keeps; only the position on the hexagon moves.
#[inline]
fn rotate_hue([r, g, b]: [f32; 3], turn: f32) -> [f32; 3] {
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let chroma = max - min;
    if chroma == 0.0 {
        return [r, g, b];
    }
    // Channels are whole numbers 0–255, so 1/chroma comes from a table, not a division.
    let inv = RECIPROCAL[chroma as usize];
    // Hue in sextants, in [−1, 6).
    let h = if max == r {
        (g - b) * inv
    } else if max == g {
        (b - r) * inv + 2.0
    } else {
        (r - g) * inv + 4.0
    };
    let mut h = h + turn;
    if h < 0.0 {
        h += 6.0;
    }
    if h >= 6.0 {
        h -= 6.0;
    }
    let sextant = (h as u32).min(5);
    let frac = h - sextant as f32;
    // The middle channel rises through even sextants and falls through odd ones.
    let x = chroma * if sextant % 2 == 0 { frac } else { 1.0 - frac };
    let (r1, g1, b1) = match sextant {
        0 => (chroma, x, 0.0),
        1 => (x, chroma, 0.0),
        2 => (0.0, chroma, x),
        3 => (0.0, x, chroma),
        4 => (x, 0.0, chroma),
        _ => (chroma, 0.0, x),
    };
    [r1 + min, g1 + min, b1 + min]
}
