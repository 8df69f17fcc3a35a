//! Turning an RGB image (or a rectangle of one) into a network input exactly as face-api
//! does: pad to a square with zeros, then tfjs `resizeBilinear` (alignCorners = false,
//! halfPixelCenters = false). Values stay in 0–255; each network normalises its own way.

use candle_core::{Device, Tensor};
use image::RgbImage;

use crate::error::{ModelError, Result};

/// Where the zero padding goes when the input is not square.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pad {
    /// All padding after the image (bottom rows or right columns): the detectors.
    BottomRight,
    /// Split around the image, `round(d/2)` after and the rest before: landmarks and
    /// recognition.
    Centred,
}

/// An integer rectangle of an image: rows `y..y+height`, columns `x..x+width`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

impl Rect {
    pub fn full(image: &RgbImage) -> Rect {
        Rect {
            x: 0,
            y: 0,
            width: image.width(),
            height: image.height(),
        }
    }
}

/// Pads `rect` of `image` to a square and resizes it to `size`×`size`, planar RGB (CHW),
/// values 0–255 as f32.
pub fn resize_padded(image: &RgbImage, rect: Rect, size: usize, pad: Pad) -> Result<Vec<f32>> {
    if rect.width == 0
        || rect.height == 0
        || rect.x + rect.width > image.width()
        || rect.y + rect.height > image.height()
    {
        return Err(ModelError::Input(format!(
            "rectangle {rect:?} is empty or outside the {}x{} image",
            image.width(),
            image.height()
        )));
    }
    let (w, h) = (rect.width as usize, rect.height as usize);
    let n = w.max(h);
    let d = n - w.min(h);
    // JS Math.round of d/2 rounds halves up.
    let after = d.div_ceil(2);
    let before = match pad {
        Pad::BottomRight => 0,
        Pad::Centred => d - after,
    };
    let (off_y, off_x) = if h < w { (before, 0) } else { (0, before) };
    let raw = image.as_raw();
    let stride = image.width() as usize * 3;
    let pixel = |py: usize, px: usize, c: usize| -> f64 {
        let (y, x) = (py.wrapping_sub(off_y), px.wrapping_sub(off_x));
        if y < h && x < w {
            f64::from(raw[(rect.y as usize + y) * stride + (rect.x as usize + x) * 3 + c])
        } else {
            0.0
        }
    };
    let mut out = vec![0f32; 3 * size * size];
    if n == size {
        for y in 0..size {
            for x in 0..size {
                for c in 0..3 {
                    out[c * size * size + y * size + x] = pixel(y, x, c) as f32;
                }
            }
        }
        return Ok(out);
    }
    let ratio = n as f64 / size as f64;
    let taps: Vec<(usize, usize, f64)> = (0..size)
        .map(|i| {
            let src = i as f64 * ratio;
            let lo = src.floor();
            let hi = (src.ceil() as usize).min(n - 1);
            (lo as usize, hi, src - lo)
        })
        .collect();
    // Bilinear is separable: interpolate each needed source row along x once (the taps
    // go down the rows in order, so two cached rows suffice), then blend rows. The
    // arithmetic and its order are those of the per-pixel formula, so values are unchanged.
    //
    // Each output column's two source columns as byte offsets into a source row (`None`
    // in the padding), worked out once for all rows.
    let columns: Vec<(Option<usize>, Option<usize>, f64)> = taps
        .iter()
        .map(|&(x0, x1, fx)| {
            let at = |px: usize| {
                let x = px.wrapping_sub(off_x);
                (x < w).then(|| (rect.x as usize + x) * 3)
            };
            (at(x0), at(x1), fx)
        })
        .collect();
    let horizontal = |y: usize, row: &mut [f64]| {
        let y = y.wrapping_sub(off_y);
        if y >= h {
            row.fill(0.0);
            return;
        }
        let src = &raw[(rect.y as usize + y) * stride..][..stride];
        for c in 0..3 {
            let value = |i: Option<usize>| i.map_or(0.0, |i| f64::from(src[i + c]));
            for (o, &(a, b, fx)) in row[c * size..(c + 1) * size].iter_mut().zip(&columns) {
                let (l, r) = (value(a), value(b));
                *o = l + (r - l) * fx;
            }
        }
    };
    let mut cache: [(usize, Vec<f64>); 2] = [
        (usize::MAX, vec![0.0; 3 * size]),
        (usize::MAX, vec![0.0; 3 * size]),
    ];
    for (oy, &(y0, y1, fy)) in taps.iter().enumerate() {
        if cache[0].0 != y0 {
            if cache[1].0 == y0 {
                cache.swap(0, 1);
            } else {
                horizontal(y0, &mut cache[0].1);
                cache[0].0 = y0;
            }
        }
        if cache[1].0 != y1 {
            let [first, second] = &mut cache;
            if first.0 == y1 {
                second.1.copy_from_slice(&first.1);
            } else {
                horizontal(y1, &mut second.1);
            }
            second.0 = y1;
        }
        let (top, bottom) = (&cache[0].1, &cache[1].1);
        for c in 0..3 {
            let plane = &mut out[c * size * size + oy * size..][..size];
            let (t, b) = (&top[c * size..][..size], &bottom[c * size..][..size]);
            for ((o, &t), &b) in plane.iter_mut().zip(t).zip(b) {
                *o = (t + (b - t) * fy) as f32;
            }
        }
    }
    Ok(out)
}

/// A batch `[N, 3, size, size]` of padded, resized crops (values 0–255).
pub fn batch(
    crops: &[(&RgbImage, Rect)],
    size: usize,
    pad: Pad,
    device: &Device,
) -> Result<Tensor> {
    let mut data = Vec::with_capacity(crops.len() * 3 * size * size);
    for (image, rect) in crops {
        data.extend(resize_padded(image, *rect, size, pad)?);
    }
    Ok(Tensor::from_vec(
        data,
        (crops.len(), 3, size, size),
        device,
    )?)
}

/// Subtracts a per-channel mean then divides by `divisor`, as two separate f32 operations
/// (face-api divides by 255 rather than multiplying by 1/255; the rounding differs).
pub fn normalise(input: &Tensor, mean: [f32; 3], divisor: f32) -> Result<Tensor> {
    let mean = Tensor::from_slice(&mean, (1, 3, 1, 1), input.device())?;
    Ok(input
        .broadcast_sub(&mean)?
        .broadcast_div(&Tensor::new(divisor, input.device())?)?)
}
