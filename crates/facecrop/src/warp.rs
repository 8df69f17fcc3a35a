//! Cutting a chip: one bilinear resample of the source through the chip→source transform.

use image::{Rgb, RgbImage};

/// Samples `size`×`size` chip pixels from `source`: chip pixel (x, y) takes the bilinear
/// value at `transform(x, y)` in the source; outside the source the pixel is black, as
/// zero padding is what the recognition network saw in training.
pub fn warp_bilinear(source: &RgbImage, transform: &[f32; 6], size: u32) -> RgbImage {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("sse4.1") {
            // SAFETY: the CPU has the feature the function is compiled for.
            return unsafe { warp_bilinear_sse41(source, transform, size) };
        }
    }
    warp_bilinear_generic(source, transform, size)
}

/// The same code with SSE4.1, where `floor` and `round` are single instructions rather
/// than library calls (x86-64's baseline lacks them); the results are identical.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.1")]
unsafe fn warp_bilinear_sse41(source: &RgbImage, transform: &[f32; 6], size: u32) -> RgbImage {
    warp_bilinear_generic(source, transform, size)
}

#[inline(always)]
fn warp_bilinear_generic(source: &RgbImage, transform: &[f32; 6], size: u32) -> RgbImage {
    let (w, h) = (source.width() as i64, source.height() as i64);
    let raw = source.as_raw();
    let stride = source.width() as usize * 3;
    let t = transform.map(f64::from);
    let mut out = RgbImage::new(size, size);
    for (y, row) in out.rows_mut().enumerate() {
        let y = y as f64;
        for (x, px) in row.enumerate() {
            let x = x as f64;
            let sx = t[0] * x + t[1] * y + t[2];
            let sy = t[3] * x + t[4] * y + t[5];
            *px = sample(raw, stride, w, h, sx, sy);
        }
    }
    out
}

#[inline(always)]
fn sample(raw: &[u8], stride: usize, w: i64, h: i64, sx: f64, sy: f64) -> Rgb<u8> {
    let (x0, y0) = (sx.floor(), sy.floor());
    let (fx, fy) = (sx - x0, sy - y0);
    let (x0, y0) = (x0 as i64, y0 as i64);
    if x0 < -1 || y0 < -1 || x0 >= w || y0 >= h {
        return Rgb([0, 0, 0]);
    }
    let at = |x: i64, y: i64, c: usize| -> f64 {
        if x < 0 || y < 0 || x >= w || y >= h {
            0.0
        } else {
            f64::from(raw[y as usize * stride + x as usize * 3 + c])
        }
    };
    let mut p = [0u8; 3];
    for (c, v) in p.iter_mut().enumerate() {
        let top = at(x0, y0, c) * (1.0 - fx) + at(x0 + 1, y0, c) * fx;
        let bottom = at(x0, y0 + 1, c) * (1.0 - fx) + at(x0 + 1, y0 + 1, c) * fx;
        *v = (top * (1.0 - fy) + bottom * fy).round().clamp(0.0, 255.0) as u8;
    }
    Rgb(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_at_integer_positions_copies_pixels() {
        let src = RgbImage::from_fn(20, 20, |x, y| Rgb([x as u8 * 10, y as u8 * 10, 7]));
        let t = [1.0, 0.0, 3.0, 0.0, 1.0, 4.0];
        let chip = warp_bilinear(&src, &t, 10);
        assert_eq!(chip.get_pixel(0, 0), src.get_pixel(3, 4));
        assert_eq!(chip.get_pixel(9, 9), src.get_pixel(12, 13));
    }

    #[test]
    fn outside_the_source_is_black() {
        let src = RgbImage::from_pixel(4, 4, Rgb([200, 200, 200]));
        let chip = warp_bilinear(&src, &[1.0, 0.0, -10.0, 0.0, 1.0, -10.0], 4);
        assert_eq!(chip.get_pixel(0, 0).0, [0, 0, 0]);
    }
}
