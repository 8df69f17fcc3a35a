//! `out = W · B` for a convolution's weights `W` (`[rows, depth]`, packed once at load) and
//! an activation matrix `B` (`[depth, n_cols]`, used in place: an im2col tile, or a 1×1
//! conv's input plane).
//!
//! Why not the `gemm` crate: it packs both operands on every call. Weights do not change,
//! and `B` is already laid out row by row, so that packing was pure copying: as much work
//! as the im2col itself, plus a re-pack of up to 2.3 MB of weights for each tile of a deep
//! layer, where at batch 1 a tile is 9 columns.

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

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use std::arch::x86_64::*;

    use super::{PackedWeights, COLUMNS, DEPTH_BLOCK, PANEL};

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
        for r in (0..n_rows).step_by(PANEL) {
            let live = (n_rows - r).min(PANEL);
            let dst = out.add(r * ldo);
            for k0 in (0..w.depth).step_by(DEPTH_BLOCK) {
                let step = Step {
                    depth: DEPTH_BLOCK.min(w.depth - k0),
                    panel: w.panel((row0 + r) / PANEL).as_ptr().add(k0 * PANEL),
                    ldb,
                    ldo,
                    live,
                    accumulate: k0 > 0,
                };
                let b = b.as_ptr().add(k0 * ldb);
                let mut j = 0;
                while j + COLUMNS <= n_cols {
                    tile::<COLUMNS>(&step, b.add(j), dst.add(j));
                    j += COLUMNS;
                }
                let (b, dst) = (b.add(j), dst.add(j));
                match n_cols - j {
                    1 => tile::<1>(&step, b, dst),
                    2 => tile::<2>(&step, b, dst),
                    3 => tile::<3>(&step, b, dst),
                    4 => tile::<4>(&step, b, dst),
                    5 => tile::<5>(&step, b, dst),
                    _ => {}
                }
            }
        }
    }

    /// One panel over one block of the depth.
    struct Step {
        depth: usize,
        panel: *const f32,
        ldb: usize,
        ldo: usize,
        live: usize,
        /// Add to the sums already in `out` (every block but the first).
        accumulate: bool,
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
