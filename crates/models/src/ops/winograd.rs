//! 3×3 stride-1 `'same'` convolutions by Winograd's minimal filtering F(4×4, 3×3) (Lavin &
//! Gray, "Fast Algorithms for Convolutional Neural Networks", CVPR 2016): each 4×4 block of
//! outputs comes from a 6×6 block of input through 36 products per (input, output)
//! channel pair instead of 144, so the products, which dominate, take 4× fewer
//! multiply-adds (fewer where a plane's side is not a multiple of 4).
//!
//! The weights are transformed once at load (`U = G·g·Gᵀ`, 36 matrices `[out][in]`,
//! packed as [`PackedWeights`]); per call the input's 6×6 tiles are transformed
//! (`V = Bᵀ·d·B`, 36 matrices `[in][tiles]`), the 36 products `M = U·V` run on
//! [`panel_gemm::multiply_into`], and each output block is `Aᵀ·M·A`, finished by the same
//! epilogue (and residual add) as the direct kernel. Every transform is a whole-row
//! operation across a row of tiles, which the compiler vectorises.
//!
//! The browser build uses it for the recognition net's 3×3 layers, where it is the largest
//! single saving: WebAssembly has 4-lane vectors (and fused multiply-add only under relaxed
//! SIMD), so products cost two to four times what they do under AVX2/FMA. Native builds keep the direct implicit GEMM
//! (its results are the ones the golden tests pin); the tests here hold the two together.
//! The transforms' constants (up to 8, and sixths) cost some precision against the direct
//! sum: about 1e-6 of the values' size, far inside the networks' tolerance.

use std::mem::MaybeUninit;

use super::panel_gemm::{self, PackedWeights, RowEpilogue};

thread_local! {
    /// V and M of the last call on this thread, reused: a face's recognition net would
    /// otherwise allocate and zero megabytes of them.
    static SCRATCH: std::cell::RefCell<(Vec<f32>, Vec<f32>)> = const {
        std::cell::RefCell::new((Vec::new(), Vec::new()))
    };
}

/// Outputs per tile side.
const OUT: usize = 4;
/// Input tile side (outputs 4 + kernel 3 − 1).
const TILE: usize = 6;
/// Transformed values per tile.
const POINTS: usize = TILE * TILE;
/// The transforms' cost per tile and channel, in channel pairs' worth of products (see
/// [`Winograd3x3::worth_it`]).
const TRANSFORM_CHANNELS: usize = 32;

/// `G·g` for one kernel column or row `g`.
fn weight_1d(g: [f32; 3]) -> [f32; TILE] {
    let [a, b, c] = g;
    [
        a / 4.0,
        -(a + b + c) / 6.0,
        -(a - b + c) / 6.0,
        a / 24.0 + b / 12.0 + c / 6.0,
        a / 24.0 - b / 12.0 + c / 6.0,
        c,
    ]
}

/// The weights of one 3×3 convolution in Winograd's domain.
#[derive(Debug, Clone)]
pub struct Winograd3x3 {
    /// `U[ξ]`, `[out][in]` for each of the 36 points ξ.
    u: Vec<PackedWeights>,
    in_channels: usize,
    out_channels: usize,
}

