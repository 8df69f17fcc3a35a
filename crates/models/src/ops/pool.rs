//! Pooling with TensorFlow's `'valid'` windows (no padding), as layers for `.apply(…)`.

use candle_core::{Module, Result, Tensor};

/// Max pool over `size`×`size` windows every `stride` pixels, no padding.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool {
    size: usize,
    stride: usize,
}

impl MaxPool {
    pub fn valid(size: usize, stride: usize) -> Self {
        MaxPool { size, stride }
    }
}

impl Module for MaxPool {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if super::on_cpu_f32(x) {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        x.max_pool2d_with_stride(self.size, self.stride)
    }
}

/// On the CPU: for each output row, the maximum over the window's input rows column by
/// column, then over each window's columns (candle's generic pooling is several times
/// slower on the recognition net's stem).
impl candle_core::CustomOp1 for MaxPool {
    fn name(&self) -> &'static str {
        "kao-max-pool"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        let candle_core::CpuStorage::F32(data) = storage else {
            candle_core::bail!("max pool works on f32 only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("max pool needs a contiguous input");
        };
        let (n, c, h, w) = layout.shape().dims4()?;
        let (k, s) = (self.size, self.stride);
        if h < k || w < k || k == 0 || s == 0 {
            candle_core::bail!("max pool: {h}×{w} input, {k}×{k} window");
        }
        let (oh, ow) = ((h - k) / s + 1, (w - k) / s + 1);
        let mut out = Vec::with_capacity(n * c * oh * ow);
        let mut column_max = vec![0f32; w];
        for plane in data[start..end].chunks_exact(h * w) {
            for oy in 0..oh {
                let mut rows = plane[oy * s * w..][..k * w].chunks_exact(w);
                column_max.copy_from_slice(rows.next().expect("k ≥ 1"));
                for row in rows {
                    for (m, &v) in column_max.iter_mut().zip(row) {
                        *m = max(*m, v);
                    }
                }
                let start = out.len();
                out.resize(start + ow, f32::NEG_INFINITY);
                let row = &mut out[start..];
                if k == 3 {
                    // The recognition net's window: three taps as straight-line code.
                    for (ox, o) in row.iter_mut().enumerate() {
                        let w = &column_max[ox * s..ox * s + 3];
                        *o = max(max(max(*o, w[0]), w[1]), w[2]);
                    }
                } else {
                    for (ox, o) in row.iter_mut().enumerate() {
                        *o = column_max[ox * s..][..k].iter().fold(*o, |m, &v| max(m, v));
                    }
                }
            }
        }
        Ok((
            candle_core::CpuStorage::F32(out),
            candle_core::Shape::from((n, c, oh, ow)),
        ))
    }
}

/// Average pool over `size`×`size` windows every `stride` pixels, no padding.
#[derive(Debug, Clone, Copy)]
pub struct AvgPool {
    size: usize,
    stride: usize,
}

impl AvgPool {
    pub fn valid(size: usize, stride: usize) -> Self {
        AvgPool { size, stride }
    }
}

impl Module for AvgPool {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        x.avg_pool2d_with_stride(self.size, self.stride)
    }
}

/// TensorFlow's 2×2 max pool with `'same'` padding (padded cells ignored, as TF does),
/// optionally followed by face-api's leaky ReLU `relu(x − 0.1x) + 0.1x` — in one pass over
/// the input on the CPU. Max commutes with the (monotonic) leaky ReLU, so pooling first
/// and activating the quarter-size result equals activating first, at a quarter the work.
#[derive(Debug, Clone, Copy)]
pub struct MaxPool2Same {
    pub stride: usize,
    pub leaky: bool,
}

/// face-api's leaky ReLU, rounded as its three tfjs ops are.
#[inline]
pub fn leaky(x: f32) -> f32 {
    let m = x * 0.1;
    max(x - m, 0.0) + m
}

impl MaxPool2Same {
    fn out_side(&self, input: usize) -> (usize, usize) {
        let (before, _) = super::Padding::Same.amounts(input, 2, self.stride);
        (input.div_ceil(self.stride), before)
    }
}

impl Module for MaxPool2Same {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if super::on_cpu_f32(x) {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        let (_, _, h, w) = x.dims4()?;
        let (_, bottom) = super::Padding::Same.amounts(h, 2, self.stride);
        let (_, right) = super::Padding::Same.amounts(w, 2, self.stride);
        let pooled = x
            .pad_with_same(2, 0, bottom)?
            .pad_with_same(3, 0, right)?
            .max_pool2d_with_stride(2, self.stride)?;
        if self.leaky {
            super::Activation::Leaky.apply_tensor(&pooled)
        } else {
            Ok(pooled)
        }
    }
}

