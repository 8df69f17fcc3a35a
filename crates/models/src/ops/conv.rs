use std::mem::MaybeUninit;

use candle_core::{CpuStorage, Layout, Result, Shape, Tensor};

use super::dense_kernel::{self, Geometry};
use super::panel_gemm::{PackedWeights, RowEpilogue};
use super::winograd::Winograd3x3;
use super::Activation;
use super::{pad_same, Padding};

/// A dense 2-D convolution from TF.js HWIO filters, NCHW activations, with an optional
/// fused epilogue: `+ bias`, then `* scale + shift` (dlib's folded batch norm), then relu,
/// each step rounded to f32 as the separate tfjs ops are.
///
/// On the CPU it runs [`dense_kernel::conv2d`] (an implicit GEMM over the input's phase
/// planes, epilogue fused); on other devices candle's `conv2d` and tensor ops.
#[derive(Debug, Clone)]
pub struct Conv2d {
    /// OIHW, as candle's conv2d wants (the non-CPU path and the reference).
    weight: Tensor,
    /// The same weights packed for [`dense_kernel::conv2d`].
    packed: PackedWeights,
    /// For a 3×3 stride-1 `'same'` conv in the browser build: the weights in Winograd's
    /// domain (see [`Winograd3x3`] for why only there).
    winograd: Option<Winograd3x3>,
    /// `+ bias`, `* scale + shift`, relu, per output channel (padded to whole panels).
    epilogue: RowEpilogue,
    /// Whether there is a bias / a scale, for the reference path.
    has_bias: bool,
    has_scale: bool,
    kernel: (usize, usize),
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
        let (kh, kw, cin, cout) = filters.dims4()?;
        let weight = filters.permute((3, 2, 0, 1))?.contiguous()?;
        let mut epilogue = RowEpilogue::identity(cout);
        let has_bias = bias.is_some();
        if let Some(b) = bias {
            epilogue.bias[..cout].copy_from_slice(&b.flatten_all()?.to_vec1::<f32>()?);
        }
        let oihw = weight.flatten_all()?.to_vec1::<f32>()?;
        let winograd = (cfg!(target_arch = "wasm32")
            && (kh, kw, stride, padding) == (3, 3, 1, Padding::Same))
            .then(|| Winograd3x3::from_oihw(&oihw, cout, cin));
        Ok(Conv2d {
            packed: dense_kernel::pack_hwi(&oihw, cout, cin, kh, kw),
            winograd,
            weight,
            epilogue,
            has_bias,
            has_scale: false,
            kernel: (kh, kw),
            stride,
            padding,
        })
    }

    /// Follows the convolution with `x * scale + shift` per output channel.
    pub fn with_scale(mut self, scale: &Tensor, shift: &Tensor) -> Result<Self> {
        let n = self.out_channels();
        self.epilogue.scale[..n].copy_from_slice(&scale.flatten_all()?.to_vec1::<f32>()?);
        self.epilogue.shift[..n].copy_from_slice(&shift.flatten_all()?.to_vec1::<f32>()?);
        self.has_scale = true;
        Ok(self)
    }

    /// Ends with a relu.
    pub fn with_relu(mut self, relu: bool) -> Self {
        self.epilogue.activation = if relu {
            Activation::Relu
        } else {
            Activation::Identity
        };
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

    /// `relu(self.forward(x) + shortcut)`, the closing step of a ResNet block, fused into the
    /// convolution's output pass on the CPU.
    pub fn forward_add_relu(&self, x: &Tensor, shortcut: &Tensor) -> Result<Tensor> {
        if super::on_cpu_f32(x) {
            return x
                .contiguous()?
                .apply_op2_no_bwd(&shortcut.contiguous()?, &AddRelu(self));
        }
        (self.forward_reference(x)? + shortcut)?.relu()
    }

    /// candle's own `conv2d` and tensor ops: the path for non-CPU devices, and the
    /// reference the CPU kernel is tested against.
    pub fn forward_reference(&self, x: &Tensor) -> Result<Tensor> {
        let x = pad_same(x, self.kernel.0, self.stride, self.padding)?;
        let mut y = x.conv2d(&self.weight, 0, self.stride, 1, 1)?;
        let device = y.device().clone();
        let n = self.out_channels();
        let channel = |v: &[f32]| Tensor::from_slice(&v[..n], (1, n, 1, 1), &device);
        let e = &self.epilogue;
        if self.has_bias {
            y = y.broadcast_add(&channel(&e.bias)?)?;
        }
        if self.has_scale {
            y = y
                .broadcast_mul(&channel(&e.scale)?)?
                .broadcast_add(&channel(&e.shift)?)?;
        }
        y = self.epilogue.activation.apply_tensor(&y)?;
        Ok(y)
    }

    /// The Winograd weights, where they exist and pay for an `h`×`w` input.
    fn winograd_for(&self, h: usize, w: usize) -> Option<&Winograd3x3> {
        self.winograd
            .as_ref()
            .filter(|winograd| winograd.worth_it(h, w))
    }

    /// `self.forward(x)` (or `forward_add_relu` with `shortcut`) through [`Winograd3x3`]
    /// whatever the build, for the tests that hold it to the direct kernel.
    #[cfg(test)]
    pub(crate) fn forward_winograd(&self, x: &Tensor, shortcut: Option<&Tensor>) -> Result<Tensor> {
        let (n, cin, h, w) = x.dims4()?;
        let cout = self.out_channels();
        let oihw = self.weight.flatten_all()?.to_vec1::<f32>()?;
        let winograd = Winograd3x3::from_oihw(&oihw, cout, cin);
        let input = x.flatten_all()?.to_vec1::<f32>()?;
        let residual = shortcut
            .map(|s| s.flatten_all()?.to_vec1::<f32>())
            .transpose()?;
        let mut out = vec![MaybeUninit::uninit(); n * cout * h * w];
        winograd.conv(
            &input,
            (n, h, w),
            &self.epilogue,
            residual.as_deref(),
            &mut out,
        );
        // SAFETY: the transform writes every output element.
        let out: Vec<f32> = out
            .into_iter()
            .map(|v| unsafe { v.assume_init() })
            .collect();
        Tensor::from_vec(out, (n, cout, h, w), x.device())
    }

    /// The convolution of contiguous NCHW `input` into `out`: Winograd where it applies,
    /// the direct implicit GEMM elsewhere.
    fn run(
        &self,
        input: &[f32],
        g: &Geometry,
        residual: Option<&[f32]>,
        out: &mut [MaybeUninit<f32>],
    ) {
        match self.winograd_for(g.height, g.width) {
            Some(winograd) => winograd.conv(
                input,
                (g.batch, g.height, g.width),
                &self.epilogue,
                residual,
                out,
            ),
            None => dense_kernel::conv2d(input, &self.packed, g, &self.epilogue, residual, out),
        }
    }

    fn geometry(&self, batch: usize, in_channels: usize, h: usize, w: usize) -> Result<Geometry> {
        let (kh, kw) = self.kernel;
        let expected = self.weight.dims()[1];
        if in_channels != expected {
            candle_core::bail!("convolution expects {expected} input channels, got {in_channels}");
        }
        let out = |n: usize, k: usize| match self.padding {
            Padding::Same => Ok(n.div_ceil(self.stride)),
            Padding::Valid if n >= k => Ok((n - k) / self.stride + 1),
            Padding::Valid => Err(candle_core::Error::Msg(format!(
                "input {h}x{w} smaller than kernel {kh}x{kw}"
            ))),
        };
        Ok(Geometry {
            batch,
            in_channels,
            height: h,
            width: w,
            out_channels: self.out_channels(),
            kernel_h: kh,
            kernel_w: kw,
            stride: self.stride,
            pad_top: self.padding.amounts(h, kh, self.stride).0,
            pad_left: self.padding.amounts(w, kw, self.stride).0,
            out_h: out(h, kh)?,
            out_w: out(w, kw)?,
        })
    }
}

