//! Dense convolution on NCHW `f32` buffers as an implicit GEMM: the product with the
//! weights (packed once at load) reads the input in place, with the per-channel epilogue
//! (and a ResNet block's residual add) applied to the sums in registers before the single
//! store. Column blocks and output-channel blocks are spread over rayon's threads.
//!
//! The input is first rearranged into zero-padded *phase planes*: for stride `s`, phase
//! `(py, px)` holds padded rows `py, py + s, …` and columns `px, px + s, …`. Kernel tap
//! `(ky, kx)` of output pixel `(oy, ox)` then sits in phase `(ky % s, kx % s)` at row
//! `oy + ky / s`, column `ox + kx / s`: for every tap, a fixed offset from the pixel's base
//! and a fixed distance between input channels. So the whole depth is one [`Segment`] per
//! tap, and the im2col matrix (nine times the activations for a 3×3 conv) is never built;
//! the rearranged copy is the size of the input.
//!
//! Why not candle's `conv2d`: it materialises the whole im2col matrix for the batch, far
//! beyond cache, then needs separate passes for bias, scale and relu.

use std::mem::MaybeUninit;

use rayon::prelude::*;

use super::depthwise_kernel::copy_strided;
use super::panel_gemm::{self, ConvColumns, PackedWeights, RowEpilogue, Segment, PANEL};
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
    /// Weights per output channel: one per (kernel row, kernel column, input channel).
    pub fn depth(&self) -> usize {
        self.in_channels * self.kernel_h * self.kernel_w
    }

    fn out_plane(&self) -> usize {
        self.out_h * self.out_w
    }

    /// Rows and columns of one phase plane: every tap of every output pixel inside it.
    fn phase_dims(&self) -> (usize, usize) {
        let s = self.stride;
        (
            self.out_h + (self.kernel_h - 1) / s,
            self.out_w + (self.kernel_w - 1) / s,
        )
    }

    fn phase_plane(&self) -> usize {
        let (hq, wq) = self.phase_dims();
        hq * wq
    }

    /// Floats of one image's phase planes.
    fn image_stride(&self) -> usize {
        self.stride * self.stride * self.in_channels * self.phase_plane()
    }

    /// The depth as one segment per tap, taps in row-major order, each over the input
    /// channels: the order [`pack_hwi`] gives the weights.
    fn segments(&self) -> Vec<Segment> {
        let s = self.stride;
        let (_, wq) = self.phase_dims();
        let phase = self.in_channels * self.phase_plane();
        (0..self.kernel_h)
            .flat_map(|ky| (0..self.kernel_w).map(move |kx| (ky, kx)))
            .map(|(ky, kx)| Segment {
                offset: ((ky % s) * s + kx % s) * phase + (ky / s) * wq + kx / s,
                len: self.in_channels,
            })
            .collect()
    }
}

/// OIHW weights packed for [`conv2d`]: each output channel's depth in (ky, kx, ci) order.
pub fn pack_hwi(
    oihw: &[f32],
    out_channels: usize,
    in_channels: usize,
    kh: usize,
    kw: usize,
) -> PackedWeights {
    let depth = in_channels * kh * kw;
    assert_eq!(oihw.len(), out_channels * depth);
    let mut rows = vec![0f32; oihw.len()];
    for co in 0..out_channels {
        for ci in 0..in_channels {
            for ky in 0..kh {
                for kx in 0..kw {
                    rows[co * depth + (ky * kw + kx) * in_channels + ci] =
                        oihw[((co * in_channels + ci) * kh + ky) * kw + kx];
                }
            }
        }
    }
    PackedWeights::pack(&rows, out_channels, depth)
}

/// `out[n, co, y, x] = epilogue(Σ weight[co, ci, ky, kx] · input[n, ci, y·s+ky−pt, x·s+kx−pl])`
/// with zeros outside the input; `weight` packed by [`pack_hwi`]. With `residual` (shaped
/// as `out`), each result becomes `relu(epilogue(sum) + residual)`: a ResNet block's
/// closing add and relu without another pass over memory.
pub fn conv2d(
    input: &[f32],
    weight: &PackedWeights,
    g: &Geometry,
    epilogue: &RowEpilogue,
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
    let phases = phase_planes(input, g);
    let segments = g.segments();
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
    let (_, wq) = g.phase_dims();
    let image_in = g.image_stride();
    let image_out = g.out_channels * plane;
    (0..tiles * row_blocks).into_par_iter().for_each_init(
        || (Vec::new(), Vec::new()),
        |(col_in, col_out): &mut (Vec<usize>, Vec<usize>), item| {
            let (t, b) = (item / row_blocks, item % row_blocks);
            let c0 = t * tile;
            let n_cols = tile.min(columns - c0);
            let r0 = b * rows_per_block;
            let n_rows = rows_per_block.min(g.out_channels - r0);
            col_in.clear();
            col_out.clear();
            for c in c0..c0 + n_cols {
                let (img, p) = (c / plane, c % plane);
                let (oy, ox) = (p / g.out_w, p % g.out_w);
                col_in.push(img * image_in + oy * wq + ox);
                col_out.push(img * image_out + p);
            }
            let columns = ConvColumns {
                input: &phases,
                segments: &segments,
                step: g.phase_plane(),
                col_in,
                col_out,
                row_stride: plane,
            };
            // SAFETY: this (column tile, row block) pair alone writes its outputs, all
            // inside `out` (rows < out_channels, columns < batch·plane), and `residual` has
            // the output's shape.
            unsafe {
                panel_gemm::conv_columns(
                    weight,
                    r0,
                    n_rows,
                    &columns,
                    epilogue,
                    residual.map(<[f32]>::as_ptr),
                    out_ptr.at(0),
                )
            };
        },
    );
}

/// The input rearranged into zero-padded phase planes, `[image][phase][channel][row][col]`
/// (see the module comment).
fn phase_planes(input: &[f32], g: &Geometry) -> Vec<f32> {
    let s = g.stride;
    let (hq, wq) = g.phase_dims();
    let in_plane = g.height * g.width;
    let mut out = vec![0f32; g.batch * g.image_stride()];
    let work = |(index, dst): (usize, &mut [f32])| {
        // index = (image·s² + phase)·channels + channel
        let ci = index % g.in_channels;
        let phase = (index / g.in_channels) % (s * s);
        let img = index / (g.in_channels * s * s);
        let (py, px) = (phase / s, phase % s);
        let src = &input[(img * g.in_channels + ci) * in_plane..][..in_plane];
        // Phase column j is input column j·s + px − pl: inside the input for j in lo..hi.
        let first = px as isize - g.pad_left as isize;
        let lo = ((-first).max(0) as usize).div_ceil(s).min(wq);
        let hi = ((g.width as isize - first).max(0) as usize)
            .div_ceil(s)
            .clamp(lo, wq);
        for (i, row) in dst.chunks_exact_mut(wq).enumerate() {
            let Some(iy) = (i * s + py).checked_sub(g.pad_top) else {
                continue;
            };
            if iy >= g.height || hi == lo {
                continue;
            }
            let start = iy * g.width + (first + (lo * s) as isize) as usize;
            copy_strided(&src[start..], s, &mut row[lo..hi]);
        }
    };
    // Below this many floats the rearrangement is not worth splitting over threads.
    if out.len() < 64 * 1024 {
        out.chunks_exact_mut(hq * wq).enumerate().for_each(work);
    } else {
        out.par_chunks_mut(hq * wq).enumerate().for_each(work);
    }
    out
}
