use kao_image::RgbImage;

use crate::affine::Affine;
use crate::params::FillMode;

/// Fractional bits of the bilinear weights: 1/2048 px, finer than any visible difference,
/// and `255 · 2048²` still fits a `u32`.
const BITS: u32 = 11;
const ONE: u32 = 1 << BITS;
const ROUND: u32 = 1 << (2 * BITS - 1);

/// Resamples `src` once: output pixel `(x, y)` is the bilinear sample of `src` at
/// `map(x, y)`, neighbours outside `src` resolved by `fill`. Integer positions copy the
/// pixel exactly, and the exact identity (same size) is a plain copy.
pub fn warp(
    src: &RgbImage,
    map: &Affine,
    out_w: u32,
    out_h: u32,
    fill: FillMode,
    cval: u8,
) -> RgbImage {
    if *map == Affine::IDENTITY && src.dimensions() == (out_w, out_h) {
        return src.clone();
    }
    let (w_src, h_src) = (i64::from(src.width()), i64::from(src.height()));
    let raw = src.as_raw();
    let stride = src.width() as usize * 3;
    let mut out = vec![0u8; out_w as usize * out_h as usize * 3];
    let [a, b, c, d, e, f] = map.0;
    let one = f64::from(ONE);
    // Each fixed-point source coordinate is `step · x + row start`, all in units of 1/ONE px.
    let (ax, dx) = (a * one, d * one);
    for (y, row) in out.chunks_exact_mut(out_w as usize * 3).enumerate() {
        let yf = y as f64;
        let (bx, by) = ((b * yf + c) * one, (e * yf + f) * one);
        for (x, px) in row.chunks_exact_mut(3).enumerate() {
            let xf = x as f64;
            let sx = round_fixed(ax * xf + bx);
            let sy = round_fixed(dx * xf + by);
            let (x0, y0) = (sx >> BITS, sy >> BITS);
            let fx = (sx & i64::from(ONE - 1)) as u32;
            let fy = (sy & i64::from(ONE - 1)) as u32;
            let w = weights(fx, fy);
            if x0 >= 0 && y0 >= 0 && x0 + 1 < w_src && y0 + 1 < h_src {
                let i = y0 as usize * stride + x0 as usize * 3;
                let r0: &[u8; 6] = raw[i..i + 6].try_into().expect("6 bytes");
                let r1: &[u8; 6] = raw[i + stride..i + stride + 6].try_into().expect("6 bytes");
                for ch in 0..3 {
                    px[ch] = blend([r0[ch], r0[ch + 3], r1[ch], r1[ch + 3]], w);
                }
            } else {
                let at = |xx: i64, yy: i64| -> [u8; 3] {
                    match (resolve(xx, w_src, fill), resolve(yy, h_src, fill)) {
                        (Some(xx), Some(yy)) => {
                            let i = yy * stride + xx * 3;
                            [raw[i], raw[i + 1], raw[i + 2]]
                        }
                        _ => [cval; 3],
                    }
                };
                let p = [
                    at(x0, y0),
                    at(x0 + 1, y0),
                    at(x0, y0 + 1),
                    at(x0 + 1, y0 + 1),
                ];
                for ch in 0..3 {
                    px[ch] = blend([p[0][ch], p[1][ch], p[2][ch], p[3][ch]], w);
                }
            }
        }
    }
    RgbImage::from_raw(out_w, out_h, out).expect("buffer sized from the dimensions")
}

/// Nearest integer (halves up) without `f64::round`, which is a libm call on baseline
/// x86-64. The offset makes truncation a floor; `as` saturates, so a wild map cannot
/// overflow (such pixels just fill).
#[inline(always)]
fn round_fixed(v: f64) -> i64 {
    const OFFSET: f64 = (1u64 << 40) as f64;
    (v + (OFFSET + 0.5)) as i64 - (1i64 << 40)
}

/// Bilinear weights of the four neighbours, summing to `ONE²`.
#[inline(always)]
fn weights(fx: u32, fy: u32) -> [u32; 4] {
    let (gx, gy) = (ONE - fx, ONE - fy);
    [gx * gy, fx * gy, gx * fy, fx * fy]
}

/// `Σ p·w / ONE²`, rounded. At most `255 · ONE²` < 2³², so wrapping arithmetic never wraps;
/// it only spares the dev profile's overflow checks in the hottest loop.
#[inline(always)]
fn blend(p: [u8; 4], w: [u32; 4]) -> u8 {
    let mut acc = ROUND;
    for k in 0..4 {
        acc = acc.wrapping_add(u32::from(p[k]).wrapping_mul(w[k]));
    }
    (acc >> (2 * BITS)) as u8
}

/// Where coordinate `i` of an axis of length `n` reads from, or `None` for the fill colour.
fn resolve(i: i64, n: i64, fill: FillMode) -> Option<usize> {
    if (0..n).contains(&i) {
        return Some(i as usize);
    }
    let j = match fill {
        FillMode::Constant => return None,
        FillMode::Nearest => i.clamp(0, n - 1),
        FillMode::Wrap => i.rem_euclid(n),
        FillMode::Reflect => {
            let m = i.rem_euclid(2 * n);
            if m < n {
                m
            } else {
                2 * n - 1 - m
            }
        }
    };
    Some(j as usize)
}

/// Fraction of output pixels whose sample point lies outside `src_w`×`src_h` (more than
/// half a pixel beyond the outer pixel centres): pixels made up by the fill mode.
pub fn fill_fraction(map: &Affine, src_w: u32, src_h: u32, out_w: u32, out_h: u32) -> f64 {
    let (w, h) = (f64::from(src_w), f64::from(src_h));
    let mut outside = 0u64;
    for y in 0..out_h {
        for x in 0..out_w {
            let (sx, sy) = map.apply(f64::from(x), f64::from(y));
            if !(-0.5..=w - 0.5).contains(&sx) || !(-0.5..=h - 0.5).contains(&sy) {
                outside += 1;
            }
        }
    }
    outside as f64 / (u64::from(out_w) * u64::from(out_h)).max(1) as f64
}
