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
