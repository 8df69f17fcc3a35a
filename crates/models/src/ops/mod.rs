//! Convolution building blocks with TensorFlow's padding rules, shared by every network.

mod conv;
mod conv_pool;
mod dense_kernel;
mod depthwise;
mod depthwise_kernel;
mod epilogue;
mod panel_gemm;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod panel_gemm_simd128;
mod pointwise;
pub mod pool;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd128;
#[cfg(any(
    target_arch = "x86_64",
    all(target_arch = "wasm32", target_feature = "simd128")
))]
mod simd_blocking;
mod winograd;

pub use conv::Conv2d;
pub use conv_pool::Conv3x3Pool;
pub use depthwise::DepthwiseConv2d;
pub use epilogue::{Activation, Epilogue};
pub use pointwise::PointwiseConv2d;

/// A raw output pointer shared by a kernel's rayon tasks, each of which writes a disjoint
/// set of elements (columns of the same rows, which no `&mut` slice can split).
#[derive(Clone, Copy)]
pub(crate) struct OutPtr(pub(crate) *mut f32);
// SAFETY: only the pointer is shared; the kernels using it keep the tasks' writes disjoint.
unsafe impl Send for OutPtr {}
unsafe impl Sync for OutPtr {}

impl OutPtr {
    /// A method, so closures capture the whole (`Send`) wrapper rather than its raw field.
    pub(crate) fn at(self, offset: usize) -> *mut f32 {
        self.0.wrapping_add(offset)
    }
}

/// Whether Kao's CPU kernels take `x`: on the CPU (and, for most of them, f32). The
/// browser build has no other device and feeds only f32, so there the answer is a
/// constant and candle's own convolution and matmul, the other path, stay out of the
/// module.
#[inline]
pub(crate) fn on_cpu(x: &candle_core::Tensor) -> bool {
    cfg!(target_arch = "wasm32") || x.device().is_cpu()
}

/// [`on_cpu`] with f32 data.
#[inline]
pub(crate) fn on_cpu_f32(x: &candle_core::Tensor) -> bool {
    cfg!(target_arch = "wasm32") || (x.device().is_cpu() && x.dtype() == candle_core::DType::F32)
}

/// TensorFlow padding: `Valid` adds none; `Same` gives `ceil(in / stride)` outputs with
/// the total padding split `floor(total/2)` before and the rest after (asymmetric, unlike
/// candle's symmetric padding).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Padding {
    Same,
    Valid,
}

impl Padding {
    /// (before, after) padding for one spatial axis.
    pub fn amounts(self, input: usize, kernel: usize, stride: usize) -> (usize, usize) {
        match self {
            Padding::Valid => (0, 0),
            Padding::Same => {
                let out = input.div_ceil(stride);
                let total = ((out - 1) * stride + kernel).saturating_sub(input);
                (total / 2, total - total / 2)
            }
        }
    }
}

/// Zero-pads an NCHW tensor for a kernel under TensorFlow's rule.
pub fn pad_same(
    x: &candle_core::Tensor,
    kernel: usize,
    stride: usize,
    padding: Padding,
) -> candle_core::Result<candle_core::Tensor> {
    let (_, _, h, w) = x.dims4()?;
    let (top, bottom) = padding.amounts(h, kernel, stride);
    let (left, right) = padding.amounts(w, kernel, stride);
    let mut x = x.clone();
    if top + bottom > 0 {
        x = x.pad_with_zeros(2, top, bottom)?;
    }
    if left + right > 0 {
        x = x.pad_with_zeros(3, left, right)?;
    }
    Ok(x)
}

/// Largest absolute element-wise difference of two tensors of one shape: the fast kernels'
/// tests compare against candle's own ops with it.
#[cfg(test)]
pub(crate) fn max_abs_diff(
    a: &candle_core::Tensor,
    b: &candle_core::Tensor,
) -> candle_core::Result<f32> {
    (a - b)?.abs()?.flatten_all()?.max(0)?.to_scalar::<f32>()
}
