//! A dense 3×3 `'valid'` convolution with few input channels, its bias, a 2×2 stride-2 max
//! pool and an activation, fused into one pass on the CPU.
//!
//! TinyFaceDetector opens with such a layer on the full 416×416 input: as im2col + GEMM
//! with 27-long rows it ran at a fraction of the GEMM's speed, and its 16×414×414 output
//! was written only to be pooled away. Here each pair of output rows is computed in a
//! vectorised row buffer and pooled at once, so the full-size map never exists. Bias and
//! a monotonic activation commute with the max, so both run on the pooled quarter.

use candle_core::{CpuStorage, Layout, Module, Result, Shape, Tensor};

use super::depthwise_kernel::window3x3;
use super::pool::{max, MaxPool2Same};
use super::{Activation, Conv2d, Padding};

const K: usize = 3;

/// `activation(maxpool2x2(conv3x3_valid(x) + bias))`.
#[derive(Debug, Clone)]
pub struct Conv3x3Pool {
    /// `[out][in][ky][kx]`.
    weights: Vec<f32>,
    bias: Vec<f32>,
    in_channels: usize,
    activation: Activation,
    /// The same layer unfused, for other devices and for odd output sizes (where the
    /// `'same'` pool pads).
    conv: Conv2d,
}

impl Conv3x3Pool {
    /// `filters` is `[3, 3, in, out]` (TF.js layout), `bias` `[out]`.
    pub fn from_hwio(filters: &Tensor, bias: &Tensor, activation: Activation) -> Result<Self> {
        let (kh, kw, cin, _) = filters.dims4()?;
        if (kh, kw) != (K, K) {
            candle_core::bail!("Conv3x3Pool wants a 3×3 kernel, got {kh}×{kw}");
        }
        Ok(Conv3x3Pool {
            weights: filters
                .permute((3, 2, 0, 1))?
                .contiguous()?
                .flatten_all()?
                .to_vec1()?,
            bias: bias.flatten_all()?.to_vec1()?,
            in_channels: cin,
            activation,
            conv: Conv2d::from_hwio(filters, Some(bias.clone()), 1, Padding::Valid)?,
        })
    }

    fn forward_unfused(&self, x: &Tensor) -> Result<Tensor> {
        let pooled = x.apply(&self.conv)?.apply(&MaxPool2Same {
            stride: 2,
            leaky: false,
        })?;
        self.activation.apply_tensor(&pooled)
    }
}

impl Module for Conv3x3Pool {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (_, _, h, w) = x.dims4()?;
        let even = h >= K && w >= K && (h - K + 1) % 2 == 0 && (w - K + 1) % 2 == 0;
        if super::on_cpu_f32(x) && even {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        self.forward_unfused(x)
    }
}

impl candle_core::CustomOp1 for Conv3x3Pool {
    fn name(&self) -> &'static str {
        "kao-conv3x3-pool"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        use rayon::prelude::*;
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("Conv3x3Pool works on f32 only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("Conv3x3Pool needs a contiguous input");
        };
        let (n, cin, h, w) = layout.shape().dims4()?;
        if cin != self.in_channels {
            candle_core::bail!(
                "Conv3x3Pool expects {} channels, got {cin}",
                self.in_channels
            );
        }
        let cout = self.bias.len();
        // Only even conv output sides, where the 'same' pool never pads (see `forward`).
        if h < K || w < K || (h - K + 1) % 2 != 0 || (w - K + 1) % 2 != 0 {
            candle_core::bail!("Conv3x3Pool's fused path needs even output sides, got {h}×{w} in");
        }
        let (conv_h, conv_w) = (h - K + 1, w - K + 1);
        let (ph, pw) = (conv_h / 2, conv_w / 2);
        let input = &data[start..end];
        let mut out = vec![0f32; n * cout * ph * pw];
        // One task per (image, pooled row): all output channels of that row.
        out.par_chunks_mut(cout * ph * pw)
            .zip(input.par_chunks(cin * h * w))
            .for_each(|(o, image)| {
                let rows: Vec<(usize, Vec<f32>)> = (0..ph)
                    .into_par_iter()
                    .map_init(
                        || vec![0f32; 2 * (w - K + 1)],
                        |scratch, py| (py, self.pooled_row(image, h, w, py, scratch)),
                    )
                    .collect();
                for (py, row) in rows {
                    for (c, vals) in row.chunks_exact(pw).enumerate() {
                        o[(c * ph + py) * pw..][..pw].copy_from_slice(vals);
                    }
                }
            });
        Ok((CpuStorage::F32(out), Shape::from((n, cout, ph, pw))))
    }
}

/// Where the vector kernels' chunks of `width` conv columns start, for a row of `ow ≥
/// width` columns: every `width` columns, and the last chunk ending at the row's end
/// (overlapping the one before it, which writes the same values).
#[cfg_attr(
    not(any(
        target_arch = "x86_64",
        all(target_arch = "wasm32", target_feature = "simd128")
    )),
    allow(dead_code)
)]
fn chunk_starts(ow: usize, width: usize) -> Vec<usize> {
    (0..ow / width)
        .map(|i| i * width)
        .chain((ow % width != 0).then_some(ow - width))
        .collect()
}

