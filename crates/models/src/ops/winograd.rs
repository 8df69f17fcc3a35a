//! 3×3 stride-1 `'same'` convolutions by Winograd's minimal filtering F(2×2, 3×3) (Lavin &
//! Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 2×2 block of
//! outputs comes from a 4×4 block of input through 16 products per (input, output)
//! channel pair instead of 36, so the products, which dominate, take 2.25× fewer
//! multiply-adds.
//!
//! The weights are transformed once at load (`U = G·g·Gᵀ`, 16 matrices `[out][in]`,
//! packed as [`PackedWeights`]); per call the input's 4×4 tiles are transformed
//! (`V = Bᵀ·d·B`, 16 matrices `[in][tiles]`), the 16 products `M = U·V` run on
//! [`panel_gemm::multiply_into`], and each output block is `Aᵀ·M·A`, finished by the same
//! epilogue (and residual add) as the direct kernel.
//!
//! The browser build uses it for the recognition net's 3×3 layers, where it is the largest
//! single saving: WebAssembly has 4-lane vectors without fused multiply-add, so products
//! cost twice what they do under AVX2/FMA. Native builds keep the direct implicit GEMM
//! (its results are the ones the golden tests pin); the tests here hold the two together.

use std::mem::MaybeUninit;

use super::panel_gemm::{self, PackedWeights, RowEpilogue};

/// Input tile side (output block 2 + kernel 3 − 1).
const TILE: usize = 4;
/// Transformed values per tile.
const POINTS: usize = TILE * TILE;

/// The weights of one 3×3 convolution in Winograd's domain.
#[derive(Debug, Clone)]
pub struct Winograd3x3 {
    /// `U[ξ]`, `[out][in]` for each of the 16 points ξ.
    u: Vec<PackedWeights>,
    in_channels: usize,
    out_channels: usize,
}

impl Winograd3x3 {
    /// From OIHW 3×3 weights.
    pub fn from_oihw(oihw: &[f32], out_channels: usize, in_channels: usize) -> Self {
        assert_eq!(oihw.len(), out_channels * in_channels * 9);
        // G = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]]
        let g = |k: &[f32]| -> [f32; TILE] {
            [
                k[0],
                (k[0] + k[1] + k[2]) * 0.5,
                (k[0] - k[1] + k[2]) * 0.5,
                k[2],
            ]
        };
        let mut rows = vec![vec![0f32; out_channels * in_channels]; POINTS];
        for (pair, k) in oihw.chunks_exact(9).enumerate() {
            // G·k: 4 rows of 3, then (G·k)·Gᵀ row by row.
            let cols: [[f32; TILE]; 3] = [0, 1, 2].map(|x| g(&[k[x], k[3 + x], k[6 + x]]));
            for i in 0..TILE {
                let t = g(&[cols[0][i], cols[1][i], cols[2][i]]);
                for (j, v) in t.into_iter().enumerate() {
                    rows[i * TILE + j][pair] = v;
                }
            }
        }
        Winograd3x3 {
            u: rows
                .iter()
                .map(|r| PackedWeights::pack(r, out_channels, in_channels))
                .collect(),
            in_channels,
            out_channels,
        }
    }

    /// Whether the transform saves work for an `h`×`w` input: output blocks cost 16
    /// products per channel pair against 9 per output pixel, so small odd planes (3×3:
    /// four blocks for nine pixels) gain too little to pay for the transforms.
    pub fn worth_it(h: usize, w: usize) -> bool {
        let blocks = h.div_ceil(2) * w.div_ceil(2);
        4 * POINTS * blocks <= 3 * 9 * h * w
    }

