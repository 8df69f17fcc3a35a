//! A direct depthwise convolution on one `f32` channel plane, vectorised along output
//! columns, with the per-channel epilogue applied before each row is stored.
//!
//! Each input row is copied once, zero-padded, into `stride` phase rows (phase `p` holds
//! padded columns `p, p + stride, …`), so output column `x` reads tap `kx` at
//! `phase[kx % stride][x + kx / stride]`: unit-stride loads for stride 1 and 2 alike.
//! Rows above and below the input read a shared row of zeros.
//!
//! The 3×3 kernel every network here uses has its own row function: an AVX2/FMA one on
//! x86-64 CPUs that have it, and a portable one (plain multiply-adds the compiler
//! vectorises) for everything else.

use super::epilogue::Activation;

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

/// What follows the sum on every output value of one channel: `activation(v * scale +
/// shift)`. Multiplying by 1 and adding 0 are exact, so a missing scale or shift is 1 or 0
/// and rounds as if the step were skipped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChannelEpilogue {
    pub scale: f32,
    pub shift: f32,
    pub activation: Activation,
}

impl ChannelEpilogue {
    #[inline(always)]
    fn apply(self, v: f32) -> f32 {
        self.activation.apply(v * self.scale + self.shift)
    }
}

/// Convolves one channel: `input` is `height × width`, `weights` `kernel_h × kernel_w`,
/// `out` `out_h × out_w`, each value finished by `epilogue`.
pub fn depthwise_plane(
    g: &Geometry,
    input: &[f32],
    weights: &[f32],
    epilogue: ChannelEpilogue,
    scratch: &mut Vec<f32>,
    out: &mut [f32],
) {
    assert_eq!(input.len(), g.height * g.width);
    assert_eq!(weights.len(), g.kernel_h * g.kernel_w);
    assert_eq!(out.len(), g.out_h * g.out_w);
    let s = g.stride;
    let lp = g.phase_len();
    let row_len = s * lp;
    if scratch.len() < g.scratch_len() {
        scratch.resize(g.scratch_len(), 0.0);
    }
    let (rows, zero) = scratch[..g.scratch_len()].split_at_mut(g.height * row_len);
    zero.fill(0.0);
    // Phase column j is padded column j·s + phase, input column j·s + phase − pl: inside
    // the input for j in lo..hi, the same range on every row.
    let ranges: Vec<(usize, usize, usize)> = (0..s)
        .map(|phase| {
            let first = phase as isize - g.pad_left as isize;
            let lo = ((-first).max(0) as usize).div_ceil(s).min(lp);
            let hi = ((g.width as isize - first).max(0) as usize)
                .div_ceil(s)
                .clamp(lo, lp);
            (lo, hi, (first + (lo * s) as isize).max(0) as usize)
        })
        .collect();
    for (src, dst) in input
        .chunks_exact(g.width)
        .zip(rows.chunks_exact_mut(row_len))
    {
        for (row, &(lo, hi, start)) in dst.chunks_exact_mut(lp).zip(&ranges) {
            row[..lo].fill(0.0);
            row[hi..].fill(0.0);
            copy_strided(&src[start..], s, &mut row[lo..hi]);
        }
    }
    let zero: &[f32] = zero;
    let rows: &[f32] = rows;
    let ow = g.out_w;
    for (oy, acc) in out.chunks_exact_mut(ow).enumerate() {
        let row_of = |ky: usize| -> &[f32] {
            match (oy * s + ky).checked_sub(g.pad_top) {
                Some(iy) if iy < g.height => &rows[iy * row_len..(iy + 1) * row_len],
                _ => zero,
            }
        };
        // The zero row is one phase long; every phase of it reads the same zeros.
        let tap = |row: &'_ [f32], kx: usize| -> *const f32 {
            let phase = if row.len() == lp { 0 } else { kx % s };
            row[phase * lp + kx / s..][..ow].as_ptr()
        };
        if g.kernel_h == 3 && g.kernel_w == 3 {
            let (r0, r1, r2) = (row_of(0), row_of(1), row_of(2));
            let taps = [
                tap(r0, 0),
                tap(r0, 1),
                tap(r0, 2),
                tap(r1, 0),
                tap(r1, 1),
                tap(r1, 2),
                tap(r2, 0),
                tap(r2, 1),
                tap(r2, 2),
            ];
            let w: &[f32; 9] = weights.try_into().expect("3×3 weights");
            // SAFETY: every tap pointer starts `ow` readable floats (sliced above).
            unsafe { row3x3(taps, w, epilogue, acc) };
        } else {
            acc.fill(0.0);
            for ky in 0..g.kernel_h {
                let row = row_of(ky);
                for kx in 0..g.kernel_w {
                    let wv = weights[ky * g.kernel_w + kx];
                    // SAFETY: as above, `ow` floats from the tap pointer.
                    let src = unsafe { std::slice::from_raw_parts(tap(row, kx), ow) };
                    for (a, &v) in acc.iter_mut().zip(src) {
                        *a += v * wv;
                    }
                }
            }
            acc.iter_mut().for_each(|v| *v = epilogue.apply(*v));
        }
    }
}

