//! Products of a convolution's weights `W` (`[rows, depth]`, packed once at load) with its
//! input read in place: [`multiply_into`] for a 1×1 conv's input plane (`[depth, n_cols]`),
//! [`conv_columns`] for a dense conv, where each output column gathers its depth from
//! fixed offsets of the input ([`Segment`]s) and the epilogue runs on the sums in
//! registers.
//!
//! Why not the `gemm` crate: it packs both operands on every call. Weights do not change
//! and the input is already laid out to be read directly, so that packing was pure
//! copying, plus a re-pack of up to 2.3 MB of weights for each small tile of a deep layer.

use super::Activation;

/// Output rows (channels) per packed panel: two 8-float AVX vectors.
pub const PANEL: usize = 16;
/// Columns per microkernel call: 6 × 2 accumulators, 2 weight vectors and 1 broadcast use
/// 15 of the 16 AVX registers.
#[cfg(target_arch = "x86_64")]
const COLUMNS: usize = 6;

/// The sum runs over the depth in blocks of this many steps, every column of the block
/// before the next: a panel's block of weights (16 KiB) then stays in L1 across the
/// columns, where a whole deep panel (2,304 steps, 144 KiB) would stream from L2 for each.
pub(crate) const DEPTH_BLOCK: usize = 256;

/// The right operand's block per task aims at this many floats (≈192 KiB): the block and
/// the output it feeds stay in the 512 KiB L2 of the cores this was tuned on.
const B_BLOCK_FLOATS: usize = 48 * 1024;

/// How many columns of `B` one task should take: a block of about [`B_BLOCK_FLOATS`]
/// (wide enough for the microkernel, few enough columns to stay in cache) within `bounds`,
/// and no more than an even share of `columns` over `threads`, so each thread gets work.
pub fn columns_per_task(
    depth: usize,
    columns: usize,
    threads: usize,
    bounds: (usize, usize),
) -> usize {
    (B_BLOCK_FLOATS / depth.max(1))
        .clamp(bounds.0, bounds.1)
        .min(columns.div_ceil(threads.max(1)).next_multiple_of(8))
        .max(8)
}

/// `[rows, depth]` weights as panels of [`PANEL`] rows, each stored `[depth][PANEL]` so one
/// step of the sum reads 16 consecutive floats; rows past the end are zero.
#[derive(Debug, Clone)]
pub struct PackedWeights {
    data: Vec<f32>,
    rows: usize,
    depth: usize,
}

impl PackedWeights {
    /// Packs row-major `[rows, depth]` weights.
    pub fn pack(row_major: &[f32], rows: usize, depth: usize) -> Self {
        assert_eq!(row_major.len(), rows * depth);
        let mut data = vec![0f32; rows.div_ceil(PANEL) * depth * PANEL];
        for (r, row) in row_major.chunks_exact(depth.max(1)).enumerate() {
            let panel = &mut data[(r / PANEL) * depth * PANEL..][..depth * PANEL];
            for (k, &v) in row.iter().enumerate() {
                panel[k * PANEL + r % PANEL] = v;
            }
        }
        PackedWeights { data, rows, depth }
    }

    pub fn rows(&self) -> usize {
        self.rows
    }

    pub fn depth(&self) -> usize {
        self.depth
    }

    pub(crate) fn panel(&self, index: usize) -> &[f32] {
        &self.data[index * self.depth * PANEL..][..self.depth * PANEL]
    }
}

/// `out[r·ldo + j] = Σ_k W[row0 + r, k] · b[k·ldb + j]` for `r < n_rows`, `j < n_cols`,
/// on the calling thread. `row0` must start a panel.
#[cfg(test)]
#[allow(clippy::too_many_arguments)]
pub fn multiply(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    b: &[f32],
    ldb: usize,
    n_cols: usize,
    out: &mut [f32],
    ldo: usize,
) {
    if n_rows > 0 && n_cols > 0 {
        assert!(ldo >= n_cols && out.len() >= (n_rows - 1) * ldo + n_cols);
    }
    // SAFETY: `out` holds every element written, as just checked.
    unsafe { multiply_into(w, row0, n_rows, b, ldb, n_cols, out.as_mut_ptr(), ldo) }
}

