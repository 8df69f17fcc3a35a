//! Dense convolution on NCHW `f32` buffers: im2col into cache-sized column tiles, one
//! single-threaded product with the packed weights per tile, tiles spread over rayon's
//! threads, and the per-channel epilogue fused into the copy from the tile's product to the
//! NCHW output.
//!
//! Why not candle's `conv2d`: it materialises the whole im2col matrix for the batch (nine
//! times the activations for a 3×3 conv, far beyond cache), then needs separate passes for
//! bias, scale and relu; at batch 1 it splits small matrices across threads badly.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::panel_gemm::{self, PackedWeights, PANEL};
use super::OutPtr;

/// Shapes of one convolution; padding amounts follow TensorFlow (see [`super::Padding`]).
#[derive(Debug, Clone, Copy)]
pub struct Geometry {
    pub batch: usize,
    pub in_channels: usize,
    pub height: usize,
    pub width: usize,
    pub out_channels: usize,
    pub kernel_h: usize,
    pub kernel_w: usize,
    pub stride: usize,
    pub pad_top: usize,
    pub pad_left: usize,
    pub out_h: usize,
    pub out_w: usize,
}

impl Geometry {
    /// Rows of the im2col matrix: one per (input channel, kernel row, kernel column).
    fn depth(&self) -> usize {
        self.in_channels * self.kernel_h * self.kernel_w
    }

    fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }
}

/// Per output channel: `+ bias`, then `* scale + shift`, then relu; each step rounded to f32
/// separately, as the tfjs ops it replaces.
#[derive(Debug, Clone, Default)]
pub struct DenseEpilogue {
    pub bias: Option<Vec<f32>>,
    pub scale: Option<(Vec<f32>, Vec<f32>)>,
    pub relu: bool,
}

impl DenseEpilogue {
    #[inline(always)]
    fn apply(&self, c: usize, mut v: f32) -> f32 {
        if let Some(b) = &self.bias {
            v += b[c];
        }
        if let Some((s, t)) = &self.scale {
            v = v * s[c] + t[c];
        }
        if self.relu {
            v = v.max(0.0);
        }
        v
    }
}

/// `out[n, co, y, x] = epilogue(Σ weight[co, ci, ky, kx] · input[n, ci, y·s+ky−pt, x·s+kx−pl])`
/// with zeros outside the input. `weight` is `[out_channels, in_channels·kh·kw]`, packed.
/// With `residual` (shaped as `out`), each result becomes `relu(epilogue(sum) + residual)`:
/// a ResNet block's closing add and relu without another pass over memory.
pub fn conv2d(
    input: &[f32],
    weight: &PackedWeights,
    g: &Geometry,
    epilogue: &DenseEpilogue,
    residual: Option<&[f32]>,
    out: &mut [MaybeUninit<f32>],
) {
    let depth = g.depth();
    let plane = g.out_plane();
    let columns = g.batch * plane;
    assert_eq!(input.len(), g.batch * g.in_channels * g.height * g.width);
    assert_eq!((weight.rows(), weight.depth()), (g.out_channels, depth));
    assert_eq!(out.len(), g.batch * g.out_channels * plane);
    if let Some(r) = residual {
        assert_eq!(r.len(), out.len());
    }
    if columns == 0 || g.out_channels == 0 {
        return;
    }
    let threads = rayon::current_num_threads().max(1);
    let tile = panel_gemm::columns_per_task(depth, columns, threads, (32, 1024));
    let tiles = columns.div_ceil(tile);
    // Too few tiles to keep every thread busy (deep layers, batch 1): split output channels.
    let row_blocks = if tiles >= threads {
        1
    } else {
        threads
            .div_ceil(tiles)
            .min(g.out_channels.div_ceil(32))
            .max(1)
    };
    let rows_per_block = g.out_channels.div_ceil(row_blocks).next_multiple_of(PANEL);
    let row_blocks = g.out_channels.div_ceil(rows_per_block);
    let out_ptr = OutPtr(out.as_mut_ptr().cast::<f32>());
    (0..tiles * row_blocks).into_par_iter().for_each_init(
        || (vec![0f32; depth * tile], vec![0f32; rows_per_block * tile]),
        |(cols, product), item| {
            let (t, b) = (item / row_blocks, item % row_blocks);
            let c0 = t * tile;
            let n_cols = tile.min(columns - c0);
            let r0 = b * rows_per_block;
            let n_rows = rows_per_block.min(g.out_channels - r0);
            im2col(input, g, c0, n_cols, cols);
            panel_gemm::multiply(
                weight,
                r0,
                n_rows,
                &cols[..depth * n_cols],
                n_cols,
                n_cols,
                &mut product[..n_rows * n_cols],
                n_cols,
            );
            for r in 0..n_rows {
                let co = r0 + r;
                let row = &product[r * n_cols..(r + 1) * n_cols];
                let mut j = 0;
                while j < n_cols {
                    let (img, p) = ((c0 + j) / plane, (c0 + j) % plane);
                    let run = (plane - p).min(n_cols - j);
                    let dst = (img * g.out_channels + co) * plane + p;
                    // SAFETY: (img, co, p..p+run) is inside `out` and owned by this
                    // (tile, row block) pair alone; it may be uninitialised, so it is only
                    // written, as `MaybeUninit`.
                    let dst_run: &mut [MaybeUninit<f32>] =
                        unsafe { std::slice::from_raw_parts_mut(out_ptr.at(dst).cast(), run) };
                    let sums = &row[j..j + run];
                    match residual {
                        None => {
                            for (d, &v) in dst_run.iter_mut().zip(sums) {
                                d.write(epilogue.apply(co, v));
                            }
                        }
                        Some(res) => {
                            for ((d, &v), &r) in
                                dst_run.iter_mut().zip(sums).zip(&res[dst..dst + run])
                            {
                                d.write((epilogue.apply(co, v) + r).max(0.0));
                            }
                        }
                    }
                    j += run;
                }
            }
        },
    );
}