    /// `out = epilogue(conv(input))` (and `relu(… + residual)` with `residual`), `input`
    /// NCHW `[batch, in, h, w]`, `out` `[batch, out, h, w]`; TensorFlow's `'same'`
    /// padding, one row and column of zeros on each side.
    pub fn conv(
        &self,
        input: &[f32],
        (batch, h, w): (usize, usize, usize),
        epilogue: &RowEpilogue,
        residual: Option<&[f32]>,
        out: &mut [MaybeUninit<f32>],
    ) {
        let (cin, cout) = (self.in_channels, self.out_channels);
        assert_eq!(input.len(), batch * cin * h * w);
        assert_eq!(out.len(), batch * cout * h * w);
        if let Some(r) = residual {
            assert_eq!(r.len(), out.len());
        }
        let (th, tw) = (h.div_ceil(2), w.div_ceil(2));
        let tiles = batch * th * tw;
        if tiles == 0 || cout == 0 {
            return;
        }
        // V: the 16 transformed planes, `[point][in][tile]`.
        let mut v = vec![0f32; POINTS * cin * tiles];
        let (ph, pw) = (2 * th + 2, 2 * tw + 2);
        let mut padded = vec![0f32; ph * pw];
        let mut rows = vec![0f32; TILE * pw];
        for img in 0..batch {
            for ci in 0..cin {
                let plane = &input[(img * cin + ci) * h * w..][..h * w];
                for (src, dst) in plane.chunks_exact(w).zip(padded[pw..].chunks_exact_mut(pw)) {
                    dst[1..=w].copy_from_slice(src);
                }
                for ty in 0..th {
                    let first = (img * th + ty) * tw;
                    let at = |p: usize| (p * cin + ci) * tiles + first;
                    let src = &padded[2 * ty * pw..][..TILE * pw];
                    input_row(src, pw, &mut rows, &mut v, at, tw);
                }
            }
        }
        // M = U·V, `[point][out][tile]`.
        let mut m = vec![0f32; POINTS * cout * tiles];
        for (p, (u, m)) in self
            .u
            .iter()
            .zip(m.chunks_exact_mut(cout * tiles))
            .enumerate()
        {
            let b = &v[p * cin * tiles..][..cin * tiles];
            // SAFETY: `m` holds `cout` rows of `tiles` floats.
            unsafe {
                panel_gemm::multiply_into(u, 0, cout, b, tiles, tiles, m.as_mut_ptr(), tiles)
            };
        }
        let plane = h * w;
        let mut z = vec![0f32; 12 * tw];
        let mut row = vec![0f32; 2 * tw];
        for img in 0..batch {
            for co in 0..cout {
                let at = (img * cout + co) * plane;
                let dst = &mut out[at..][..plane];
                let res = residual.map(|r| &r[at..][..plane]);
                let channel = epilogue.channel(co);
                for ty in 0..th {
                    let first = (img * th + ty) * tw;
                    let m_row = |p: usize| &m[(p * cout + co) * tiles + first..][..tw];
                    let y = output_row(m_row, tw, &mut z);
                    for dy in 0..2.min(h - 2 * ty) {
                        for (pair, (&left, &right)) in row
                            .chunks_exact_mut(2)
                            .zip(y[2 * dy].iter().zip(y[2 * dy + 1]))
                        {
                            pair[0] = left;
                            pair[1] = right;
                        }
                        let values = &mut row[..w];
                        channel.apply(values);
                        let at = (2 * ty + dy) * w;
                        if let Some(res) = res {
                            for (v, &r) in values.iter_mut().zip(&res[at..][..w]) {
                                *v = super::pool::max(*v + r, 0.0);
                            }
                        }
                        for (d, &v) in dst[at..][..w].iter_mut().zip(values.iter()) {
                            d.write(v);
                        }
                    }
                }
            }
        }
    }
}

/// One row of tiles: `Bᵀ·d·B` for each 4×4 tile `d` of the four padded rows `src` (`pw`
/// floats each; tile `tx` starts at column `2·tx`), written to `dst(point)[tx]`. Each step
/// is a whole-row operation the compiler vectorises: Bᵀ = [[1, 0, −1, 0], [0, 1, 1, 0],
/// [0, −1, 1, 0], [0, 1, 0, −1]] on the rows, then on each tile's columns.
#[inline(always)]
fn input_row(
    src: &[f32],
    pw: usize,
    rows: &mut [f32],
    v: &mut [f32],
    at: impl Fn(usize) -> usize,
    tw: usize,
) {
    let (d0, rest) = src.split_at(pw);
    let (d1, rest) = rest.split_at(pw);
    let (d2, d3) = rest.split_at(pw);
    let (r0, rest) = rows.split_at_mut(pw);
    let (r1, rest) = rest.split_at_mut(pw);
    let (r2, r3) = rest.split_at_mut(pw);
    for x in 0..pw {
        r0[x] = d0[x] - d2[x];
        r1[x] = d1[x] + d2[x];
        r2[x] = d2[x] - d1[x];
        r3[x] = d1[x] - d3[x];
    }
    let half = pw / 2;
    let (mut even, mut odd) = ([0f32; 64], [0f32; 64]);
    let (mut even_heap, mut odd_heap) = (Vec::new(), Vec::new());
    let (even, odd): (&mut [f32], &mut [f32]) = if half <= 64 {
        (&mut even[..half], &mut odd[..half])
    } else {
        even_heap.resize(half, 0.0);
        odd_heap.resize(half, 0.0);
        (&mut even_heap, &mut odd_heap)
    };
    for (i, r) in [&*r0, &*r1, &*r2, &*r3].into_iter().enumerate() {
        // Tile tx reads columns 2·tx .. 2·tx + 3: even[tx], odd[tx], even[tx+1], odd[tx+1].
        for (k, pair) in r.chunks_exact(2).enumerate() {
            even[k] = pair[0];
            odd[k] = pair[1];
        }
        let (a, b) = (&even[..tw], &odd[..tw]);
        let (c, d) = (&even[1..=tw], &odd[1..=tw]);
        let out = at(4 * i);
        for (o, (a, c)) in v[out..][..tw].iter_mut().zip(a.iter().zip(c)) {
            *o = a - c;
        }
        let out = at(4 * i + 1);
        for (o, (b, c)) in v[out..][..tw].iter_mut().zip(b.iter().zip(c)) {
            *o = b + c;
        }
        let out = at(4 * i + 2);
        for (o, (b, c)) in v[out..][..tw].iter_mut().zip(b.iter().zip(c)) {
            *o = c - b;
        }
        let out = at(4 * i + 3);
        for (o, (b, d)) in v[out..][..tw].iter_mut().zip(b.iter().zip(d)) {
            *o = b - d;
        }
    }
}