/// `dst[j] = src[j·stride]`.
#[inline]
pub(super) fn copy_strided(src: &[f32], stride: usize, dst: &mut [f32]) {
    if stride == 1 {
        dst.copy_from_slice(&src[..dst.len()]);
    } else {
        for (d, chunk) in dst.iter_mut().zip(src.chunks(stride)) {
            *d = chunk[0];
        }
    }
}

/// `out[x] = epilogue(Σ_k taps[k][x] · w[k])` for one output row of a 3×3 kernel.
///
/// # Safety
/// Each `taps[k]` must point at `out.len()` readable floats.
unsafe fn row3x3(taps: [*const f32; 9], w: &[f32; 9], epilogue: ChannelEpilogue, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features; the caller's promise bounds the reads.
            unsafe { avx2::row3x3(taps, w, epilogue, out) };
            return;
        }
    }
    // SAFETY: the caller's promise (SIMD128, when compiled in, is on for the whole build).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        simd128::row3x3(taps, w, epilogue, out)
    }
    // SAFETY: the caller's promise.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    unsafe {
        row3x3_generic(taps, w, epilogue, out)
    }
}

/// The portable row: the same sum as separate multiplies and adds (a fused multiply-add
/// without hardware support is a slow library call), left for the compiler to vectorise.
unsafe fn row3x3_generic(
    taps: [*const f32; 9],
    w: &[f32; 9],
    epilogue: ChannelEpilogue,
    out: &mut [f32],
) {
    let n = out.len();
    // SAFETY: the caller's promise.
    let t = taps.map(|p| unsafe { std::slice::from_raw_parts(p, n) });
    for (x, o) in out.iter_mut().enumerate() {
        let mut sum = t[0][x] * w[0];
        for k in 1..9 {
            sum += t[k][x] * w[k];
        }
        *o = epilogue.apply(sum);
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Activation, ChannelEpilogue};
    use crate::ops::epilogue::avx2::activate;

    /// Eight columns at a time, the nine taps fused multiply-added in order (column by
    /// column the same arithmetic as the scalar tail).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn row3x3(
        taps: [*const f32; 9],
        w: &[f32; 9],
        epilogue: ChannelEpilogue,
        out: &mut [f32],
    ) {
        const IDENTITY: u8 = Activation::Identity.index();
        const RELU: u8 = Activation::Relu.index();
        const RELU6: u8 = Activation::Relu6.index();
        const LEAKY: u8 = Activation::Leaky.index();
        match epilogue.activation {
            Activation::Identity => row::<IDENTITY>(taps, w, epilogue, out),
            Activation::Relu => row::<RELU>(taps, w, epilogue, out),
            Activation::Relu6 => row::<RELU6>(taps, w, epilogue, out),
            Activation::Leaky => row::<LEAKY>(taps, w, epilogue, out),
        }
    }

    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn row<const ACT: u8>(
        taps: [*const f32; 9],
        w: &[f32; 9],
        epilogue: ChannelEpilogue,
        out: &mut [f32],
    ) {
        let n = out.len();
        let mut wv = [_mm256_setzero_ps(); 9];
        for k in 0..9 {
            wv[k] = _mm256_set1_ps(w[k]);
        }
        let scale = _mm256_set1_ps(epilogue.scale);
        let shift = _mm256_set1_ps(epilogue.shift);
        let dst = out.as_mut_ptr();
        let mut x = 0;
        while x + 8 <= n {
            let mut acc = _mm256_mul_ps(_mm256_loadu_ps(taps[0].add(x)), wv[0]);
            for k in 1..9 {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(taps[k].add(x)), wv[k], acc);
            }
            let v = _mm256_add_ps(_mm256_mul_ps(acc, scale), shift);
            _mm256_storeu_ps(dst.add(x), activate::<ACT>(v));
            x += 8;
        }
        if x < n {
            // The last 1–7 columns as one masked vector: lanes past the row neither load
            // nor store.
            let mask = tail_mask(n - x);
            let mut acc = _mm256_mul_ps(_mm256_maskload_ps(taps[0].add(x), mask), wv[0]);
            for k in 1..9 {
                acc = _mm256_fmadd_ps(_mm256_maskload_ps(taps[k].add(x), mask), wv[k], acc);
            }
            let v = _mm256_add_ps(_mm256_mul_ps(acc, scale), shift);
            _mm256_maskstore_ps(dst.add(x), mask, activate::<ACT>(v));
        }
    }

    /// Lanes `0..n` (n < 8) on.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tail_mask(n: usize) -> __m256i {
        let lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        _mm256_cmpgt_epi32(_mm256_set1_epi32(n as i32), lanes)
    }
}

