//! [`super::panel_gemm::multiply_into`] and [`super::panel_gemm::conv_columns`] for
//! WebAssembly SIMD128 (the browser build), and [`multiply_lanes`], the browser's 1×1
//! convolution.
//!
//! The same blocking as the AVX2 kernels: one panel of 16 output rows (four 4-float
//! vectors) against a few columns of `B` at a time, each step broadcasting one activation
//! per column against the panel's 16 weights, sums in registers until the end of a depth
//! block. Each step is [`madd`]: fused in the relaxed-SIMD build where the CPU has FMA,
//! a multiply then an add (rounded twice) in the SIMD128 build; the native kernels round
//! once. The difference is far below the networks' own tolerance (the export's browser
//! test runs both builds).

use std::arch::wasm32::*;

use super::epilogue::simd128::activate;
use super::panel_gemm::{ConvColumns, PackedWeights, RowEpilogue, PANEL};
use super::simd128::madd;
use super::simd_blocking::{for_each_panel, for_each_step, store_columns, ConvTile, Step};

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
    for_each_step(w, row0, n_rows, b, ldb, out, ldo, |step, b, dst| {
        let mut j = 0;
        while j + COLUMNS <= n_cols {
            tile::<COLUMNS>(step, b.add(j), dst.add(j));
            j += COLUMNS;
        }
        if j < n_cols {
            tile::<1>(step, b.add(j), dst.add(j));
        }
    });
}

// Column i indexes the sums, the accumulators and the input alike.
#[allow(clippy::needless_range_loop)]
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
                acc[i][q] = madd(acc[i][q], a, w[q]);
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
    for_each_panel(w, row0, n_rows, c, epilogue, residual, out, |tile| {
        let mut j = 0;
        while j + COLUMNS <= n_cols {
            conv_tile::<COLUMNS>(tile, &c.col_in[j..], &c.col_out[j..]);
            j += COLUMNS;
        }
        if j < n_cols {
            conv_tile::<1>(tile, &c.col_in[j..], &c.col_out[j..]);
        }
    });
}

/// `P` columns × one panel over the whole depth: each step broadcasts `P` input values
/// (one per column, from the column's own base) against the panel's 16 weights; then the
/// epilogue on the sums in registers (channels are the lanes) and one store per value.
// Column i indexes the bases and the accumulators alike.
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
                    acc[i][q] = madd(acc[i][q], a, w[q]);
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
    store_columns(t, col_out, &sums);
}

/// Rows per step of [`multiply_lanes`]: 4 rows × 2 vectors of columns are 8 accumulators,
/// beside 2 loaded input vectors, a broadcast weight and a product.
const LANE_ROWS: usize = 4;
/// Columns per step of [`multiply_lanes`]: two 4-float vectors.
const LANE_COLS: usize = 8;

