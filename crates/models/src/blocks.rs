//! The densely connected blocks shared by both 68-point landmark nets (face-api's
//! `denseBlock3` / `denseBlock4`): each conv sees the relu of the sum of all earlier outputs.

use candle_core::{Module, Tensor};
use candle_nn::VarBuilder;

use crate::error::Result;
use crate::ops::{Activation, Conv2d, DepthwiseConv2d, Epilogue, Padding, PointwiseConv2d};

/// A depthwise 3×3 `'same'` conv, then a 1×1 conv + bias (`tf.separableConv2d` + bias).
#[derive(Debug, Clone)]
pub(crate) struct SeparableConv {
    depthwise: DepthwiseConv2d,
    pointwise: PointwiseConv2d,
}

pub(crate) fn separable_conv(
    vb: VarBuilder,
    cin: usize,
    cout: usize,
    stride: usize,
) -> Result<SeparableConv> {
    let depthwise = vb.get((3, 3, cin, 1), "depthwise_filter")?;
    let pointwise = vb.get((1, 1, cin, cout), "pointwise_filter")?;
    let bias = vb.get(cout, "bias")?;
    Ok(SeparableConv {
        depthwise: DepthwiseConv2d::from_hwc1(&depthwise, None, stride, Padding::Same)?,
        pointwise: PointwiseConv2d::from_hwio(&pointwise, Some(bias))?,
    })
}

impl SeparableConv {
    /// Ends with a relu (fused into the 1×1 conv's epilogue).
    fn with_relu(mut self) -> Self {
        self.pointwise = self.pointwise.with_activation(Activation::Relu);
        self
    }
}

impl Module for SeparableConv {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        x.apply(&self.depthwise)?.apply(&self.pointwise)
    }
}

/// The block's stride-2 entry: a plain 3×3 conv on the RGB input, separable elsewhere.
#[derive(Debug, Clone)]
enum Entry {
    Dense(Conv2d),
    Separable(SeparableConv),
}

impl Module for Entry {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        match self {
            Entry::Dense(conv) => conv.forward(x),
            Entry::Separable(conv) => conv.forward(x),
        }
    }
}

/// `conv0` (stride 2) then `convs` more separable convs at stride 1.
#[derive(Debug, Clone)]
pub(crate) struct DenseBlock {
    conv0: Entry,
    convs: Vec<SeparableConv>,
}

/// A block of `depth` convs (3 in the tiny net, 4 in the full one); `first` makes `conv0` a
/// plain conv with filters `[3, 3, cin, cout]`.
pub(crate) fn dense_block(
    vb: VarBuilder,
    cin: usize,
    cout: usize,
    depth: usize,
    first: bool,
) -> Result<DenseBlock> {
    let conv0 = if first {
        let filters = vb.pp("conv0").get((3, 3, cin, cout), "filters")?;
        let bias = vb.pp("conv0").get(cout, "bias")?;
        Entry::Dense(Conv2d::from_hwio(&filters, Some(bias), 2, Padding::Same)?.with_relu(true))
    } else {
        Entry::Separable(separable_conv(vb.pp("conv0"), cin, cout, 2)?.with_relu())
    };
    let convs = (1..depth)
        .map(|i| separable_conv(vb.pp(format!("conv{i}")), cout, cout, 1))
        .collect::<Result<_>>()?;
    Ok(DenseBlock { conv0, convs })
}

impl Module for DenseBlock {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        // out1 = relu(conv0(x)), the relu fused into conv0.
        let out1 = x.apply(&self.conv0)?;
        // face-api sums right to left: out1 + (out2 + (out3 + out4)); float addition is not
        // associative, so the order is kept.
        let mut outs = vec![out1];
        for conv in &self.convs {
            let input = relu_of_sum(&outs)?;
            outs.push(input.apply(conv)?);
        }
        relu_of_sum(&outs)
    }
}

/// `relu(outs[0] + (outs[1] + (… + outs[n-1])))`. One output is `out1`, already
/// non-negative; a sum is a fresh tensor, so its relu runs in place.
fn relu_of_sum(outs: &[Tensor]) -> candle_core::Result<Tensor> {
    let (last, rest) = outs
        .split_last()
        .expect("a dense block has at least one output");
    if rest.is_empty() {
        return Ok(last.clone());
    }
    let sum = rest.iter().rev().try_fold(last.clone(), |acc, t| t + acc)?;
    Epilogue {
        activation: Activation::Relu,
        ..Epilogue::identity()
    }
    .forward(sum)
}