/// [`multiply`] into a raw output, for callers whose threads fill disjoint columns of the
/// same rows (no `&mut` slice can describe that) or fill uninitialised memory.
///
/// # Safety
/// `out.add(r·ldo + j)` must be valid for writes for every `r < n_rows`, `j < n_cols`, and
/// no other thread may access those elements meanwhile.
#[allow(clippy::too_many_arguments)]
pub unsafe fn multiply_into(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    b: &[f32],
    ldb: usize,
    n_cols: usize,
    out: *mut f32,
    ldo: usize,
) {
    assert_eq!(row0 % PANEL, 0, "row0 must start a panel");
    assert!(row0 + n_rows <= w.rows);
    if n_rows == 0 || n_cols == 0 {
        return;
    }
    assert!(ldb >= n_cols && ldo >= n_cols);
    assert!(w.depth == 0 || b.len() >= (w.depth - 1) * ldb + n_cols);
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features; the asserts above and the caller's promise
            // bound every access.
            unsafe { avx2::multiply(w, row0, n_rows, b, ldb, n_cols, out, ldo) };
            return;
        }
    }
    // SAFETY: as above (SIMD128, when compiled in, is on for the whole build).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        super::panel_gemm_simd128::multiply(w, row0, n_rows, b, ldb, n_cols, out, ldo)
    };
    // SAFETY: as above.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    unsafe {
        multiply_generic(w, row0, n_rows, b, ldb, n_cols, out, ldo)
    };
}

/// The same sums, in the same order, without SIMD.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
unsafe fn multiply_generic(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    b: &[f32],
    ldb: usize,
    n_cols: usize,
    out: *mut f32,
    ldo: usize,
) {
    for r in 0..n_rows {
        let panel = w.panel((row0 + r) / PANEL);
        let lane = (row0 + r) % PANEL;
        for j in 0..n_cols {
            let mut sum = 0f32;
            for k in 0..w.depth {
                sum = panel[k * PANEL + lane].mul_add(b[k * ldb + j], sum);
            }
            *out.add(r * ldo + j) = sum;
        }
    }
}

/// A run of consecutive depth steps of a convolution read from its input in place: step
/// `k` of the run reads `offset + k·step` floats past a column's base (one kernel tap
/// over every input channel, when the input is a stack of planes `step` floats apart).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub offset: usize,
    pub len: usize,
}

/// Per output row (channel): `activation((sum + bias) · scale + shift)`, the vectors
/// padded to whole panels. Adding 0 and multiplying by 1 are exact, so absent steps are 0,
/// 1 and 0 and round as if skipped.
#[derive(Debug, Clone)]
pub struct RowEpilogue {
    pub bias: Vec<f32>,
    pub scale: Vec<f32>,
    pub shift: Vec<f32>,
    pub activation: Activation,
}

impl RowEpilogue {
    /// No bias, no scale, no activation, for `rows` rows.
    pub fn identity(rows: usize) -> Self {
        let padded = rows.next_multiple_of(PANEL);
        RowEpilogue {
            bias: vec![0.0; padded],
            scale: vec![1.0; padded],
            shift: vec![0.0; padded],
            activation: Activation::Identity,
        }
    }

    #[inline(always)]
    fn apply(&self, r: usize, v: f32) -> f32 {
        self.activation
            .apply((v + self.bias[r]) * self.scale[r] + self.shift[r])
    }

    /// Row `r`'s steps, to run over many values.
    pub(crate) fn channel(&self, r: usize) -> ChannelSteps {
        ChannelSteps {
            bias: self.bias[r],
            scale: self.scale[r],
            shift: self.shift[r],
            activation: self.activation,
        }
    }
}

/// One row's `activation((v + bias) · scale + shift)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ChannelSteps {
    bias: f32,
    scale: f32,
    shift: f32,
    activation: Activation,
}

