//! [`super::panel_gemm::multiply_into`] and [`super::panel_gemm::conv_columns`] for
//! WebAssembly SIMD128 (the browser build).
//!
//! The same blocking as the AVX2 kernels: one panel of 16 output rows (four 4-float
//! vectors) against a few columns of `B` at a time, each step broadcasting one activation
//! per column against the panel's 16 weights, sums in registers until the end of a depth
//! block. WebAssembly has no fused multiply-add, so each step is a multiply then an add
//! (rounded twice; the native kernels round once, a difference far below the networks'
//! own tolerance, see the export's browser test).

use std::arch::wasm32::*;

use super::epilogue::simd128::activate;
use super::panel_gemm::{ConvColumns, PackedWeights, RowEpilogue, Segment, DEPTH_BLOCK, PANEL};

/// Columns per microkernel call: 2 × 4 accumulators, the panel's 4 weight vectors, a
/// broadcast and a product fit the 16 vector registers of an x86-64 host. With 3 columns
/// (12 accumulators) the browser's compiler spills every step: 10 % slower end to end.
const COLUMNS: usize = 2;

/// # Safety
/// As [`super::panel_gemm::multiply_into`], whose checks have run.
#[allow(clippy::too_many_arguments)]
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
        for k0 in (0..w.depth()).step_by(DEPTH_BLOCK) {
            let step = Step {
                depth: DEPTH_BLOCK.min(w.depth() - k0),
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
            if j < n_cols {
                tile::<1>(&step, b, dst);
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

#[inline(always)]
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
    let mut acc = [[f32x4_splat(0.0); 4]; P];
    for i in 0..P {
        for (q, v) in acc[i].iter_mut().enumerate() {
            *v = v128_load(sums[i].as_ptr().add(4 * q) as *const v128);
        }
    }
    let (mut wk, mut bk) = (panel, b);
    for _ in 0..depth {
        let w = [0, 1, 2, 3].map(|q| v128_load(wk.add(4 * q) as *const v128));
        for i in 0..P {
            let a = f32x4_splat(*bk.add(i));
            for q in 0..4 {
                acc[i][q] = f32x4_add(acc[i][q], f32x4_mul(a, w[q]));
            }
        }
        wk = wk.add(PANEL);
        bk = bk.add(ldb);
    }
    for i in 0..P {
        for (q, v) in acc[i].iter().enumerate() {
            v128_store(sums[i].as_mut_ptr().add(4 * q) as *mut v128, *v);
        }
    }
    for c in 0..live {
        for (i, column) in sums.iter().enumerate() {
            *out.add(c * ldo + i) = column[c];
        }
    }
}

/// # Safety
/// As [`super::panel_gemm::conv_columns`], whose checks have run.
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
    for r in (row0..row0 + n_rows).step_by(PANEL) {
        let tile = ConvTile {
            panel: w.panel(r / PANEL).as_ptr(),
            input: c.input.as_ptr(),
            segments: c.segments,
            step: c.step,
            row: r,
            live: (row0 + n_rows - r).min(PANEL),
            row_stride: c.row_stride,
            epilogue,
            residual,
            out,
        };
        let mut j = 0;
        while j + COLUMNS <= n_cols {
            conv_tile::<COLUMNS>(&tile, &c.col_in[j..], &c.col_out[j..]);
            j += COLUMNS;
        }
        let (col_in, col_out) = (&c.col_in[j..], &c.col_out[j..]);
        if j < n_cols {
            conv_tile::<1>(&tile, col_in, col_out);
        }
    }
}

/// One panel of a convolution, shared by its column tiles.
struct ConvTile<'a> {
    panel: *const f32,
    input: *const f32,
    segments: &'a [Segment],
    step: usize,
    /// The panel's first output row.
    row: usize,
    live: usize,
    row_stride: usize,
    epilogue: &'a RowEpilogue,
    residual: Option<*const f32>,
    out: *mut f32,
}

/// `P` columns × one panel over the whole depth: each step broadcasts `P` input values
/// (one per column, from the column's own base) against the panel's 16 weights; then the
/// epilogue on the sums in registers (channels are the lanes) and one store per value.
// The store walks the sums by row (channel) across columns: a transposition.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
unsafe fn conv_tile<const P: usize>(t: &ConvTile, col_in: &[usize], col_out: &[usize]) {
    let mut base = [t.input; P];
    for i in 0..P {
        base[i] = t.input.add(col_in[i]);
    }
    let mut acc = [[f32x4_splat(0.0); 4]; P];
    let mut wk = t.panel;
    for s in t.segments {
        let mut off = s.offset;
        for _ in 0..s.len {
            let w = [0, 1, 2, 3].map(|q| v128_load(wk.add(4 * q) as *const v128));
            for i in 0..P {
                let a = f32x4_splat(*base[i].add(off));
                for q in 0..4 {
                    acc[i][q] = f32x4_add(acc[i][q], f32x4_mul(a, w[q]));
                }
            }
            wk = wk.add(PANEL);
            off += t.step;
        }
    }
    let e = t.epilogue;
    let lane = |v: &[f32], q: usize| v128_load(v.as_ptr().add(t.row + 4 * q) as *const v128);
    let mut sums = [[0f32; PANEL]; P];
    for q in 0..4 {
        let (b, s, h) = (lane(&e.bias, q), lane(&e.scale, q), lane(&e.shift, q));
        for i in 0..P {
            let v = f32x4_add(f32x4_mul(f32x4_add(acc[i][q], b), s), h);
            let v = activate(v, e.activation);
            v128_store(sums[i].as_mut_ptr().add(4 * q) as *mut v128, v);
        }
    }
    // Column i of row r goes to out[at[i] + r·row_stride].
    let mut at = [0usize; P];
    for i in 0..P {
        at[i] = col_out[i] + t.row * t.row_stride;
    }
    match t.residual {
        None => {
            for r in 0..t.live {
                let dst = t.out.add(r * t.row_stride);
                for i in 0..P {
                    *dst.add(at[i]) = sums[i][r];
                }
            }
        }
        Some(res) => {
            for r in 0..t.live {
                let (dst, res) = (t.out.add(r * t.row_stride), res.add(r * t.row_stride));
                for i in 0..P {
                    let v = sums[i][r] + *res.add(at[i]);
                    *dst.add(at[i]) = if v > 0.0 { v } else { 0.0 };
                }
            }
        }
    }
}
