//! What follows a convolution's sums in every network here: a per-channel scale and shift
//! (bias, or folded batch norm) and an activation, applied in place on NCHW `f32` buffers
//! so the kernels need no extra pass over memory.

use candle_core::{CpuStorage, Layout, Result, Tensor};
use rayon::prelude::*;

// Not `f32::max`: its NaN rule keeps it from vectorising, and on wasm32 it is a call.
use super::pool::max;

/// The activations face-api's networks use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Identity,
    Relu,
    /// `clipByValue(x, 0, 6)`: MobileNet.
    Relu6,
    /// face-api writes leaky ReLU as `relu(x - 0.1x) + 0.1x` (0.1 as f32); kept as written
    /// so results round the same way.
    Leaky,
}

impl Activation {
    /// A number per activation, for kernels specialised on it (`const ACT: u8`); only the
    /// x86-64 kernels are specialised that way.
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    pub(crate) const fn index(self) -> u8 {
        match self {
            Activation::Identity => 0,
            Activation::Relu => 1,
            Activation::Relu6 => 2,
            Activation::Leaky => 3,
        }
    }

    #[inline(always)]
    pub fn apply(self, x: f32) -> f32 {
        match self {
            Activation::Identity => x,
            Activation::Relu => max(x, 0.0),
            Activation::Relu6 => x.clamp(0.0, 6.0),
            Activation::Leaky => {
                let m = x * 0.1;
                max(x - m, 0.0) + m
            }
        }
    }

    /// The same on any device, with candle's tensor ops.
    pub fn apply_tensor(self, x: &Tensor) -> Result<Tensor> {
        match self {
            Activation::Identity => Ok(x.clone()),
            Activation::Relu => x.relu(),
            Activation::Relu6 => x.relu()?.minimum(6f32),
            Activation::Leaky => {
                let m = (x * 0.1)?;
                (x - &m)?.relu()? + m
            }
        }
    }
}

