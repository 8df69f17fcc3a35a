use candle_core::{CpuStorage, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::depthwise_kernel::{depthwise_plane, ChannelEpilogue, Geometry};
use super::epilogue::{Activation, Epilogue};
use super::{pad_same, Padding};

/// A depthwise 2-D convolution (one filter per channel) from TF.js `[kh, kw, C, 1]` filters,
/// with an optional per-channel scale/shift and activation fused after it.
///
/// On the CPU it runs a direct kernel (candle's grouped convolution splits into one
/// convolution per channel and is ten times slower); on other devices it falls back to
/// candle's grouped convolution.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    /// `[C, 1, kh, kw]`, candle's grouped-conv layout (also `C` planes of `kh × kw` taps).
    weight: Tensor,
    /// The same taps on the host, for the CPU kernel.
    taps: Vec<f32>,
    channels: usize,
    kernel: (usize, usize),
    stride: usize,
    padding: Padding,
    epilogue: Epilogue,
}

impl DepthwiseConv2d {
    /// `filters` is `[kh, kw, C, 1]`, `bias` `[C]`.
    pub fn from_hwc1(
        filters: &Tensor,
        bias: Option<Tensor>,
        stride: usize,
        padding: Padding,
    ) -> Result<Self> {
        let (kh, kw, c, _one) = filters.dims4()?;
        let weight = filters.permute((2, 3, 0, 1))?.contiguous()?;
        let taps = weight.flatten_all()?.to_vec1::<f32>()?;
        let shift = bias
            .map(|b| b.flatten_all()?.to_vec1::<f32>())
            .transpose()?;
        Ok(DepthwiseConv2d {
            weight,
            taps,
            channels: c,
            kernel: (kh, kw),
            stride,
            padding,
            epilogue: Epilogue {
                scale: None,
                shift,
                activation: Activation::Identity,
            },
        })
    }

    /// Folds an inference batch norm `(x - mean) * gamma / sqrt(var + eps) + beta` into
    /// the output (replacing any bias).
    pub fn with_batch_norm(
        mut self,
        gamma: &Tensor,
        beta: &Tensor,
        mean: &Tensor,
        var: &Tensor,
        eps: f64,
    ) -> Result<Self> {
        let [gamma, beta, mean, var] =
            [gamma, beta, mean, var].map(|t| t.flatten_all().and_then(|t| t.to_vec1::<f32>()));
        let (gamma, beta, mean, var) = (gamma?, beta?, mean?, var?);
        let scale: Vec<f32> = gamma
            .iter()
            .zip(&var)
            .map(|(&g, &v)| (f64::from(g) / (f64::from(v) + eps).sqrt()) as f32)
            .collect();
        let shift = beta
            .iter()
            .zip(&mean)
            .zip(&scale)
            .map(|((&b, &m), &s)| (f64::from(b) - f64::from(m) * f64::from(s)) as f32)
            .collect();
        self.epilogue.scale = Some(scale);
        self.epilogue.shift = Some(shift);
        Ok(self)
    }

    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.epilogue.activation = activation;
        self
    }

    fn geometry(&self, h: usize, w: usize) -> Geometry {
        let (kh, kw) = self.kernel;
        let (pad_top, _) = self.padding.amounts(h, kh, self.stride);
        let (pad_left, _) = self.padding.amounts(w, kw, self.stride);
        let out = |n: usize, k: usize| match self.padding {
            Padding::Same => n.div_ceil(self.stride),
            Padding::Valid => (n - k) / self.stride + 1,
        };
        Geometry {
            height: h,
            width: w,
            kernel_h: kh,
            kernel_w: kw,
            stride: self.stride,
            pad_top,
            pad_left,
            out_h: out(h, kh),
            out_w: out(w, kw),
        }
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        if super::on_cpu(x) {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        let x = pad_same(x, self.kernel.0, self.stride, self.padding)?;
        let y = x.conv2d(&self.weight, 0, self.stride, 1, self.channels)?;
        self.epilogue.forward(y)
    }
}