impl candle_core::CustomOp1 for Conv2d {
    fn name(&self) -> &'static str {
        "kao-conv2d"
    }

    fn cpu_fwd(&self, storage: &CpuStorage, layout: &Layout) -> Result<(CpuStorage, Shape)> {
        let CpuStorage::F32(data) = storage else {
            candle_core::bail!("convolution works on f32 only");
        };
        let Some((start, end)) = layout.contiguous_offsets() else {
            candle_core::bail!("convolution needs a contiguous input");
        };
        let (n, c, h, w) = layout.shape().dims4()?;
        let g = self.geometry(n, c, h, w)?;
        let len = n * g.out_channels * g.out_h * g.out_w;
        let mut out = Vec::with_capacity(len);
        self.run(
            &data[start..end],
            &g,
            None,
            &mut out.spare_capacity_mut()[..len],
        );
        // SAFETY: the kernel writes every output element.
        unsafe { out.set_len(len) };
        Ok((
            CpuStorage::F32(out),
            Shape::from((n, g.out_channels, g.out_h, g.out_w)),
        ))
    }
}

/// [`Conv2d::forward_add_relu`] as a candle op over (input, shortcut).
struct AddRelu<'a>(&'a Conv2d);

impl candle_core::CustomOp2 for AddRelu<'_> {
    fn name(&self) -> &'static str {
        "kao-conv2d-add-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let (CpuStorage::F32(input), CpuStorage::F32(shortcut)) = (s1, s2) else {
            candle_core::bail!("convolution works on f32 only");
        };
        let (Some((a0, a1)), Some((b0, b1))) = (l1.contiguous_offsets(), l2.contiguous_offsets())
        else {
            candle_core::bail!("convolution needs contiguous inputs");
        };
        let (n, c, h, w) = l1.shape().dims4()?;
        let g = self.0.geometry(n, c, h, w)?;
        let shape = Shape::from((n, g.out_channels, g.out_h, g.out_w));
        if l2.shape() != &shape {
            candle_core::bail!(
                "shortcut {:?} does not match the convolution output {shape:?}",
                l2.shape()
            );
        }
        let len = shape.elem_count();
        let mut out = Vec::with_capacity(len);
        let residual = Some(&shortcut[b0..b1]);
        self.0.run(
            &input[a0..a1],
            &g,
            residual,
            &mut out.spare_capacity_mut()[..len],
        );
        // SAFETY: the kernel writes every output element.
        unsafe { out.set_len(len) };
        Ok((CpuStorage::F32(out), shape))
    }
}