impl Winograd3x3 {
    /// From OIHW 3×3 weights.
    pub fn from_oihw(oihw: &[f32], out_channels: usize, in_channels: usize) -> Self {
        assert_eq!(oihw.len(), out_channels * in_channels * 9);
        let mut rows = vec![vec![0f32; out_channels * in_channels]; POINTS];
        for (pair, k) in oihw.chunks_exact(9).enumerate() {
            // G·k column by column (6 rows of 3), then each row times Gᵀ.
            let cols: [[f32; TILE]; 3] = [0, 1, 2].map(|x| weight_1d([k[x], k[3 + x], k[6 + x]]));
            for i in 0..TILE {
                let t = weight_1d([cols[0][i], cols[1][i], cols[2][i]]);
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

    /// Whether the transform saves work for an `h`×`w` input: 36 products per tile and
    /// channel pair against 9 per output pixel, plus transforms, which are per tile and
    /// channel, so they cost about as much as the products of [`TRANSFORM_CHANNELS`]
    /// channel pairs and matter less the more channels there are. With `c` the smaller
    /// channel count: `36·tiles·(c + 32) ≤ 9·h·w·c`. That takes the recognition net's 35×35,
    /// 18×18 and 9×9 layers, and its 5×5 ones with 256 channels (13–19 % faster than direct
    /// in Chromium), not a 5×5 plane of 32 channels. A plane of one tile (the 256-channel
    /// layers' 3×3) is left to the direct kernel: its 36 products are fewer than 81, but
    /// they read four times the weights (megabytes there), and the direct kernel measured
    /// no slower.
    pub fn worth_it(&self, h: usize, w: usize) -> bool {
        let tiles = h.div_ceil(OUT) * w.div_ceil(OUT);
        let c = self.in_channels.min(self.out_channels);
        tiles > 1 && POINTS * tiles * (c + TRANSFORM_CHANNELS) <= 9 * h * w * c
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
        let (th, tw) = (h.div_ceil(OUT), w.div_ceil(OUT));
        let tiles = batch * th * tw;
        if tiles == 0 || cout == 0 {
            return;
        }
        SCRATCH.with_borrow_mut(|(v, m)| {
            // Every element of both is written before it is read: no zeroing needed.
            let (nv, nm) = (POINTS * cin * tiles, POINTS * cout * tiles);
            if v.len() < nv {
                v.resize(nv, 0.0);
            }
            if m.len() < nm {
                m.resize(nm, 0.0);
            }
            self.conv_with(
                input,
                (batch, h, w),
                epilogue,
                residual,
                out,
                &mut v[..nv],
                &mut m[..nm],
            );
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn conv_with(
        &self,
        input: &[f32],
        (batch, h, w): (usize, usize, usize),
        epilogue: &RowEpilogue,
        residual: Option<&[f32]>,
        out: &mut [MaybeUninit<f32>],
        v: &mut [f32],
        m: &mut [f32],
    ) {
        let (cin, cout) = (self.in_channels, self.out_channels);
        let (th, tw) = (h.div_ceil(OUT), w.div_ceil(OUT));
        let tiles = batch * th * tw;
        // V: the 36 transformed planes, `[point][in][tile]`. The padded plane has one row
        // and column of zeros before the input and enough after for whole tiles.
        let (ph, pw) = (OUT * th + 2, OUT * tw + 2);
        let mut padded = vec![0f32; ph * pw];
        let n = th * tw;
        let mut scratch = vec![0f32; TILE * th * pw + TILE * n];
        for img in 0..batch {
            for ci in 0..cin {
                let plane = &input[(img * cin + ci) * h * w..][..h * w];
                for (src, dst) in plane.chunks_exact(w).zip(padded[pw..].chunks_exact_mut(pw)) {
                    dst[1..=w].copy_from_slice(src);
                }
                let at = |p: usize| (p * cin + ci) * tiles + img * n;
                input_plane(&padded, (th, tw, pw), &mut scratch, v, at);
            }
        }
        // M = U·V, `[point][out][tile]`.
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
        let mut z = vec![0f32; (OUT * TILE + OUT * OUT) * th * tw];
        let mut row = vec![0f32; OUT * tw];
        for img in 0..batch {
            for co in 0..cout {
                let at = (img * cout + co) * plane;
                let dst = &mut out[at..][..plane];
                let res = residual.map(|r| &r[at..][..plane]);
                let channel = epilogue.channel(co);
                // Every tile of the image at once: longer rows for the vector units.
                let n = th * tw;
                let m_plane = |p: usize| &m[(p * cout + co) * tiles + img * n..][..n];
                let y = output_row(m_plane, n, &mut z);
                for ty in 0..th {
                    for dy in 0..OUT.min(h - OUT * ty) {
                        // Interleave the row's four output columns of every tile.
                        for (dx, y) in y.chunks_exact(n).skip(dy * OUT).take(OUT).enumerate() {
                            for (v, &y) in
                                row[dx..].iter_mut().step_by(OUT).zip(&y[ty * tw..][..tw])
                            {
                                *v = y;
                            }
                        }
                        let values = &mut row[..w];
                        channel.apply(values);
                        let at = (OUT * ty + dy) * w;
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

/// One plane: `Bᵀ·d·B` for each 6×6 tile `d` of the padded plane (`pw` floats a row; tile
/// `(ty, tx)` starts at row `4·ty`, column `4·tx`), written to `v[at(point) + ty·tw + tx]`.
/// Bᵀ first combines whole rows, for every row of tiles; then the tiles' six columns are
/// gathered into six planes of `th·tw` values (column `4·tx + k`, and the next tile's
/// first two), so the last step is six flat loops over every tile of the plane.
#[inline(always)]
fn input_plane(
    padded: &[f32],
    (th, tw, pw): (usize, usize, usize),
    scratch: &mut [f32],
    v: &mut [f32],
    at: impl Fn(usize) -> usize,
) {
    let n = th * tw;
    let (rows, cols) = scratch.split_at_mut(TILE * th * pw);
    // rows[(i·th + ty)·pw + x]: row i of Bᵀ·d for tile row ty.
    for ty in 0..th {
        let d = |r: usize| &padded[(OUT * ty + r) * pw..][..pw];
        let (d0, d1, d2, d3, d4, d5) = (d(0), d(1), d(2), d(3), d(4), d(5));
        let mut out = rows.chunks_exact_mut(pw).skip(ty).step_by(th);
        let mut next = || out.next().expect("six rows");
        let (r0, r1, r2, r3, r4, r5) = (next(), next(), next(), next(), next(), next());
        for x in 0..pw {
            let (a, b, c, e, f, g) = (d0[x], d1[x], d2[x], d3[x], d4[x], d5[x]);
            r0[x] = 4.0 * a - 5.0 * c + f;
            r1[x] = -4.0 * b - 4.0 * c + e + f;
            r2[x] = 4.0 * b - 4.0 * c - e + f;
            r3[x] = -2.0 * b - c + 2.0 * e + f;
            r4[x] = 2.0 * b - c - 2.0 * e + f;
            r5[x] = 4.0 * b - 5.0 * e + g;
        }
    }
    for i in 0..TILE {
        // cols[k·n + ty·tw + tx]: column 4·tx + k of tile row ty (k = 4, 5: the next
        // tile's columns 0 and 1).
        for ty in 0..th {
            let r = &rows[(i * th + ty) * pw..][..pw];
            for k in 0..TILE {
                let dst = &mut cols[k * n + ty * tw..][..tw];
                for (d, &x) in dst.iter_mut().zip(r[k..].iter().step_by(OUT)) {
                    *d = x;
                }
            }
        }
        let c = |k: usize| &cols[k * n..][..n];
        let (c0, c1, c2, c3, c4, c5) = (c(0), c(1), c(2), c(3), c(4), c(5));
        let base = |j: usize| at(TILE * i + j);
        let o = &mut v[base(0)..][..n];
        for t in 0..n {
            o[t] = 4.0 * c0[t] - 5.0 * c2[t] + c4[t];
        }
        let o = &mut v[base(1)..][..n];
        for t in 0..n {
            o[t] = -4.0 * c1[t] - 4.0 * c2[t] + c3[t] + c4[t];
        }
        let o = &mut v[base(2)..][..n];
        for t in 0..n {
            o[t] = 4.0 * c1[t] - 4.0 * c2[t] - c3[t] + c4[t];
        }
        let o = &mut v[base(3)..][..n];
        for t in 0..n {
            o[t] = -2.0 * c1[t] - c2[t] + 2.0 * c3[t] + c4[t];
        }
        let o = &mut v[base(4)..][..n];
        for t in 0..n {
            o[t] = 2.0 * c1[t] - c2[t] - 2.0 * c3[t] + c4[t];
        }
        let o = &mut v[base(5)..][..n];
        for t in 0..n {
            o[t] = 4.0 * c1[t] - 5.0 * c3[t] + c5[t];
        }
    }
}

/// `Aᵀ·m·A` for each of `tw` tiles, where `m(point)[t]` are tile `t`'s 36 products.
/// Returns the 16 outputs of each tile as `y[(row·4 + col)·tw + t]` (a slice of `z`). Aᵀ = [[1, 1, 1, 1, 1, 0], [0, 1, −1, 2, −2, 0], [0, 1, 1, 4, 4, 0],
/// [0, 1, −1, 8, −8, 1]] on the rows, then on the columns.
#[inline(always)]
fn output_row<'a>(m: impl Fn(usize) -> &'a [f32], tw: usize, z: &mut [f32]) -> &[f32] {
    let (cols, y) = z.split_at_mut(OUT * TILE * tw);
    // cols[(r·6 + c)·tw + t]: output row r of kernel-domain column c.
    for c in 0..TILE {
        let (m0, m1, m2, m3, m4, m5) = (m(c), m(6 + c), m(12 + c), m(18 + c), m(24 + c), m(30 + c));
        for t in 0..tw {
            let (a, b, cc, d, e, f) = (m0[t], m1[t], m2[t], m3[t], m4[t], m5[t]);
            let (s1, d1) = (b + cc, b - cc);
            let (s2, d2) = (d + e, d - e);
            cols[c * tw + t] = a + s1 + s2;
            cols[(TILE + c) * tw + t] = d1 + 2.0 * d2;
            cols[(2 * TILE + c) * tw + t] = s1 + 4.0 * s2;
            cols[(3 * TILE + c) * tw + t] = d1 + 8.0 * d2 + f;
        }
    }
    for r in 0..OUT {
        let col = |c: usize| &cols[(r * TILE + c) * tw..][..tw];
        let (m0, m1, m2, m3, m4, m5) = (col(0), col(1), col(2), col(3), col(4), col(5));
        let (y_row, _) = y[r * OUT * tw..].split_at_mut(OUT * tw);
        for t in 0..tw {
            let (a, b, cc, d, e, f) = (m0[t], m1[t], m2[t], m3[t], m4[t], m5[t]);
            let (s1, d1) = (b + cc, b - cc);
            let (s2, d2) = (d + e, d - e);
            y_row[t] = a + s1 + s2;
            y_row[tw + t] = d1 + 2.0 * d2;
            y_row[2 * tw + t] = s1 + 4.0 * s2;
            y_row[3 * tw + t] = d1 + 8.0 * d2 + f;
        }
    }
    y
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::Winograd3x3;
    use crate::ops::{Conv2d, Padding};

    /// The rule's choices for the recognition net's stride-1 3×3 layers (side, channels),
    /// and a small plane of few channels, where the transforms would not pay.
    #[test]
    fn worth_it_takes_the_planes_it_was_measured_on() {
        for (side, channels, expected) in [
            (35, 32, true),
            (18, 64, true),
            (9, 128, true),
            (5, 256, true),
            (3, 256, false),
            (5, 32, false),
        ] {
            let weights = vec![0f32; channels * channels * 9];
            let winograd = Winograd3x3::from_oihw(&weights, channels, channels);
            assert_eq!(
                winograd.worth_it(side, side),
                expected,
                "{side}×{side}, {channels} channels"
            );
        }
    }

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
                let size = direct.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()?;
                assert!(
                    diff <= 1e-5 * size.max(1.0),
                    "{n}x{cin}x{h}x{w}→{cout} residual {residual}: {diff} of {size}"
                );
            }
        }
        Ok(())
    }
}
