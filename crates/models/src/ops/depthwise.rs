use candle_core::{Result, Tensor};

use super::{pad_same, Padding};

/// A depthwise 2-D convolution (one filter per channel) from TF.js `[kh, kw, C, 1]` filters.
#[derive(Debug, Clone)]
pub struct DepthwiseConv2d {
    /// `[C, 1, kh, kw]`, candle's grouped-conv layout.
    weight: Tensor,
    bias: Option<Tensor>,
    channels: usize,
    kernel: usize,
    stride: usize,
    padding: Padding,
}

impl DepthwiseConv2d {
    pub fn from_hwc1(filters: &Tensor, bias: Option<Tensor>, stride: usize, padding: Padding) -> Result<Self> {
        let (kh, _kw, c, _one) = filters.dims4()?;
        Ok(DepthwiseConv2d {
            weight: filters.permute((2, 3, 0, 1))?.contiguous()?,
            bias: bias.map(|b| b.reshape((1, (), 1, 1))).transpose()?,
            channels: c,
            kernel: kh,
            stride,
            padding,
        })
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = pad_same(x, self.kernel, self.stride, self.padding)?;
        let y = x.conv2d(&self.weight, 0, self.stride, 1, self.channels)?;
        match &self.bias {
            Some(b) => y.broadcast_add(b),
            None => Ok(y),
        }
    }
}

impl candle_core::Module for DepthwiseConv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        DepthwiseConv2d::forward(self, x)
    }
}
