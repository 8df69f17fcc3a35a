use candle_core::{Result, Tensor};

use super::{pad_same, Padding};

/// A dense 2-D convolution from TF.js HWIO filters, NCHW activations, with an optional
/// fused epilogue: `+ bias`, then `* scale + shift` (dlib's folded batch norm), then relu,
/// each step rounded to f32 as the separate tfjs ops are.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// OIHW, as candle's conv2d wants.
    weight: Tensor,
    bias: Option<Tensor>,
    scale: Option<(Tensor, Tensor)>,
    relu: bool,
    kernel: usize,
    stride: usize,
    padding: Padding,
}

impl Conv2d {
    /// `filters` is `[kh, kw, in, out]` (TF.js layout), `bias` `[out]`.
    pub fn from_hwio(
        filters: &Tensor,
        bias: Option<Tensor>,
        stride: usize,
        padding: Padding,
    ) -> Result<Self> {
        let (kh, _kw, _i, _o) = filters.dims4()?;
        Ok(Conv2d {
            weight: filters.permute((3, 2, 0, 1))?.contiguous()?,
            bias: bias.map(|b| b.reshape((1, (), 1, 1))).transpose()?,
            scale: None,
            relu: false,
            kernel: kh,
            stride,
            padding,
        })
    }

    /// Follows the convolution with `x * scale + shift` per output channel.
    pub fn with_scale(mut self, scale: &Tensor, shift: &Tensor) -> Result<Self> {
        self.scale = Some((scale.reshape((1, (), 1, 1))?, shift.reshape((1, (), 1, 1))?));
        Ok(self)
    }

    /// Ends with a relu.
    pub fn with_relu(mut self, relu: bool) -> Self {
        self.relu = relu;
        self
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let x = pad_same(x, self.kernel, self.stride, self.padding)?;
        let mut y = x.conv2d(&self.weight, 0, self.stride, 1, 1)?;
        if let Some(b) = &self.bias {
            y = y.broadcast_add(b)?;
        }
        if let Some((scale, shift)) = &self.scale {
            y = y.broadcast_mul(scale)?.broadcast_add(shift)?;
        }
        if self.relu {
            y = y.relu()?;
        }
        Ok(y)
    }
}

impl candle_core::Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Conv2d::forward(self, x)
    }
}
