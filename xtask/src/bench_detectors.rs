//! The detectors' rows of `cargo xtask bench models` (also `cargo xtask bench detectors`):
//! TinyFaceDetector and SSD MobileNet v1 images per second and GFLOP/s, and their
//! depthwise and pointwise layers against candle's own convolutions on the same weights.

use anyhow::Context as _;
use candle_core::{Device, Tensor};
use kao_models::ops::{pad_same, DepthwiseConv2d, Padding, PointwiseConv2d};
use kao_models::{SsdMobilenetV1, TinyFaceDetector};

use crate::bench_models::{conv_flops, matmul_gflops, median_seconds, separable, timing, Rate};

/// Standalone: measures the matmul ceiling itself.
pub fn run_standalone() -> anyhow::Result<()> {
    let device = Device::Cpu;
    let ceiling = matmul_gflops(&device)?;
    println!(
        "{} threads; candle f32 matmul 1024³: {ceiling:.1} GFLOP/s (the ceiling)",
        rayon::current_num_threads()
    );
    run(&device, ceiling)
}

/// Prints the detector tables; each network row measures the matmul ceiling just before
/// it, the layer tables use `ceiling` (candle's f32 matmul GFLOP/s from the same run).
pub fn run(device: &Device, ceiling: f64) -> anyhow::Result<()> {
    println!("\nDetectors, batch 1:\n");
    println!("| network | input | GFLOP/image | images/s | ms/image | GFLOP/s | matmul GFLOP/s | % of matmul | % of matmul per CPU-s |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let tiny = TinyFaceDetector::load_default(device).context("loading TinyFaceDetector")?;
    let ssd = SsdMobilenetV1::load_default(device).context("loading SSD MobileNet v1")?;
    let nets: [DetectorRow; 3] = [
        ("TinyFaceDetector", 416, tiny_gflop(416), &|x| {
            tiny.forward(x).map(drop)
        }),
        // The crop stage's size for LFW's 250×250 photos.
        ("TinyFaceDetector", 256, tiny_gflop(256), &|x| {
            tiny.forward(x).map(drop)
        }),
        ("SsdMobilenetV1", 512, ssd_gflop(), &|x| {
            ssd.forward(x).map(drop)
        }),
    ];
    for (name, size, gflop, forward) in nets {
        let matmul = Rate::matmul(device)?;
        let x = Tensor::rand(0f32, 255f32, (1, 3, size, size), device)?.round()?;
        let t = timing(|| forward(&x))?;
        let rate = Rate::of(gflop, &t);
        println!(
            "| {name} | {size}×{size} | {gflop:.3} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0}% | {:.0}% |",
            1.0 / t.wall,
            t.wall * 1e3,
            rate.wall,
            matmul.wall,
            100.0 * rate.wall / matmul.wall,
            100.0 * rate.cpu / matmul.cpu
        );
    }
    layers(device, ceiling)
}

/// Depthwise 3×3 layers (Kao's direct kernel with fused batch norm + ReLU6 against
/// candle's grouped conv2d + tensor ops) and 1×1 layers (Kao's single GEMM with fused
/// bias + ReLU6 against candle's conv2d + tensor ops), shapes from SSD and the tiny detector.
fn layers(device: &Device, ceiling: f64) -> anyhow::Result<()> {
    println!("\nDetector layers, batch 1:\n");
    println!("| layer | input | stride | GFLOP | Kao ms | Kao GFLOP/s | candle ms | candle GFLOP/s | speed-up |");
    println!("|---|---|---|---|---|---|---|---|---|");
    // (name, channels, input side, stride)
    let depthwise = [
        ("SSD Conv2d_1_depthwise", 32, 256, 1),
        ("SSD Conv2d_2_depthwise", 64, 256, 2),
        ("SSD Conv2d_3_depthwise", 128, 128, 1),
        ("SSD Conv2d_7_depthwise", 512, 32, 1),
        ("SSD Conv2d_12_depthwise", 512, 32, 2),
        ("tiny conv1 depthwise", 16, 207, 1),
    ];
    for (name, c, side, stride) in depthwise {
        let filters = Tensor::randn(0f32, 0.1, (3, 3, c, 1), device)?;
        let ones = Tensor::ones(c, candle_core::DType::F32, device)?;
        let conv = DepthwiseConv2d::from_hwc1(&filters, None, stride, Padding::Same)?
            .with_batch_norm(&ones, &ones, &ones, &ones, 1e-3)?
            .with_activation(kao_models::ops::Activation::Relu6);
        let weight = filters.permute((2, 3, 0, 1))?.contiguous()?;
        let scale = Tensor::ones((1, c, 1, 1), candle_core::DType::F32, device)?;
        let x = Tensor::randn(0f32, 1.0, (1, c, side, side), device)?;
        let out = side.div_ceil(stride);
        let gflop = 2.0 * (9 * c * out * out) as f64 / 1e9;
        let kao = median_seconds(|| conv.forward(&x).map(drop).map_err(Into::into))?;
        let candle = median_seconds(|| {
            let y = pad_same(&x, 3, stride, Padding::Same)?.conv2d(&weight, 0, stride, 1, c)?;
            y.broadcast_mul(&scale)?
                .broadcast_add(&scale)?
                .clamp(0f32, 6f32)
                .map(drop)
                .map_err(Into::into)
        })?;
        row(
            name,
            &format!("{c}×{side}×{side}"),
            stride,
            gflop,
            kao,
            candle,
            ceiling,
        );
    }
    // (name, in, out, side)
    let pointwise = [
        ("SSD Conv2d_1_pointwise", 32, 64, 256),
        ("SSD Conv2d_3_pointwise", 128, 128, 128),
        ("SSD Conv2d_7_pointwise", 512, 512, 32),
        ("SSD Conv2d_13_pointwise", 1024, 1024, 16),
        ("tiny conv3 pointwise", 64, 128, 52),
    ];
    for (name, cin, cout, side) in pointwise {
        let filters = Tensor::randn(0f32, 0.1, (1, 1, cin, cout), device)?;
        let bias = Tensor::ones(cout, candle_core::DType::F32, device)?;
        let conv = PointwiseConv2d::from_hwio(&filters, Some(bias.clone()))?
            .with_activation(kao_models::ops::Activation::Relu6);
        let weight = filters.permute((3, 2, 0, 1))?.contiguous()?;
        let bias = bias.reshape((1, cout, 1, 1))?;
        let x = Tensor::randn(0f32, 1.0, (1, cin, side, side), device)?;
        let gflop = 2.0 * (cin * cout * side * side) as f64 / 1e9;
        let kao = median_seconds(|| conv.forward(&x).map(drop).map_err(Into::into))?;
        let candle = median_seconds(|| {
            let y = x.conv2d(&weight, 0, 1, 1, 1)?;
            y.broadcast_add(&bias)?
                .clamp(0f32, 6f32)
                .map(drop)
                .map_err(Into::into)
        })?;
        row(
            name,
            &format!("{cin}×{side}×{side}"),
            1,
            gflop,
            kao,
            candle,
            ceiling,
        );
    }
    Ok(())
}

fn row(name: &str, input: &str, stride: usize, gflop: f64, kao: f64, candle: f64, ceiling: f64) {
    println!(
        "| {name} | {input} | {stride} | {gflop:.4} | {:.2} | {:.1} ({:.0}%) | {:.2} | {:.1} | {:.1}× |",
        kao * 1e3,
        gflop / kao,
        100.0 * gflop / kao / ceiling,
        candle * 1e3,
        gflop / candle,
        candle / kao
    );
}

/// conv0 3×3 valid, then five separable convs after 2×2 pools, then the 1×1 head.
fn tiny_gflop(size: usize) -> f64 {
    let mut side = size - 2;
    let mut flops = conv_flops(3, 16, 3, side);
    let mut cin = 16;
    for cout in [32, 64, 128, 256, 512] {
        side = side.div_ceil(2);
        flops += separable(cin, cout, side);
        cin = cout;
    }
    (flops + conv_flops(512, 25, 1, side)) / 1e9
}

fn ssd_gflop() -> f64 {
    let mut side = 256;
    let mut flops = conv_flops(3, 32, 3, side);
    let pairs = [
        (32, 64, 1),
        (64, 128, 2),
        (128, 128, 1),
        (128, 256, 2),
        (256, 256, 1),
        (256, 512, 2),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 512, 1),
        (512, 1024, 2),
        (1024, 1024, 1),
    ];
    for (cin, cout, stride) in pairs {
        side = side.div_ceil(stride);
        flops += separable(cin, cout, side);
    }
    let extra = [
        (1024, 256, 16, 1),
        (256, 512, 8, 3),
        (512, 128, 8, 1),
        (128, 256, 4, 3),
        (256, 128, 4, 1),
        (128, 256, 2, 3),
        (256, 64, 2, 1),
        (64, 128, 1, 3),
    ];
    for (cin, cout, out, k) in extra {
        flops += conv_flops(cin, cout, k, out);
    }
    for (cin, anchors, out) in [
        (512, 3, 32),
        (1024, 6, 16),
        (512, 6, 8),
        (256, 6, 4),
        (256, 6, 2),
        (128, 6, 1),
    ] {
        flops += conv_flops(cin, anchors * 7, 1, out);
    }
    flops / 1e9
}

/// (name, input side, GFLOP per image, forward pass).
type DetectorRow<'a> = (
    &'a str,
    usize,
    f64,
    &'a (dyn Fn(&Tensor) -> kao_models::Result<()> + Sync),
);
