use candle_core::{CpuStorage, Layout, Result, Shape, Tensor};
use rayon::prelude::*;

use super::epilogue::{Activation, Epilogue};
use super::panel_gemm::{self, PackedWeights};
use super::OutPtr;

/// A 1×1 convolution as a matrix product per image: `[Cout, Cin] × [Cin, H·W]`. It
/// holds most of a depthwise-separable network's FLOPs. On the CPU the input plane is the
/// product's right operand as it lies (no im2col, no packing), the weights are packed once,
/// and the epilogue runs on each block of columns while it is still in cache.
#[derive(Debug, Clone)]
pub struct PointwiseConv2d {
    /// `[Cout, Cin]`.
    weight: Tensor,
    packed: PackedWeights,
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
            packed: PackedWeights::pack(&weight.flatten_all()?.to_vec1::<f32>()?, cout, cin),
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
        if super::on_cpu_f32(x) {
            return x.contiguous()?.apply_op1_no_bwd(self);
        }
        self.forward_reference(x)
    }

    /// candle's matmul and tensor ops: the path for non-CPU devices, and the reference the
    /// CPU kernel is tested against.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let (n, c, h, w) = x.dims4()?;
        let x = x.reshape((n, c, h * w))?;
        let y = self.weight.broadcast_left(n)?.matmul(&x)?;
        self.epilogue
            .forward(y.reshape((n, self.out_channels(), h, w))?)
    }
}

impl candle_core::CustomOp1 for PointwiseConv2d {
    fn name(&self) -> &'static str {
        "kao-pointwise"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("pointwise convolution works on f32 only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("pointwise convolution needs a contiguous input");
        };
        let (n, cin, h, w) = layout.shape().dims4()?;
        if cin != self.packed.depth() {
            candle_core::bail!(
                "pointwise convolution expects {} input channels, got {cin}",
                self.packed.depth()
            );
        }
        let (input, cout, plane) = (&data[start..end], self.out_channels(), h * w);
        let len = n * cout * plane;
        let mut out = Vec::<f32>::with_capacity(len);
        let dst = OutPtr(out.as_mut_ptr());
        if plane > 0 && cout > 0 {
            let threads = rayon::current_num_threads();
            let block = panel_gemm::columns_per_task(cin, plane, threads, (48, 4096));
            let blocks = plane.div_ceil(block);
            (0..n * blocks).into_par_iter().for_each(|item| {
                let (img, j0) = (item / blocks, (item % blocks) * block);
                let cols = block.min(plane - j0);
                let out0 = img * cout * plane + j0;
                // SAFETY: this task alone writes columns j0..j0+cols of image img's rows,
                // all inside the allocation of `len` floats.
                #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
                unsafe {
                    super::panel_gemm_simd128::multiply_lanes(
                        &self.packed,
                        input[img * cin * plane + j0..].as_ptr(),
                        plane,
                        cols,
                        dst.at(out0),
                        plane,
                        &self.epilogue,
                    );
                }
                // SAFETY: as above.
                #[cfg(not(all(target_arch = "wasm32", target_feature = "simd128")))]
                unsafe {
                    panel_gemm::multiply_into(
                        &self.packed,
                        0,
                        cout,
                        &input[img * cin * plane + j0..],
                        plane,
                        cols,
                        dst.at(out0),
                        plane,
                    );
                    if !self.epilogue.is_identity() {
                        for co in 0..cout {
                            let run =
                                std::slice::from_raw_parts_mut(dst.at(out0 + co * plane), cols);
                            self.epilogue.apply_channel(co, run);
                        }
                    }
                }
            });
        }
        // SAFETY: the tasks above wrote every element (each image's rows, all columns).
        unsafe { out.set_len(len) };
        Ok((CpuStorage::F32(out), Shape::from((n, cout, h, w))))
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

    /// The CPU kernel against candle's matmul over partial panels, partial column tiles,
    /// several column blocks per image and a batch.
    #[test]
    fn kernel_matches_matmul() -> Result<()> {
        let dev = Device::Cpu;
        for (n, cin, cout, h, w) in [
            (1, 3, 16, 1, 1),
            (2, 40, 25, 9, 11),
            (1, 512, 70, 13, 17),
            (3, 16, 48, 40, 40),
        ] {
            let x = Tensor::randn(0f32, 1.0, (n, cin, h, w), &dev)?;
            let filters = Tensor::randn(0f32, 1.0, (1, 1, cin, cout), &dev)?;
            let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let conv = PointwiseConv2d::from_hwio(&filters, Some(bias))?
                .with_activation(Activation::Relu6);
            let diff = crate::ops::max_abs_diff(&conv.forward(&x)?, &conv.forward_reference(&x)?)?;
            assert!(diff < 1e-4, "{n}x{cin}x{h}x{w} -> {cout}: {diff}");
        }
        Ok(())
    }
}
