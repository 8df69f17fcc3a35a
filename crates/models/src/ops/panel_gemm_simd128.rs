//! [`super::panel_gemm::multiply_into`] for WebAssembly SIMD128 (the browser build).
//!
//! The same blocking as the AVX2 kernel: one panel of 16 output rows (four 4-float
//! vectors) against a few columns of `B` at a time, each step broadcasting one activation
//! per column against the panel's 16 weights, sums in registers until the end of a depth
//! block. WebAssembly has no fused multiply-add, so each step is a multiply then an add
//! (rounded twice; the native kernels round once, a difference far below the networks'
//! own tolerance, see the export's browser test).

use std::arch::wasm32::*;

use super::panel_gemm::{PackedWeights, DEPTH_BLOCK, PANEL};

/// Columns per microkernel call: 3 × 4 accumulators plus a broadcast and a product fit
/// the 16 vector registers of an x86-64 host (the weights are read as memory operands).
const COLUMNS: usize = 3;

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
            match n_cols - j {
                1 => tile::<1>(&step, b, dst),
                2 => tile::<2>(&step, b, dst),
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
