//! The blocking the SIMD products share (AVX2 in `panel_gemm`, SIMD128 in
//! `panel_gemm_simd128`): the loops over panels and depth blocks, and what each
//! microkernel call gets. Each ISA keeps its own column tiling (6 columns a step under
//! AVX2, 2 under SIMD128, and their tails) in the closure it passes.

use super::panel_gemm::{ConvColumns, PackedWeights, RowEpilogue, Segment, DEPTH_BLOCK, PANEL};
use super::pool::max;

/// One panel over one block of the depth: what each microkernel call of a SIMD
/// [`super::panel_gemm::multiply_into`] gets.
pub(crate) struct Step {
    pub(crate) depth: usize,
    pub(crate) panel: *const f32,
    pub(crate) ldb: usize,
    pub(crate) ldo: usize,
    pub(crate) live: usize,
    /// Add to the sums already in `out` (every block but the first).
    pub(crate) accumulate: bool,
}

/// The blocking every SIMD [`super::panel_gemm::multiply_into`] shares: panel by panel,
/// then block by block of the depth; `columns(step, b, out)` runs one block's column tiles
/// from `b`'s and `out`'s first column, with the ISA's own microkernel widths. Inlined
/// into each ISA's function, so the closure and its microkernels compile with that
/// function's target features.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn for_each_step(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    b: &[f32],
    ldb: usize,
    out: *mut f32,
    ldo: usize,
    mut columns: impl FnMut(&Step, *const f32, *mut f32),
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
            columns(&step, b.as_ptr().add(k0 * ldb), dst);
        }
    }
}

/// One panel of a convolution, shared by its column tiles.
pub(crate) struct ConvTile<'a> {
    pub(crate) panel: *const f32,
    pub(crate) input: *const f32,
    pub(crate) segments: &'a [Segment],
    pub(crate) step: usize,
    /// The panel's first output row.
    pub(crate) row: usize,
    pub(crate) live: usize,
    pub(crate) row_stride: usize,
    pub(crate) epilogue: &'a RowEpilogue,
    pub(crate) residual: Option<*const f32>,
    pub(crate) out: *mut f32,
}

/// The panels every SIMD [`super::panel_gemm::conv_columns`] walks; `columns(tile)` runs
/// one panel's column tiles with the ISA's own microkernel widths (inlined as
/// [`for_each_step`] is).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) unsafe fn for_each_panel(
    w: &PackedWeights,
    row0: usize,
    n_rows: usize,
    c: &ConvColumns,
    epilogue: &RowEpilogue,
    residual: Option<*const f32>,
    out: *mut f32,
    mut columns: impl FnMut(&ConvTile),
) {
    for r in (row0..row0 + n_rows).step_by(PANEL) {
        columns(&ConvTile {
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
        });
    }
}

/// Stores `P` columns' finished sums (`sums[i][r]`: column `i`, the panel's row `r`) into
/// their output planes, a transposition: column `i` of row `r` goes to
/// `out[col_out[i] + (row + r)·row_stride]`, or `relu(sum + residual)` there with a
/// residual. The stores are scalar in both ISAs: the columns are far apart in the planes.
// Column i indexes the sums and the output offsets alike.
#[allow(clippy::needless_range_loop)]
#[inline(always)]
pub(crate) unsafe fn store_columns<const P: usize>(
    t: &ConvTile,
    col_out: &[usize],
    sums: &[[f32; PANEL]; P],
) {
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
                    *dst.add(at[i]) = max(sums[i][r] + *res.add(at[i]), 0.0);
                }
            }
        }
    }
}