impl candle_core::CustomOp1 for DepthwiseConv2d {
    fn name(&self) -> &'static str {
        "kao-depthwise-conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            return Err(candle_core::Error::Msg(
                "depthwise convolution works on f32 only".into(),
            ));
        };
        let (start, end) = layout.contiguous_offsets().ok_or_else(|| {
            candle_core::Error::Msg("depthwise convolution needs a contiguous input".into())
        })?;
        let (n, c, h, w) = layout.shape().dims4()?;
        if c != self.channels {
            return Err(candle_core::Error::Msg(format!(
                "depthwise convolution has {} channels, input {c}",
                self.channels
            )));
        }
        let (kh, kw) = self.kernel;
        if self.padding == Padding::Valid && (h < kh || w < kw) {
            return Err(candle_core::Error::Msg(format!(
                "input {h}x{w} smaller than kernel {kh}x{kw}"
            )));
        }
        let g = self.geometry(h, w);
        let input = &data[start..end];
        let mut out = vec![0f32; n * c * g.out_h * g.out_w];
        out.par_chunks_mut(g.out_h * g.out_w)
            .zip(input.par_chunks(h * w))
            .enumerate()
            .for_each_init(Vec::new, |scratch, (i, (dst, src))| {
                let ch = i % c;
                let taps = &self.taps[ch * kh * kw..(ch + 1) * kh * kw];
                let epilogue = ChannelEpilogue {
                    scale: self.epilogue.scale.as_ref().map_or(1.0, |s| s[ch]),
                    shift: self.epilogue.shift.as_ref().map_or(0.0, |s| s[ch]),
                    activation: self.epilogue.activation,
                };
                depthwise_plane(&g, src, taps, epilogue, scratch, dst);
            });
        Ok((CpuStorage::F32(out), Shape::from((n, c, g.out_h, g.out_w))))
    }
}

impl candle_core::Module for DepthwiseConv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        DepthwiseConv2d::forward(self, x)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// The direct kernel against candle's grouped convolution, for the strides, paddings
    /// and odd/even sizes the networks use.
    #[test]
    fn matches_grouped_convolution() -> Result<()> {
        let dev = Device::Cpu;
        // Widths below and above the 8-column vector step, with and without a remainder.
        for &(h, w, stride, padding) in &[
            (9, 7, 1, Padding::Same),
            (8, 8, 2, Padding::Same),
            (7, 10, 2, Padding::Same),
            (6, 5, 1, Padding::Valid),
            (9, 9, 2, Padding::Valid),
            (5, 21, 1, Padding::Same),
            (6, 37, 2, Padding::Same),
            (4, 34, 2, Padding::Valid),
        ] {
            let c = 5;
            let x = Tensor::randn(0f32, 1.0, (2, c, h, w), &dev)?;
            let filters = Tensor::randn(0f32, 1.0, (3, 3, c, 1), &dev)?;
            let bias = Tensor::randn(0f32, 1.0, c, &dev)?;
            let conv = DepthwiseConv2d::from_hwc1(&filters, Some(bias.clone()), stride, padding)?
                .with_activation(Activation::Relu6);
            let fast = conv.forward(&x)?;
            let padded = pad_same(&x, 3, stride, padding)?;
            let reference = padded
                .conv2d(&conv.weight, 0, stride, 1, c)?
                .broadcast_add(&bias.reshape((1, c, 1, 1))?)?
                .clamp(0f32, 6f32)?;
            assert_eq!(
                fast.dims(),
                reference.dims(),
                "{h}x{w} stride {stride} {padding:?}"
            );
            let diff = crate::ops::max_abs_diff(&fast, &reference)?;
            assert!(diff < 1e-5, "{h}x{w} stride {stride} {padding:?}: {diff}");
        }
        Ok(())
    }
}
