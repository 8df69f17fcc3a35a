//! A direct depthwise convolution on one `f32` channel plane, written so the compiler
//! vectorises it along output columns.
//!
//! Each input row is copied once, zero-padded, into `stride` phase rows (phase `p` holds
//! padded columns `p, p + stride, …`), so output column `x` reads tap `kx` at
//! `phase[kx % stride][x + kx / stride]`: unit-stride loads for stride 1 and 2 alike.

/// Sizes and TensorFlow padding of one depthwise convolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub height: usize,
    pub width: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Geometry {
    /// Length of one phase row: enough for the last output column's widest tap.
    fn phase_len(&self) -> usize {
        self.out_w + (self.kernel_w - 1) / self.stride
    }

    /// Scratch floats needed by [`depthwise_plane`].
    pub fn scratch_len(&self) -> usize {
        self.height * self.stride * self.phase_len() + self.phase_len()
    }
}

/// Convolves one channel: `input` is `height × width`, `weights` `kernel_h × kernel_w`,
/// `out` `out_h × out_w`; `finish` runs on each finished output row (bias, activation).
pub fn depthwise_plane(
    g: &Geometry,
    input: &[f32],
    weights: &[f32],
    scratch: &mut Vec<f32>,
    out: &mut [f32],
    finish: &mut dyn FnMut(&mut [f32]),
) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU supports the features the function is compiled for.
            unsafe { depthwise_plane_avx2(g, input, weights, scratch, out, finish) };
            return;
        }
    }
    depthwise_plane_generic(g, input, weights, scratch, out, finish);
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn depthwise_plane_avx2(
    g: &Geometry,
    input: &[f32],
    weights: &[f32],
    scratch: &mut Vec<f32>,
    out: &mut [f32],
    finish: &mut dyn FnMut(&mut [f32]),
) {
    depthwise_plane_generic(g, input, weights, scratch, out, finish);
}

#[inline(always)]
fn depthwise_plane_generic(
    g: &Geometry,
    input: &[f32],
    weights: &[f32],
    scratch: &mut Vec<f32>,
    out: &mut [f32],
    finish: &mut dyn FnMut(&mut [f32]),
) {
    let s = g.stride;
    let lp = g.phase_len();
    let row_len = s * lp;
    scratch.clear();
    scratch.resize(g.scratch_len(), 0.0);
    let (rows, zero) = scratch.split_at_mut(g.height * row_len);
    for (iy, src) in input.chunks_exact(g.width).take(g.height).enumerate() {
        let dst = &mut rows[iy * row_len..(iy + 1) * row_len];
        if s == 1 {
            let n = g.width.min(lp.saturating_sub(g.pad_left));
            dst[g.pad_left..g.pad_left + n].copy_from_slice(&src[..n]);
        } else {
            // No division per pixel: padded column `j * s + phase` comes from input column
            // `j * s + phase - pad_left`.
            for (phase, row) in dst.chunks_exact_mut(lp).enumerate() {
                for (j, d) in row.iter_mut().enumerate() {
                    if let Some(v) = (j * s + phase)
                        .checked_sub(g.pad_left)
                        .and_then(|ix| src.get(ix))
                    {
                        *d = *v;
                    }
                }
            }
        }
    }
    let zero: &[f32] = zero;
    let rows: &[f32] = rows;
    let ow = g.out_w;
    for oy in 0..g.out_h {
        let acc = &mut out[oy * ow..(oy + 1) * ow];
        let row_of = |ky: usize| -> Option<&[f32]> {
            match (oy * s + ky).checked_sub(g.pad_top) {
                Some(iy) if iy < g.height => Some(&rows[iy * row_len..(iy + 1) * row_len]),
                _ => None,
            }
        };
        if g.kernel_h == 3 && g.kernel_w == 3 {
            let [a0, a1, a2] = taps3(row_of(0), zero, s, lp, ow);
            let [b0, b1, b2] = taps3(row_of(1), zero, s, lp, ow);
            let [c0, c1, c2] = taps3(row_of(2), zero, s, lp, ow);
            window3x3(
                acc,
                [a0, a1, a2, b0, b1, b2, c0, c1, c2],
                &weights[..9],
                false,
            );
        } else {
            acc.fill(0.0);
            for ky in 0..g.kernel_h {
                let Some(row) = row_of(ky) else { continue };
                for kx in 0..g.kernel_w {
                    let wv = weights[ky * g.kernel_w + kx];
                    let src = &row[(kx % s) * lp + kx / s..][..ow];
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a += v * wv;
                    }
                }
            }
        }
        finish(acc);
    }
}

/// The three column taps of a 3-wide kernel on one phase-split row, each `ow` long; a
/// padding row reads zeros.
#[inline(always)]
fn taps3<'a>(
    row: Option<&'a [f32]>,
    zero: &'a [f32],
    s: usize,
    lp: usize,
    ow: usize,
) -> [&'a [f32]; 3] {
    match row {
        Some(r) => [0, 1, 2].map(|kx| &r[(kx % s) * lp + kx / s..][..ow]),
        None => [&zero[..ow]; 3],
    }
}

/// `Σ taps[k][x] · w[k]` over a 3×3 window for every column `x`, written into `acc`, or
/// added to it with `add`. Every tap slice is `acc.len()` long; the compiler vectorises
/// along `x`.
#[inline(always)]
pub(super) fn window3x3(acc: &mut [f32], taps: [&[f32]; 9], w: &[f32], add: bool) {
    let n = acc.len();
    let [a0, a1, a2, b0, b1, b2, c0, c1, c2] = taps.map(|t| &t[..n]);
    let w = &w[..9];
    for x in 0..n {
        let sum = a0[x] * w[0]
            + a1[x] * w[1]
            + a2[x] * w[2]
            + b0[x] * w[3]
            + b1[x] * w[4]
            + b2[x] * w[5]
            + c0[x] * w[6]
            + c1[x] * w[7]
            + c2[x] * w[8];
        acc[x] = if add { acc[x] + sum } else { sum };
    }
}