/// `activation(v * scale + shift)` on every value; the loops specialise on the activation
/// so each vectorises (plain loops: closures would not inherit the AVX2 wrapper's features).
#[inline(always)]
fn apply(activation: Activation, scale: f32, shift: f32, values: &mut [f32]) {
    match activation {
        Activation::Identity => {
            for v in values {
                *v = *v * scale + shift;
            }
        }
        Activation::Relu => {
            for v in values {
                *v = max(*v * scale + shift, 0.0);
            }
        }
        Activation::Relu6 => {
            for v in values {
                *v = (*v * scale + shift).clamp(0.0, 6.0);
            }
        }
        Activation::Leaky => {
            for v in values {
                *v = Activation::Leaky.apply(*v * scale + shift);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn apply_avx2(activation: Activation, scale: f32, shift: f32, values: &mut [f32]) {
    apply(activation, scale, shift, values)
}

/// The activations on eight lanes, for the AVX2 kernels.
#[cfg(target_arch = "x86_64")]
pub(crate) mod avx2 {
    use std::arch::x86_64::*;

    /// [`super::Activation::apply`] on each lane; `ACT` is [`super::Activation::index`].
    #[inline]
    #[target_feature(enable = "avx2,fma")]
    pub(crate) unsafe fn activate<const ACT: u8>(v: __m256) -> __m256 {
        let zero = _mm256_setzero_ps();
        match ACT {
            0 => v,
            1 => _mm256_max_ps(v, zero),
            2 => _mm256_min_ps(_mm256_max_ps(v, zero), _mm256_set1_ps(6.0)),
            _ => {
                let m = _mm256_mul_ps(v, _mm256_set1_ps(0.1));
                _mm256_add_ps(_mm256_max_ps(_mm256_sub_ps(v, m), zero), m)
            }
        }
    }
}

/// The activations on four lanes, for the WebAssembly SIMD128 kernels.
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
pub(crate) mod simd128 {
    use std::arch::wasm32::*;

    use super::Activation;

    /// [`Activation::apply`] on each lane (`pmax`/`pmin`: no NaN handling, one
    /// instruction each).
    #[inline(always)]
    pub(crate) fn activate(v: v128, activation: Activation) -> v128 {
        let zero = f32x4_splat(0.0);
        match activation {
            Activation::Identity => v,
            Activation::Relu => f32x4_pmax(v, zero),
            Activation::Relu6 => f32x4_pmin(f32x4_pmax(v, zero), f32x4_splat(6.0)),
            Activation::Leaky => {
                let m = f32x4_mul(v, f32x4_splat(0.1));
                f32x4_add(f32x4_pmax(f32x4_sub(v, m), zero), m)
            }
        }
    }
}

/// `activation(x * scale[c] + shift[c])` per channel `c`; a missing scale is 1, a missing
/// shift 0 (both skipped, so a plain bias is one addition as in tfjs).
#[derive(Debug, Clone)]
pub struct Epilogue {
    pub scale: Option<Vec<f32>>,
    pub shift: Option<Vec<f32>>,
    pub activation: Activation,
}

impl Epilogue {
    pub fn identity() -> Self {
        Epilogue {
            scale: None,
            shift: None,
            activation: Activation::Identity,
        }
    }

    pub fn is_identity(&self) -> bool {
        self.scale.is_none() && self.shift.is_none() && self.activation == Activation::Identity
    }

    /// Applies channel `c`'s transform to `values`.
    pub fn apply_channel(&self, c: usize, values: &mut [f32]) {
        // A missing scale is 1 and a missing shift 0: exact, so they round as if skipped.
        let scale = self.scale.as_ref().map_or(1.0, |s| s[c]);
        let shift = self.shift.as_ref().map_or(0.0, |s| s[c]);
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx2")
                && std::arch::is_x86_feature_detected!("fma")
            {
                // SAFETY: the CPU has the features the function is compiled for.
                unsafe { apply_avx2(self.activation, scale, shift, values) };
                return;
            }
        }
        apply(self.activation, scale, shift, values);
    }

    /// Applies the epilogue to an NCHW tensor: in place on the CPU, with tensor ops elsewhere.
    pub fn forward(&self, x: Tensor) -> Result<Tensor> {
        if self.is_identity() {
            return Ok(x);
        }
        if super::on_cpu(&x) {
            let x = x.contiguous()?;
            x.inplace_op1(self)?;
            return Ok(x);
        }
        let channels = x.dim(1)?;
        let mut y = x;
        if let Some(s) = &self.scale {
            y = y.broadcast_mul(&Tensor::from_slice(s, (1, channels, 1, 1), y.device())?)?;
        }
        if let Some(s) = &self.shift {
            y = y.broadcast_add(&Tensor::from_slice(s, (1, channels, 1, 1), y.device())?)?;
        }
        self.activation.apply_tensor(&y)
    }
}

impl candle_core::InplaceOp1 for Epilogue {
    fn name(&self) -> &'static str {
        "kao-epilogue"
    }

    fn cpu_fwd(&self, storage: &mut CpuStorage, layout: &Layout) -> Result<()> {
        let (start, end) = layout
            .contiguous_offsets()
            .ok_or_else(|| candle_core::Error::Msg("epilogue needs a contiguous tensor".into()))?;
        let CpuStorage::F32(data) = storage else {
            return Err(candle_core::Error::Msg("epilogue works on f32 only".into()));
        };
        let dims = layout.dims();
        let channels = dims.get(1).copied().unwrap_or(1);
        let plane: usize = dims.iter().skip(2).product();
        if plane == 0 || channels == 0 {
            return Ok(());
        }
        data[start..end]
            .par_chunks_mut(plane)
            .enumerate()
            .for_each(|(i, p)| self.apply_channel(i % channels, p));
        Ok(())
    }
}