/// Fills `cols` (`depth` rows of `n_cols`) with the im2col matrix for output columns
/// `c0..c0+n_cols` of the whole batch (column = image·plane + y·out_w + x).
fn im2col(input: &[f32], g: &Geometry, c0: usize, n_cols: usize, cols: &mut [f32]) {
    let plane = g.out_plane();
    let in_plane = g.height * g.width;
    let (kh, kw) = (g.kernel_h, g.kernel_w);
    for ci in 0..g.in_channels {
        for ky in 0..kh {
            for kx in 0..kw {
                let r = (ci * kh + ky) * kw + kx;
                let row = &mut cols[r * n_cols..(r + 1) * n_cols];
                let mut j = 0;
                while j < n_cols {
                    let (img, p) = ((c0 + j) / plane, (c0 + j) % plane);
                    let (oy, ox0) = (p / g.out_w, p % g.out_w);
                    let run = (g.out_w - ox0).min(n_cols - j);
                    let seg = &mut row[j..j + run];
                    let iy = (oy * g.stride + ky).wrapping_sub(g.pad_top);
                    if iy >= g.height {
                        seg.fill(0.0);
                    } else {
                        let src = &input[(img * g.in_channels + ci) * in_plane + iy * g.width..]
                            [..g.width];
                        gather_row(src, g.stride, kx as isize - g.pad_left as isize, ox0, seg);
                    }
                    j += run;
                }
            }
        }
    }
}

/// `seg[i] = src[(ox0 + i)·stride + offset]`, zero where that falls outside `src`.
#[inline]
fn gather_row(src: &[f32], stride: usize, offset: isize, ox0: usize, seg: &mut [f32]) {
    let w = src.len() as isize;
    if stride == 1 {
        let start = ox0 as isize + offset;
        let (lo, hi) = (start.max(0), (start + seg.len() as isize).min(w));
        if lo >= hi {
            seg.fill(0.0);
            return;
        }
        let (before, inside) = ((lo - start) as usize, (hi - lo) as usize);
        seg[..before].fill(0.0);
        seg[before..before + inside].copy_from_slice(&src[lo as usize..hi as usize]);
        seg[before + inside..].fill(0.0);
        return;
    }
    // Outputs i with 0 ≤ (ox0 + i)·stride + offset < w form one range: zeros around a plain
    // strided copy, with no bounds test per element.
    let s = stride as isize;
    let first = ox0 as isize * s + offset;
    let lo = ((-first).max(0) as usize).div_ceil(stride).min(seg.len());
    let hi = ((w - first).max(0) as usize)
        .div_ceil(stride)
        .clamp(lo, seg.len());
    seg[..lo].fill(0.0);
    seg[hi..].fill(0.0);
    if hi > lo {
        let start = (first + lo as isize * s) as usize;
        let inside = src[start..].iter().step_by(stride);
        for (v, &x) in seg[lo..hi].iter_mut().zip(inside) {
            *v = x;
        }
    }
}