impl ChannelSteps {
    /// On every value, in place; one loop per activation, so each vectorises.
    pub(crate) fn apply(self, values: &mut [f32]) {
        let ChannelSteps {
            bias,
            scale,
            shift,
            activation,
        } = self;
        match activation {
            Activation::Identity => values
                .iter_mut()
                .for_each(|v| *v = (*v + bias) * scale + shift),
            Activation::Relu => values.iter_mut().for_each(|v| {
                *v = Activation::Relu.apply((*v + bias) * scale + shift);
            }),
            Activation::Relu6 => values.iter_mut().for_each(|v| {
                *v = Activation::Relu6.apply((*v + bias) * scale + shift);
            }),
            Activation::Leaky => values.iter_mut().for_each(|v| {
                *v = Activation::Leaky.apply((*v + bias) * scale + shift);
            }),
        }
    }
}

/// Where a convolution's operands and results lie, for [`conv_columns`].
pub struct ConvColumns<'a> {
    /// The input (phase planes, see `dense_kernel`).
    pub input: &'a [f32],
    /// The depth in [`Segment`]s, in the order of the packed weights' depth.
    pub segments: &'a [Segment],
    /// Distance between consecutive depth steps of a segment.
    pub step: usize,
    /// Each column's base in `input`.
    pub col_in: &'a [usize],
    /// Each column's offset in the output (row 0); row `r` is `r·row_stride` further.
    pub col_out: &'a [usize],
    pub row_stride: usize,
}

/// `out[col_out[j] + r·row_stride] = epilogue_r(Σ_k W[r, k] · input[col_in[j] + off(k)])`
/// for rows `row0..row0+n_rows` (`row0` starts a panel) and every column `j`; with
/// `residual` (laid out as the output), `relu(epilogue_r(sum) + residual)`. The sum over
/// the whole depth stays in registers, so the epilogue runs once per value, before the
/// single store.
///
/// # Safety
/// Every output element addressed must be valid for writes and touched by no other thread
/// meanwhile; `residual`, if given, must be readable at the same offsets.
pub unsafe fn conv_columns(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    c: &ConvColumns,
    epilogue: &RowEpilogue,
    residual: Option<*const f32>,
    out: *mut f32,
) {
    assert_eq!(row0 % PANEL, 0, "row0 must start a panel");
    assert!(row0 + n_rows <= w.rows);
    assert_eq!(c.col_in.len(), c.col_out.len());
    assert_eq!(
        c.segments.iter().map(|s| s.len).sum::<usize>(),
        w.depth,
        "segments must cover the depth"
    );
    let padded = w.rows.div_ceil(PANEL) * PANEL;
    assert!(epilogue.bias.len() >= padded && epilogue.scale.len() >= padded);
    assert!(epilogue.shift.len() >= padded);
    // Every read stays inside the input.
    if let Some(&last) = c.col_in.iter().max() {
        for s in c.segments.iter().filter(|s| s.len > 0) {
            assert!(last + s.offset + (s.len - 1) * c.step < c.input.len());
        }
    }
    if n_rows == 0 || c.col_in.is_empty() {
        return;
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: the CPU has the features; the asserts and the caller's promise bound
            // every access.
            unsafe { avx2::conv_columns(w, row0, n_rows, c, epilogue, residual, out) };
            return;
        }
    }
    // SAFETY: as above (SIMD128, when compiled in, is on for the whole build).
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    unsafe {
        super::panel_gemm_simd128::conv_columns(w, row0, n_rows, c, epilogue, residual, out)
    };
    // SAFETY: as above.
    #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
    unsafe {
        conv_columns_generic(w, row0, n_rows, c, epilogue, residual, out)
    }
}