/// One row of tiles: `Aᵀ·m·A` for every tile `tx`, where `m(point)[tx]` are its 16
/// products; returns the outputs `[y00, y01, y10, y11]`, each `tw` long (slices of
/// `z`). Aᵀ = [[1, 1, 1, 0], [0, 1, −1, −1]] on the rows, then on the columns.
#[inline(always)]
fn output_row<'a>(m: impl Fn(usize) -> &'a [f32], tw: usize, z: &mut [f32]) -> [&[f32]; 4] {
    let (cols, y) = z.split_at_mut(8 * tw);
    for c in 0..TILE {
        let (a, b, cc, d) = (m(c), m(4 + c), m(8 + c), m(12 + c));
        let (top, bottom) = cols[2 * c * tw..][..2 * tw].split_at_mut(tw);
        for x in 0..tw {
            top[x] = a[x] + b[x] + cc[x];
            bottom[x] = b[x] - cc[x] - d[x];
        }
    }
    let col = |c: usize, half: usize| &cols[(2 * c + half) * tw..][..tw];
    let (y0, rest) = y.split_at_mut(tw);
    let (y1, rest) = rest.split_at_mut(tw);
    let (y2, y3) = rest.split_at_mut(tw);
    for (half, (left, right)) in [(0, (&mut *y0, &mut *y1)), (1, (&mut *y2, &mut *y3))] {
        let (c0, c1, c2, c3) = (col(0, half), col(1, half), col(2, half), col(3, half));
        for x in 0..tw {
            left[x] = c0[x] + c1[x] + c2[x];
            right[x] = c1[x] - c2[x] - c3[x];
        }
    }
    [&*y0, &*y1, &*y2, &*y3]
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use crate::ops::{Conv2d, Padding};

    /// Against the direct kernel (itself tested against candle's conv2d): odd and even
    /// sides, batches, channel counts across whole and partial panels, with the epilogue
    /// and the residual add.
    #[test]
    fn matches_the_direct_convolution() -> candle_core::Result<()> {
        let dev = Device::Cpu;
        for (n, cin, h, w, cout) in [
            (1, 3, 5, 7, 4),
            (2, 8, 8, 8, 16),
            (1, 32, 35, 35, 32),
            (1, 20, 9, 6, 40),
        ] {
            let x = Tensor::randn(0f32, 1.0, (n, cin, h, w), &dev)?;
            let filters = Tensor::randn(0f32, 0.3, (3, 3, cin, cout), &dev)?;
            let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let scale = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let shift = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let conv = Conv2d::from_hwio(&filters, Some(bias), 1, Padding::Same)?
                .with_scale(&scale, &shift)?
                .with_relu(true);
            let shortcut = Tensor::randn(0f32, 1.0, (n, cout, h, w), &dev)?;
            for residual in [false, true] {
                let direct = if residual {
                    conv.forward_add_relu(&x, &shortcut)?
                } else {
                    conv.forward(&x)?
                };
                let fast = conv.forward_winograd(&x, residual.then_some(&shortcut))?;
                let diff = crate::ops::max_abs_diff(&fast, &direct)?;
                assert!(
                    diff < 1e-4,
                    "{n}x{cin}x{h}x{w}→{cout} residual {residual}: {diff}"
                );
            }
        }
        Ok(())
    }
}