impl Conv3x3Pool {
    /// Pooled row `py` of every output channel, `[cout][pw]`.
    fn pooled_row(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
        py: usize,
        scratch: &mut [f32],
    ) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU supports the features the function is compiled for.
                return unsafe { self.pooled_row_avx2(image, h, w, py, scratch) };
            }
        }
        #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
        {
            // SAFETY: SIMD128 is on for the whole build.
            unsafe { self.pooled_row_simd128(image, h, w, py, scratch) }
        }
        #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
        self.pooled_row_generic(image, h, w, py, scratch)
    }

    /// [`Self::pooled_row_avx2`] on WebAssembly's 4-lane vectors: eight conv columns of
    /// both conv rows for two output channels in eight accumulators (each input vector
    /// loaded once for both channels), [`super::simd128::madd`] steps, the 2×2 max
    /// across the rows and then across column pairs by shuffles.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    // The half q indexes both the accumulators and the input row's offset.
    #[allow(clippy::needless_range_loop)]
    unsafe fn pooled_row_simd128(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
        py: usize,
        scratch: &mut [f32],
    ) -> Vec<f32> {
        use std::arch::wasm32::*;

        let ow = w - K + 1;
        if ow < 8 {
            return self.pooled_row_generic(image, h, w, py, scratch);
        }
        let pw = ow / 2;
        let cin = self.in_channels;
        let cout = self.bias.len();
        assert!(image.len() >= cin * h * w && 2 * py + K < h);
        let mut out = vec![0f32; cout * pw];
        let starts = chunk_starts(ow, 8);
        let zero = f32x4_splat(0.0);
        let activate = |v: v128| super::epilogue::simd128::activate(v, self.activation);
        // Every (input channel, tap) as one flat run of steps, each an offset into the
        // image: a loop the compiler keeps rolled. Unrolled over the nine taps, it loaded
        // all of them ahead of the sums, which the browser's engine then spilled to the
        // stack, a quarter of this layer's time.
        let depth = cin * K * K;
        let offsets: Vec<usize> = (0..depth)
            .map(|k| {
                let (ci, tap) = (k / (K * K), k % (K * K));
                ci * h * w + (tap / K) * w + tap % K
            })
            .collect();
        // Two output channels at a time: each loaded input vector serves both (an odd
        // last channel is computed twice and stored once).
        for c0 in (0..cout).step_by(2) {
            let c1 = (c0 + 1).min(cout - 1);
            // `[out][in][ky][kx]`: each channel's steps are consecutive.
            let (w0, w1) = (
                &self.weights[c0 * depth..][..depth],
                &self.weights[c1 * depth..][..depth],
            );
            for &x0 in &starts {
                let top = image.as_ptr().add(2 * py * w + x0);
                // acc[channel][row][half of the 8 columns]
                let mut acc = [[[zero; 2]; 2]; 2];
                for ((&off, &a), &b) in offsets.iter().zip(w0).zip(w1) {
                    let rows = [top.add(off), top.add(off + w)];
                    let weights = [f32x4_splat(a), f32x4_splat(b)];
                    for (r, row) in rows.iter().enumerate() {
                        for q in 0..2 {
                            let x = v128_load(row.add(4 * q) as *const v128);
                            for (ch, wv) in weights.iter().enumerate() {
                                acc[ch][r][q] = super::simd128::madd(acc[ch][r][q], x, *wv);
                            }
                        }
                    }
                }
                for (ch, c) in [c0, c1]
                    .into_iter()
                    .enumerate()
                    .take(if c1 > c0 { 2 } else { 1 })
                {
                    let [top, below] = acc[ch];
                    let lo = f32x4_pmax(top[0], below[0]);
                    let hi = f32x4_pmax(top[1], below[1]);
                    let even = i32x4_shuffle::<0, 2, 4, 6>(lo, hi);
                    let odd = i32x4_shuffle::<1, 3, 5, 7>(lo, hi);
                    let v = activate(f32x4_add(f32x4_pmax(even, odd), f32x4_splat(self.bias[c])));
                    v128_store(out.as_mut_ptr().add(c * pw + x0 / 2) as *mut v128, v);
                }
            }
        }
        out
    }

    /// Sixteen conv columns of both conv rows at a time, all in registers: the input
    /// channels' nine taps fused multiply-added, the 2×2 max taken across the two rows and
    /// then across column pairs by shuffles, and eight pooled values stored at once.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pooled_row_avx2(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
        py: usize,
        scratch: &mut [f32],
    ) -> Vec<f32> {
        use std::arch::x86_64::*;

        use super::epilogue::avx2::activate;

        let ow = w - K + 1;
        if ow < 16 {
            return self.pooled_row_generic(image, h, w, py, scratch);
        }
        let pw = ow / 2;
        let cin = self.in_channels;
        let cout = self.bias.len();
        assert!(image.len() >= cin * h * w && 2 * py + K < h);
        let mut out = vec![0f32; cout * pw];
        let starts = chunk_starts(ow, 16);
        for (c, &bias) in self.bias.iter().enumerate() {
            let bias = _mm256_set1_ps(bias);
            let dst = out.as_mut_ptr().add(c * pw);
            for &x0 in &starts {
                let mut acc = [_mm256_setzero_ps(); 4];
                for ci in 0..cin {
                    let plane = image.as_ptr().add(ci * h * w + 2 * py * w + x0);
                    let wt = self.weights.as_ptr().add((c * cin + ci) * K * K);
                    for ky in 0..K {
                        for kx in 0..K {
                            let wv = _mm256_set1_ps(*wt.add(ky * K + kx));
                            // Conv row 2·py reads input row 2·py + ky, conv row 2·py + 1
                            // the row below.
                            let top = plane.add(ky * w + kx);
                            let below = top.add(w);
                            acc[0] = _mm256_fmadd_ps(_mm256_loadu_ps(top), wv, acc[0]);
                            acc[1] = _mm256_fmadd_ps(_mm256_loadu_ps(top.add(8)), wv, acc[1]);
                            acc[2] = _mm256_fmadd_ps(_mm256_loadu_ps(below), wv, acc[2]);
                            acc[3] = _mm256_fmadd_ps(_mm256_loadu_ps(below.add(8)), wv, acc[3]);
                        }
                    }
                }
                let lo = _mm256_max_ps(acc[0], acc[2]);
                let hi = _mm256_max_ps(acc[1], acc[3]);
                // Per 128-bit half: even and odd columns of lo then hi; their max is the
                // pooled pairs, in the order 0 1 4 5 | 2 3 6 7 (as 64-bit pairs 0 2 1 3).
                let even = _mm256_shuffle_ps::<0x88>(lo, hi);
                let odd = _mm256_shuffle_ps::<0xdd>(lo, hi);
                let pairs = _mm256_castps_pd(_mm256_max_ps(even, odd));
                let pooled = _mm256_castpd_ps(_mm256_permute4x64_pd::<0xd8>(pairs));
                let v = _mm256_add_ps(pooled, bias);
                let v = match self.activation {
                    Activation::Identity => v,
                    Activation::Relu => activate::<1>(v),
                    Activation::Relu6 => activate::<2>(v),
                    Activation::Leaky => activate::<3>(v),
                };
                _mm256_storeu_ps(dst.add(x0 / 2), v);
            }
        }
        out
    }

    #[inline(always)]
    fn pooled_row_generic(
        &self,
        image: &[f32],
        h: usize,
        w: usize,
        py: usize,
        scratch: &mut [f32],
    ) -> Vec<f32> {
        let ow = w - K + 1;
        let pw = ow / 2;
        let cin = self.in_channels;
        let (r0, r1) = scratch.split_at_mut(ow);
        let mut out = Vec::with_capacity(self.bias.len() * pw);
        for (c, &bias) in self.bias.iter().enumerate() {
            for (dy, acc) in [(0, &mut *r0), (1, &mut *r1)] {
                let y = 2 * py + dy;
                for ci in 0..cin {
                    let plane = &image[ci * h * w..(ci + 1) * h * w];
                    let wt = &self.weights[(c * cin + ci) * K * K..][..K * K];
                    let row = |ky: usize, kx: usize| &plane[(y + ky) * w + kx..][..ow];
                    let taps = [0, 1, 2, 3, 4, 5, 6, 7, 8].map(|k| row(k / K, k % K));
                    window3x3(acc, taps, wt, ci > 0);
                }
            }
            let act = self.activation;
            out.extend(
                r0.chunks_exact(2)
                    .zip(r1.chunks_exact(2))
                    .take(pw)
                    .map(|(a, b)| {
                        let m = max(max(a[0], a[1]), max(b[0], b[1]));
                        act.apply(m + bias)
                    }),
            );
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn fused_matches_conv_then_pool_then_activation() {
        let d = Device::Cpu;
        // Conv widths below 16, a multiple of 16 and one with a remainder.
        for (h, w) in [(10, 12), (18, 8), (34, 34), (6, 38)] {
            let x = Tensor::rand(0f32, 1.0, (2, 3, h, w), &d).unwrap();
            let filters = Tensor::randn(0f32, 1.0, (3, 3, 3, 5), &d).unwrap();
            let bias = Tensor::randn(0f32, 1.0, 5, &d).unwrap();
            let op = Conv3x3Pool::from_hwio(&filters, &bias, Activation::Leaky).unwrap();
            let fused = x.apply(&op).unwrap();
            let unfused = op.forward_unfused(&x).unwrap();
            assert_eq!(fused.dims(), unfused.dims());
            let diff = crate::ops::max_abs_diff(&fused, &unfused).unwrap();
            assert!(diff < 1e-5, "{h}×{w}: max difference {diff}");
        }
    }
}