/// The row on WebAssembly's 4-lane vectors, eight columns (two vectors) at a time, then
/// four, the scalar row's sum lane by lane in [`madd`] steps (fused in the relaxed-SIMD
/// build); the last 1–3 columns through the scalar row.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128 {
    use std::arch::wasm32::*;

    use super::ChannelEpilogue;
    use crate::ops::simd128::madd;

    /// # Safety
    /// Each `taps[k]` must point at `out.len()` readable floats.
    // Tap k indexes both the tap pointers and the weights.
    #[allow(clippy::needless_range_loop)]
    pub(super) unsafe fn row3x3(
        taps: [*const f32; 9],
        w: &[f32; 9],
        epilogue: ChannelEpilogue,
        out: &mut [f32],
    ) {
        let n = out.len();
        let wv = w.map(|v| f32x4_splat(v));
        let (scale, shift) = (f32x4_splat(epilogue.scale), f32x4_splat(epilogue.shift));
        let activate = |v: v128| crate::ops::epilogue::simd128::activate(v, epilogue.activation);
        let dst = out.as_mut_ptr();
        let mut x = 0;
        while x + 8 <= n {
            let load = |k: usize, o: usize| v128_load(taps[k].add(x + o) as *const v128);
            let mut a0 = f32x4_mul(load(0, 0), wv[0]);
            let mut a1 = f32x4_mul(load(0, 4), wv[0]);
            for k in 1..9 {
                a0 = madd(a0, load(k, 0), wv[k]);
                a1 = madd(a1, load(k, 4), wv[k]);
            }
            let a0 = activate(f32x4_add(f32x4_mul(a0, scale), shift));
            let a1 = activate(f32x4_add(f32x4_mul(a1, scale), shift));
            v128_store(dst.add(x) as *mut v128, a0);
            v128_store(dst.add(x + 4) as *mut v128, a1);
            x += 8;
        }
        if x + 4 <= n {
            let load = |k: usize| v128_load(taps[k].add(x) as *const v128);
            let mut a = f32x4_mul(load(0), wv[0]);
            for k in 1..9 {
                a = madd(a, load(k), wv[k]);
            }
            v128_store(
                dst.add(x) as *mut v128,
                activate(f32x4_add(f32x4_mul(a, scale), shift)),
            );
            x += 4;
        }
        if x < n {
            let rest = taps.map(|p| p.add(x));
            super::row3x3_generic(rest, w, epilogue, &mut out[x..]);
        }
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
