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
        x.max_pool2d_with_stride(self.size, self.stride)
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
    (x - m).max(0.0) + m
}

impl MaxPool2Same {
    fn out_side(&self, input: usize) -> (usize, usize) {
        let (before, _) = super::Padding::Same.amounts(input, 2, self.stride);
        (input.div_ceil(self.stride), before)
    }
}

impl Module for MaxPool2Same {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if x.device().is_cpu() && x.dtype() == candle_core::DType::F32 {
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
        let input = &data[start..end];
        let mut out = vec![0f32; n * c * oh * ow];
        let s = self.stride;
        out.par_chunks_mut(oh * ow)
            .zip(input.par_chunks(h * w))
            .for_each(|(o, plane)| {
                for oy in 0..oh {
                    // The window's rows, clipped to the image: padded cells never win.
                    let y0 = (oy * s).saturating_sub(top);
                    let y1 = (oy * s + 2 - top).min(h);
                    for ox in 0..ow {
                        let x0 = (ox * s).saturating_sub(left);
                        let x1 = (ox * s + 2 - left).min(w);
                        let mut m = f32::NEG_INFINITY;
                        for y in y0..y1 {
                            for v in &plane[y * w + x0..y * w + x1] {
                                m = m.max(*v);
                            }
                        }
                        o[oy * ow + ox] = if self.leaky { leaky(m) } else { m };
                    }
                }
            });
        Ok((
            candle_core::CpuStorage::F32(out),
            candle_core::Shape::from((n, c, oh, ow)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::Device;

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
                let d = (fast - slow)
                    .unwrap()
                    .abs()
                    .unwrap()
                    .flatten_all()
                    .unwrap()
                    .max(0)
                    .unwrap()
                    .to_scalar::<f32>()
                    .unwrap();
                assert!(d <= 1e-6, "{h}x{w}/{stride} leaky {leaky}: {d}");
            }
        }
    }
}
