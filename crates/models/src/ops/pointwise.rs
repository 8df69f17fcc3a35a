use candle_core::{Result, Tensor};

use super::epilogue::{Activation, Epilogue};

/// A 1×1 convolution as one matrix product per image: `[Cout, Cin] × [Cin, H·W]`. It
/// holds most of a depthwise-separable network's FLOPs, and a single GEMM is the fastest
/// way to spend them (candle's conv2d would first copy the input through im2col).
#[derive(Debug, Clone)]
pub struct PointwiseConv2d {
    /// `[Cout, Cin]`.
    weight: Tensor,
    epilogue: Epilogue,
}

impl PointwiseConv2d {
    /// `filters` is TF.js `[1, 1, Cin, Cout]`, `bias` `[Cout]`.
    pub fn from_hwio(filters: &Tensor, bias: Option<Tensor>) -> Result<Self> {
        let (_, _, cin, cout) = filters.dims4()?;
        let weight = filters.reshape((cin, cout))?.t()?.contiguous()?;
        let shift = bias
            .map(|b| b.flatten_all()?.to_vec1::<f32>())
            .transpose()?;
        Ok(PointwiseConv2d {
            weight,
            epilogue: Epilogue {
                scale: None,
                shift,
                activation: Activation::Identity,
            },
        })
    }

    pub fn with_activation(mut self, activation: Activation) -> Self {
        self.epilogue.activation = activation;
        self
    }

    pub fn out_channels(&self) -> usize {
        self.weight.dims()[0]
    }

    pub fn forward(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let x = x.reshape((n, c, h * w))?;
        let y = self.weight.broadcast_left(n)?.matmul(&x)?;
        self.epilogue
            .forward(y.reshape((n, self.out_channels(), h, w))?)
    }
}

impl candle_core::Module for PointwiseConv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        PointwiseConv2d::forward(self, x)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;
    use crate::ops::{Conv2d, Padding};

    #[test]
    fn matches_dense_convolution() -> Result<()> {
        let dev = Device::Cpu;
        let x = Tensor::randn(0f32, 1.0, (2, 6, 5, 7), &dev)?;
        let filters = Tensor::randn(0f32, 1.0, (1, 1, 6, 4), &dev)?;
        let bias = Tensor::randn(0f32, 1.0, 4, &dev)?;
        let fast = PointwiseConv2d::from_hwio(&filters, Some(bias.clone()))?
            .with_activation(Activation::Leaky)
            .forward(&x)?;
        let dense = Conv2d::from_hwio(&filters, Some(bias), 1, Padding::Valid)?.forward(&x)?;
        let reference = Activation::Leaky.apply_tensor(&dense)?;
        let diff = crate::ops::max_abs_diff(&fast, &reference)?;
        assert!(diff < 1e-5, "{diff}");
        Ok(())
    }
}
