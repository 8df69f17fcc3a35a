use kao_image::RgbImage;

use crate::affine::Affine;

/// Margin kept around the chip, in chip sides on each side: room for the Keras preset's
/// 40° rotation, 0.2 shifts and 1.2 zoom-out to read real pixels.
pub const CONTEXT_MARGIN: f64 = 1.0;

/// The pixels an augmentation samples, with the map from chip pixels into them.
///
/// Either a bare chip (fill pixels appear wherever the warp reaches past its border) or a
/// region of the source photo around the chip, so the warp reads real surroundings.
/// Cutting the region once keeps what training holds per item small, and box-averaging a
/// high-resolution photo down to about chip resolution keeps one bilinear sample from
/// aliasing.
#[derive(Debug, Clone, PartialEq)]
pub struct Context {
    pub image: RgbImage,
    /// Chip pixel → `image` pixel, `[a, b, c, d, e, f]` as `ChipRecord::transform`.
    pub chip_to_image: [f32; 6],
    /// Side of the chip (and of the augmented output).
    pub chip_size: u32,
}

impl Context {
    /// A bare chip: nothing beyond its border.
    pub fn from_chip(chip: RgbImage) -> Context {
        let chip_size = chip.width();
        Context {
            image: chip,
            chip_to_image: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            chip_size,
        }
    }

    /// The source photo around a chip: the chip's square grown by [`CONTEXT_MARGIN`]
    /// chip sides each way (clipped to the photo), reduced by an integer box filter when
    /// the photo has two or more pixels per chip pixel.
    pub fn from_source(source: &RgbImage, chip_to_source: [f32; 6], chip_size: u32) -> Context {
        let t = Affine::from_f32(chip_to_source);
        let n = f64::from(chip_size);
        let (lo, hi) = (-CONTEXT_MARGIN * n - 0.5, n - 0.5 + CONTEXT_MARGIN * n);
        let corners = [(lo, lo), (hi, lo), (lo, hi), (hi, hi)].map(|(x, y)| t.apply(x, y));
        let (sw, sh) = (f64::from(source.width()), f64::from(source.height()));
        let fold = |f: fn(f64, f64) -> f64, pick: fn(&(f64, f64)) -> f64, init: f64| {
            corners.iter().map(pick).fold(init, f)
        };
        let x0 = fold(f64::min, |p| p.0, f64::INFINITY)
            .floor()
            .clamp(0.0, sw);
        let x1 = fold(f64::max, |p| p.0, f64::NEG_INFINITY)
            .ceil()
            .clamp(0.0, sw);
        let y0 = fold(f64::min, |p| p.1, f64::INFINITY)
            .floor()
            .clamp(0.0, sh);
        let y1 = fold(f64::max, |p| p.1, f64::NEG_INFINITY)
            .ceil()
            .clamp(0.0, sh);
        let k = (t.scale().floor() as u32).max(1);
        let (w, h) = (((x1 - x0) as u32) / k, ((y1 - y0) as u32) / k);
        if w == 0 || h == 0 {
            // The chip lies off the photo (a bad record): sample the photo as it is.
            return Context {
                image: source.clone(),
                chip_to_image: chip_to_source,
                chip_size,
            };
        }
        let (x0, y0) = (x0 as u32, y0 as u32);
        let image = box_reduce(source, x0, y0, w, h, k);
        // Patch pixel u covers source [x0 + k·u, x0 + k·u + k), centred at x0 + k·u + (k−1)/2.
        let kf = f64::from(k);
        let off = (kf - 1.0) / 2.0;
        let to_patch = Affine([
            1.0 / kf,
            0.0,
            -(f64::from(x0) + off) / kf,
            0.0,
            1.0 / kf,
            -(f64::from(y0) + off) / kf,
        ]);
        Context {
            image,
            chip_to_image: to_patch.after(&t).0.map(|v| v as f32),
            chip_size,
        }
    }
}

/// The `w`×`h` image whose pixel (u, v) is the mean of the k×k block of `src` at
/// (x0 + k·u, y0 + k·v). With k = 1, a plain crop.
fn box_reduce(src: &RgbImage, x0: u32, y0: u32, w: u32, h: u32, k: u32) -> RgbImage {
    let stride = src.width() as usize * 3;
    let raw = src.as_raw();
    let area = k * k;
    let mut out = Vec::with_capacity(w as usize * h as usize * 3);
    for v in 0..h {
        for u in 0..w {
            let mut sum = [0u32; 3];
            for dy in 0..k {
                let row = (y0 + v * k + dy) as usize * stride;
                for dx in 0..k {
                    let i = row + (x0 + u * k + dx) as usize * 3;
                    for (s, &p) in sum.iter_mut().zip(&raw[i..i + 3]) {
                        *s += u32::from(p);
                    }
                }
            }
            out.extend(sum.map(|s| ((s + area / 2) / area) as u8));
        }
    }
    RgbImage::from_raw(w, h, out).expect("buffer sized from the dimensions")
}