impl candle_core::CustomOp1 for MaxPool2Same {
    fn name(&self) -> &'static str {
        "kao-maxpool2-same"
    }

    fn cpu_fwd(
        &self,
        storage: &candle_core::CpuStorage,
        layout: &candle_core::Layout,
    ) -> Result<(candle_core::CpuStorage, candle_core::Shape)> {
        use rayon::prelude::*;
        let candle_core::CpuStorage::F32(data) = storage else {
            candle_core::bail!("max pool works on f32 only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("max pool needs a contiguous input");
        };
        let (n, c, h, w) = layout.shape().dims4()?;
        let (oh, top) = self.out_side(h);
        let (ow, left) = self.out_side(w);
        if top != 0 || left != 0 || h == 0 || w == 0 {
            candle_core::bail!("a 2×2 'same' pool never pads before; got {h}×{w}");
        }
        let input = &data[start..end];
        let mut out = vec![0f32; n * c * oh * ow];
        let (s, leaky) = (self.stride, self.leaky);
        out.par_chunks_mut(oh * ow)
            .zip(input.par_chunks(h * w))
            .for_each(|(o, plane)| pool_plane(plane, h, w, s, leaky, o));
        Ok((
            candle_core::CpuStorage::F32(out),
            candle_core::Shape::from((n, c, oh, ow)),
        ))
    }
}

/// One channel plane (`h`×`w`) of the pool into `out`.
fn pool_plane(plane: &[f32], h: usize, w: usize, stride: usize, leaky: bool, out: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU has the feature the function is compiled for.
            unsafe { pool_plane_avx2(plane, h, w, stride, leaky, out) };
            return;
        }
    }
    pool_plane_generic(plane, h, w, stride, leaky, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn pool_plane_avx2(
    plane: &[f32],
    h: usize,
    w: usize,
    stride: usize,
    leaky: bool,
    out: &mut [f32],
) {
    pool_plane_generic(plane, h, w, stride, leaky, out)
}

/// Plain loops (no closures), so the AVX2 wrapper's features reach them.
#[inline(always)]
fn pool_plane_generic(
    plane: &[f32],
    h: usize,
    w: usize,
    stride: usize,
    leaky: bool,
    out: &mut [f32],
) {
    let ow = out.len() / (h.div_ceil(stride));
    for (oy, o) in out.chunks_exact_mut(ow).enumerate() {
        // Padding comes only after the last row and column; repeating that row or column
        // instead gives the same max as ignoring the padded cells.
        let r0 = &plane[oy * stride * w..][..w];
        let r1 = &plane[(oy * stride + 1).min(h - 1) * w..][..w];
        pool_row(r0, r1, stride, o);
        if leaky {
            for v in o.iter_mut() {
                *v = self::leaky(*v);
            }
        }
    }
}

/// One output row of the 2×2 max pool from input rows `r0` and `r1`.
#[inline(always)]
fn pool_row(r0: &[f32], r1: &[f32], stride: usize, out: &mut [f32]) {
    let w = r0.len();
    let full = if stride == 2 { w / 2 } else { w - 1 };
    if stride == 2 {
        for ((o, a), b) in out
            .iter_mut()
            .zip(r0.chunks_exact(2))
            .zip(r1.chunks_exact(2))
        {
            *o = max(max(a[0], a[1]), max(b[0], b[1]));
        }
    } else {
        for (x, o) in out[..full].iter_mut().enumerate() {
            *o = max(max(r0[x], r0[x + 1]), max(r1[x], r1[x + 1]));
        }
    }
    for (ox, o) in out.iter_mut().enumerate().skip(full) {
        let x0 = ox * stride;
        let x1 = (x0 + 1).min(w - 1);
        *o = max(max(r0[x0], r0[x1]), max(r1[x0], r1[x1]));
    }
}

/// `f32::max` without its NaN handling, so the compiler can use the vector max.
#[inline(always)]
pub(crate) fn max(a: f32, b: f32) -> f32 {
    if a > b {
        a
    } else {
        b
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

    #[test]
    fn max_pool_matches_candle() {
        let d = Device::Cpu;
        for (h, w, k, s) in [(72, 72, 3, 2), (9, 8, 3, 2), (7, 7, 2, 2), (5, 6, 3, 1)] {
            let x = Tensor::randn(0f32, 1.0, (2, 3, h, w), &d).unwrap();
            let ours = x.apply(&MaxPool::valid(k, s)).unwrap();
            let candle = x.max_pool2d_with_stride(k, s).unwrap();
            assert_eq!(ours.dims(), candle.dims());
            let diff = crate::ops::max_abs_diff(&ours, &candle).unwrap();
            assert_eq!(diff, 0.0, "{h}×{w} k{k} s{s}");
        }
    }

    #[test]
    fn fused_pool_matches_pad_pool_then_leaky() {
        for (h, w, stride) in [(7, 9, 2), (8, 8, 2), (5, 6, 1), (13, 13, 1)] {
            let x = Tensor::randn(0f32, 3.0, (2, 3, h, w), &Device::Cpu).unwrap();
            for leaky in [false, true] {
                let op = MaxPool2Same { stride, leaky };
                let fast = x.apply(&op).unwrap();
                let (_, bottom) = super::super::Padding::Same.amounts(h, 2, stride);
                let (_, right) = super::super::Padding::Same.amounts(w, 2, stride);
                let act = if leaky {
                    super::super::Activation::Leaky.apply_tensor(&x).unwrap()
                } else {
                    x.clone()
                };
                let slow = act
                    .pad_with_same(2, 0, bottom)
                    .unwrap()
                    .pad_with_same(3, 0, right)
                    .unwrap()
                    .max_pool2d_with_stride(2, stride)
                    .unwrap();
                assert_eq!(fast.dims(), slow.dims());
                let d = crate::ops::max_abs_diff(&fast, &slow).unwrap();
                assert!(d <= 1e-6, "{h}x{w}/{stride} leaky {leaky}: {d}");
            }
        }
    }
}