/// `out[r·ldo + j] = epilogue_r(Σ_k W[r, k] · b[k·ldb + j])` for every row of `w` and
/// `j < n_cols`: the same sums as [`multiply`] followed by the epilogue, in the same order
/// and so to the same bits, with the columns in the vector lanes instead of the rows.
///
/// A 1×1 convolution's input and output are planes with the columns (pixels) contiguous,
/// so here each step loads 8 consecutive inputs and broadcasts one weight per row, and the
/// results leave as whole vectors with their epilogue already applied. [`multiply`] puts
/// the rows in the lanes and must transpose its sums into the planes, a cost that
/// dominates when the depth is short (16 to 64 in the tiny detector's first layers).
///
/// # Safety
/// `b.add(k·ldb + j)` must be readable for every `k < depth`, `j < n_cols`;
/// `out.add(r·ldo + j)` writable for every row `r` and `j < n_cols`, and no other thread
/// may access those elements meanwhile.
pub(crate) unsafe fn multiply_lanes(
    w: &PackedWeights,
    b: *const f32,
    ldb: usize,
    n_cols: usize,
    out: *mut f32,
    ldo: usize,
    epilogue: &super::epilogue::Epilogue,
) {
    let (rows, depth) = (w.rows(), w.depth());
    let steps: Vec<(v128, v128)> = (0..rows.next_multiple_of(LANE_ROWS))
        .map(|r| {
            let pick = |v: &Option<Vec<f32>>, absent: f32| {
                v.as_ref().and_then(|v| v.get(r).copied()).unwrap_or(absent)
            };
            (
                f32x4_splat(pick(&epilogue.scale, 1.0)),
                f32x4_splat(pick(&epilogue.shift, 0.0)),
            )
        })
        .collect();
    // Each strip of columns is first copied out contiguously: read in place, its rows lie
    // a plane apart, and planes of 1,024 or 4,096 floats put every row of the strip in
    // the same few L1 sets (18 % and 43 % slower in those layers).
    let mut packed = vec![0f32; depth * LANE_COLS];
    for j in (0..n_cols).step_by(LANE_COLS) {
        let width = (n_cols - j).min(LANE_COLS);
        let dst = packed.as_mut_ptr();
        if width == LANE_COLS {
            for k in 0..depth {
                let src = b.add(k * ldb + j);
                v128_store(
                    dst.add(k * LANE_COLS) as *mut v128,
                    v128_load(src as *const v128),
                );
                v128_store(
                    dst.add(k * LANE_COLS + 4) as *mut v128,
                    v128_load(src.add(4) as *const v128),
                );
            }
        } else {
            for k in 0..depth {
                for i in 0..width {
                    *dst.add(k * LANE_COLS + i) = *b.add(k * ldb + j + i);
                }
            }
        }
        for p in 0..rows.div_ceil(PANEL) {
            let panel = w.panel(p).as_ptr();
            for g in (0..PANEL).step_by(LANE_ROWS) {
                let r0 = p * PANEL + g;
                if r0 >= rows {
                    break;
                }
                lanes_tile(&LanesTile {
                    weights: panel.add(g),
                    depth,
                    b: packed.as_ptr(),
                    out: out.add(r0 * ldo + j),
                    ldo,
                    live: (rows - r0).min(LANE_ROWS),
                    width,
                    steps: &steps[r0..r0 + LANE_ROWS],
                    activation: epilogue.activation,
                });
            }
        }
    }
}

/// [`LANE_ROWS`] rows (a quarter panel) × up to [`LANE_COLS`] columns over the whole depth.
struct LanesTile<'a> {
    /// The rows' first weights inside their panel (`[depth][PANEL]`).
    weights: *const f32,
    depth: usize,
    /// The strip of inputs, `[depth][LANE_COLS]`.
    b: *const f32,
    /// The first row's output.
    out: *mut f32,
    ldo: usize,
    /// Rows to store (the panel's zero rows past the end are computed, not stored).
    live: usize,
    /// Columns to store; [`LANE_COLS`] are always read.
    width: usize,
    steps: &'a [(v128, v128)],
    activation: super::Activation,
}

#[inline(always)]
unsafe fn lanes_tile(t: &LanesTile) {
    let mut acc = [[f32x4_splat(0.0); 2]; LANE_ROWS];
    let (mut wk, mut bk) = (t.weights, t.b);
    for _ in 0..t.depth {
        let x = [
            v128_load(bk as *const v128),
            v128_load(bk.add(4) as *const v128),
        ];
        for (r, acc) in acc.iter_mut().enumerate() {
            let w = v128_load32_splat(wk.add(r) as *const u32);
            acc[0] = madd(acc[0], x[0], w);
            acc[1] = madd(acc[1], x[1], w);
        }
        wk = wk.add(PANEL);
        bk = bk.add(LANE_COLS);
    }
    for (r, acc) in acc.iter().enumerate().take(t.live) {
        let (scale, shift) = t.steps[r];
        let y = acc.map(|v| activate(f32x4_add(f32x4_mul(v, scale), shift), t.activation));
        let dst = t.out.add(r * t.ldo);
        if t.width == LANE_COLS {
            v128_store(dst as *mut v128, y[0]);
            v128_store(dst.add(4) as *mut v128, y[1]);
        } else {
            let mut row = [0f32; LANE_COLS];
            v128_store(row.as_mut_ptr() as *mut v128, y[0]);
            v128_store(row.as_mut_ptr().add(4) as *mut v128, y[1]);
            std::ptr::copy_nonoverlapping(row.as_ptr(), dst, t.width);
        }
    }
}