impl candle_core::Module for Conv2d {
    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        Conv2d::forward(self, x)
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{Device, Tensor};

    use super::*;

    /// The CPU kernel against candle's conv2d, over the shapes face-api's nets use: odd and
    /// even sizes, strides 1 and 2, TF-same (asymmetric) and valid padding, batches.
    #[test]
    fn kernel_matches_candle_conv2d() -> Result<()> {
        let dev = Device::Cpu;
        let cases = [
            (2, 3, 17, 17, 8, 7, 2, Padding::Valid),
            (1, 5, 12, 9, 6, 3, 2, Padding::Same),
            (3, 4, 11, 11, 40, 3, 1, Padding::Same),
            (2, 8, 9, 9, 16, 3, 2, Padding::Valid),
            (1, 6, 4, 4, 70, 3, 1, Padding::Same),
            (2, 6, 5, 7, 4, 1, 1, Padding::Valid),
        ];
        for (n, cin, h, w, cout, k, stride, padding) in cases {
            let x = Tensor::randn(0f32, 1.0, (n, cin, h, w), &dev)?;
            let filters = Tensor::randn(0f32, 1.0, (k, k, cin, cout), &dev)?;
            let bias = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let scale = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let shift = Tensor::randn(0f32, 1.0, cout, &dev)?;
            let conv = Conv2d::from_hwio(&filters, Some(bias), stride, padding)?
                .with_scale(&scale, &shift)?
                .with_relu(true);
            let fast = conv.forward(&x)?;
            let reference = conv.forward_reference(&x)?;
            assert_eq!(fast.dims(), reference.dims());
            let diff = crate::ops::max_abs_diff(&fast, &reference)?;
            assert!(
                diff < 1e-4,
                "{n}x{cin}x{h}x{w} k{k} s{stride} {padding:?}: {diff}"
            );
            let shortcut = Tensor::randn(0f32, 1.0, reference.dims(), &dev)?;
            let fused = conv.forward_add_relu(&x, &shortcut)?;
            let expected = (reference + shortcut)?.relu()?;
            let diff = crate::ops::max_abs_diff(&fused, &expected)?;
            assert!(
                diff < 1e-4,
                "add-relu {n}x{cin}x{h}x{w} k{k} s{stride} {padding:?}: {diff}"
            );
        }
        Ok(())
    }
}