/// The same sums, in the same order, without SIMD.
#[cfg_attr(
    all(target_arch = "wasm32", target_feature = "simd128"),
    allow(dead_code)
)]
unsafe fn conv_columns_generic(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    c: &ConvColumns,
    epilogue: &RowEpilogue,
    residual: Option<*const f32>,
    out: *mut f32,
) {
    for r in row0..row0 + n_rows {
        let panel = w.panel(r / PANEL);
        let lane = r % PANEL;
        for (&base, &dst) in c.col_in.iter().zip(c.col_out) {
            let mut sum = 0f32;
            let mut k = 0;
            for s in c.segments {
                for i in 0..s.len {
                    sum =
                        panel[k * PANEL + lane].mul_add(c.input[base + s.offset + i * c.step], sum);
                    k += 1;
                }
            }
            let at = dst + r * c.row_stride;
            let mut v = epilogue.apply(r, sum);
            if let Some(res) = residual {
                v = super::pool::max(v + *res.add(at), 0.0);
            }
            *out.add(at) = v;
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{Activation, ConvColumns, PackedWeights, RowEpilogue, COLUMNS, PANEL};
    use crate::ops::epilogue::avx2::activate;
    use crate::ops::simd_blocking::{for_each_panel, for_each_step, store_columns, ConvTile, Step};

    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn conv_columns(
        w: &PackedWeights,
        row0: usize,
        n_rows: usize,
        c: &ConvColumns,
        epilogue: &RowEpilogue,
        residual: Option<*const f32>,
        out: *mut f32,
    ) {
        let n_cols = c.col_in.len();
        for_each_panel(w, row0, n_rows, c, epilogue, residual, out, |tile| {
            let mut j = 0;
            while j + COLUMNS <= n_cols {
                conv_tile::<COLUMNS>(tile, &c.col_in[j..], &c.col_out[j..]);
                j += COLUMNS;
            }
            let (col_in, col_out) = (&c.col_in[j..], &c.col_out[j..]);
            match n_cols - j {
                1 => conv_tile::<1>(tile, col_in, col_out),
                2 => conv_tile::<2>(tile, col_in, col_out),
                3 => conv_tile::<3>(tile, col_in, col_out),
                4 => conv_tile::<4>(tile, col_in, col_out),
                5 => conv_tile::<5>(tile, col_in, col_out),
                _ => {}
            }
        });
    }

    /// `P` columns × one panel over the whole depth: each step broadcasts `P` input values
    /// (one per column, from the column's own base) against the panel's 16 weights.
    // Column i indexes the bases and the accumulators alike.
    #[allow(clippy::needless_range_loop)]
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn conv_tile<const P: usize>(t: &ConvTile, col_in: &[usize], col_out: &[usize]) {
        let mut base = [t.input; P];
        for i in 0..P {
            base[i] = t.input.add(col_in[i]);
        }
        let mut lo = [_mm256_setzero_ps(); P];
        let mut hi = [_mm256_setzero_ps(); P];
        let mut wk = t.panel;
        for s in t.segments {
            let mut off = s.offset;
            for _ in 0..s.len {
                let w0 = _mm256_loadu_ps(wk);
                let w1 = _mm256_loadu_ps(wk.add(8));
                for i in 0..P {
                    let a = _mm256_broadcast_ss(&*base[i].add(off));
                    lo[i] = _mm256_fmadd_ps(a, w0, lo[i]);
                    hi[i] = _mm256_fmadd_ps(a, w1, hi[i]);
                }
                wk = wk.add(PANEL);
                off += t.step;
            }
        }
        // The epilogue on the sums in registers: channels are the vector lanes.
        let e = t.epilogue;
        let lane = |v: &[f32], k: usize| _mm256_loadu_ps(v.as_ptr().add(t.row + k));
        let (b0, b1) = (lane(&e.bias, 0), lane(&e.bias, 8));
        let (s0, s1) = (lane(&e.scale, 0), lane(&e.scale, 8));
        let (h0, h1) = (lane(&e.shift, 0), lane(&e.shift, 8));
        for i in 0..P {
            let v0 = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(lo[i], b0), s0), h0);
            let v1 = _mm256_add_ps(_mm256_mul_ps(_mm256_add_ps(hi[i], b1), s1), h1);
            (lo[i], hi[i]) = match e.activation {
                Activation::Identity => (v0, v1),
                Activation::Relu => (activate::<1>(v0), activate::<1>(v1)),
                Activation::Relu6 => (activate::<2>(v0), activate::<2>(v1)),
                Activation::Leaky => (activate::<3>(v0), activate::<3>(v1)),
            };
        }
        let mut sums = [[0f32; PANEL]; P];
        for i in 0..P {
            _mm256_storeu_ps(sums[i].as_mut_ptr(), lo[i]);
            _mm256_storeu_ps(sums[i].as_mut_ptr().add(8), hi[i]);
        }
        store_columns(t, col_out, &sums);
    }

    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn multiply(
        w: &PackedWeights,
        row0: usize,
        n_rows: usize,
        b: &[f32],
        ldb: usize,
        n_cols: usize,
        out: *mut f32,
        ldo: usize,
    ) {
        for_each_step(w, row0, n_rows, b, ldb, out, ldo, |step, b, dst| {
            let mut j = 0;
            while j + COLUMNS <= n_cols {
                tile::<COLUMNS>(step, b.add(j), dst.add(j));
                j += COLUMNS;
            }
            let (b, dst) = (b.add(j), dst.add(j));
            match n_cols - j {
                1 => tile::<1>(step, b, dst),
                2 => tile::<2>(step, b, dst),
                3 => tile::<3>(step, b, dst),
                4 => tile::<4>(step, b, dst),
                5 => tile::<5>(step, b, dst),
                _ => {}
            }
        });
    }

    /// `P` columns × one panel: each step broadcasts `P` activations against the panel's
    /// 16 weights, all sums in registers until the end of the block.
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn tile<const P: usize>(step: &Step, b: *const f32, out: *mut f32) {
        let Step {
            depth,
            panel,
            ldb,
            ldo,
            live,
            accumulate,
        } = *step;
        let mut sums = [[0f32; PANEL]; P];
        if accumulate {
            for c in 0..live {
                for (i, column) in sums.iter_mut().enumerate() {
                    column[c] = *out.add(c * ldo + i);
                }
            }
        }
        let mut lo = [_mm256_setzero_ps(); P];
        let mut hi = [_mm256_setzero_ps(); P];
        for i in 0..P {
            lo[i] = _mm256_loadu_ps(sums[i].as_ptr());
            hi[i] = _mm256_loadu_ps(sums[i].as_ptr().add(8));
        }
        let (mut wk, mut bk) = (panel, b);
        for _ in 0..depth {
            let w0 = _mm256_loadu_ps(wk);
            let w1 = _mm256_loadu_ps(wk.add(8));
            for i in 0..P {
                let a = _mm256_broadcast_ss(&*bk.add(i));
                lo[i] = _mm256_fmadd_ps(a, w0, lo[i]);
                hi[i] = _mm256_fmadd_ps(a, w1, hi[i]);
            }
            wk = wk.add(PANEL);
            bk = bk.add(ldb);
        }
        for i in 0..P {
            _mm256_storeu_ps(sums[i].as_mut_ptr(), lo[i]);
            _mm256_storeu_ps(sums[i].as_mut_ptr().add(8), hi[i]);
        }
        for c in 0..live {
            for (i, column) in sums.iter().enumerate() {
                *out.add(c * ldo + i) = column[c];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every remainder of rows (partial panels) and columns (partial tiles), with strides
    /// wider than the block, against a plain triple loop.
    #[test]
    fn matches_naive_product() {
        let mut seed = 7u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for (rows, depth, n_cols) in [
            (16, 9, 6),
            (40, 27, 13),
            (5, 3, 1),
            (33, 64, 50),
            (32, 147, 17),
            (48, 600, 8),
        ] {
            let weights: Vec<f32> = (0..rows * depth).map(|_| next()).collect();
            let packed = PackedWeights::pack(&weights, rows, depth);
            let ldb = n_cols + 3;
            let b: Vec<f32> = (0..depth * ldb).map(|_| next()).collect();
            let ldo = n_cols + 2;
            for (row0, n_rows) in [(0, rows), (16, rows.saturating_sub(16))] {
                if row0 >= rows {
                    continue;
                }
                let mut out = vec![f32::NAN; n_rows * ldo];
                multiply(&packed, row0, n_rows, &b, ldb, n_cols, &mut out, ldo);
                for r in 0..n_rows {
                    for j in 0..n_cols {
                        let expected: f32 = (0..depth)
                            .map(|k| weights[(row0 + r) * depth + k] * b[k * ldb + j])
                            .sum();
                        let got = out[r * ldo + j];
                        assert!(
                            (got - expected).abs() < 1e-4,
                            "{rows}x{depth}x{n_cols} row {} col {j}: {got} vs {expected}",
                            row0 + r
                        );
                    }
                    assert!(out[r * ldo + n_cols..(r + 1) * ldo]
                        .iter()
                        .all(|v| v.is_nan()));
                }
            }
        }
    }
}
