//! `cargo xtask bench models`: images per second of the recognition and landmark nets at
//! batch 1 and 16, their GFLOP/s, against candle's f32 matmul on the same machine in the
//! same run as the ceiling dense arithmetic can reach. The ceiling is measured again just
//! before each network's rows, and each rate is also given per CPU-second (all threads'
//! CPU time): on a shared machine the wall-clock rates of a net and of the ceiling measured
//! moments apart move with the other tenants' load, their CPU-time rates much less.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use candle_core::{Device, Tensor};
use kao_models::ops::{Conv2d, Padding};
use kao_models::{FaceLandmark68Net, FaceLandmark68TinyNet, FaceRecognitionNet};

/// Keep timing each configuration at least this long (and at least three runs).
const MIN_TIME: Duration = Duration::from_secs(2);

pub fn run() -> anyhow::Result<()> {
    let device = Device::Cpu;
    let threads = rayon::current_num_threads();
    let ceiling = matmul_gflops(&device)?;
    println!("{threads} threads; candle f32 matmul 1024³: {ceiling:.1} GFLOP/s (the ceiling, also measured before each network)\n");
    println!("| network | GFLOP/image | batch | images/s | ms/image | GFLOP/s | matmul GFLOP/s | % of matmul | % of matmul per CPU-s |");
    println!("|---|---|---|---|---|---|---|---|---|");

    let recognition =
        FaceRecognitionNet::load_default(&device).context("loading the recognition net")?;
    let landmarks = FaceLandmark68Net::load_default(&device).context("loading the landmark net")?;
    let tiny =
        FaceLandmark68TinyNet::load_default(&device).context("loading the tiny landmark net")?;
    let nets: [NetRow; 3] = [
        ("FaceRecognitionNet", 150, recognition_gflop(), &|x| {
            recognition.forward(x)
        }),
        (
            "FaceLandmark68Net",
            112,
            landmark_gflop(&[32, 64, 128, 256], 4),
            &|x| landmarks.forward(x),
        ),
        (
            "FaceLandmark68TinyNet",
            112,
            landmark_gflop(&[32, 64, 128], 3),
            &|x| tiny.forward(x),
        ),
    ];
    for (name, size, gflop, forward) in nets {
        let matmul = Rate::matmul(&device)?;
        for batch in [1, 16] {
            let x = (Tensor::rand(0f32, 255f32, (batch, 3, size, size), &device)?).round()?;
            let t = timing(|| forward(&x).map(drop))?;
            let rate = Rate::of(gflop * batch as f64, &t);
            println!(
                "| {name} | {gflop:.3} | {batch} | {:.1} | {:.2} | {:.1} | {:.1} | {:.0}% | {:.0}% |",
                batch as f64 / t.wall,
                1000.0 * t.wall / batch as f64,
                rate.wall,
                matmul.wall,
                100.0 * rate.wall / matmul.wall,
                100.0 * rate.cpu / matmul.cpu
            );
        }
    }
    crate::bench_detectors::run(&device, ceiling)?;
    conv_layers(&device, ceiling)
}

/// Each distinct dense conv of the recognition net at batch 16: Kao's kernel against
/// candle's `conv2d` (plus the same bias/scale/relu as tensor ops), on the same weights.
fn conv_layers(device: &Device, ceiling: f64) -> anyhow::Result<()> {
    println!("\nRecognition-net conv layers, batch 16 (kernel: Kao's implicit GEMM with the epilogue fused; candle: conv2d + tensor ops):\n");
    println!(
        "| layer | input | GFLOP | Kao ms | Kao GFLOP/s | candle ms | candle GFLOP/s | speed-up |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    // (name, cin, cout, kernel, stride, padding, input side)
    let layers = [
        ("conv32_down", 3, 32, 7, 2, Padding::Valid, 150),
        ("conv32_*", 32, 32, 3, 1, Padding::Same, 35),
        ("conv64_down/conv1", 32, 64, 3, 2, Padding::Valid, 35),
        ("conv64_*", 64, 64, 3, 1, Padding::Same, 17),
        ("conv128_down/conv1", 64, 128, 3, 2, Padding::Valid, 17),
        ("conv128_*", 128, 128, 3, 1, Padding::Same, 8),
        ("conv256_*", 256, 256, 3, 1, Padding::Same, 4),
    ];
    let batch = 16;
    for (name, cin, cout, k, stride, padding, side) in layers {
        let filters = Tensor::randn(0f32, 0.1, (k, k, cin, cout), device)?;
        let ones = Tensor::ones(cout, candle_core::DType::F32, device)?;
        let conv = Conv2d::from_hwio(&filters, Some(ones.clone()), stride, padding)?
            .with_scale(&ones, &ones)?
            .with_relu(true);
        let x = Tensor::randn(0f32, 1.0, (batch, cin, side, side), device)?;
        let out = conv.forward(&x)?.dims()[2];
        let gflop = batch as f64 * conv_flops(cin, cout, k, out) / 1e9;
        let kao = median_seconds(|| conv.forward(&x).map(drop).map_err(Into::into))?;
        let candle = median_seconds(|| conv.forward_reference(&x).map(drop).map_err(Into::into))?;
        println!(
            "| {name} | {cin}×{side}×{side} | {gflop:.3} | {:.2} | {:.1} ({:.0}%) | {:.2} | {:.1} | {:.1}× |",
            kao * 1e3,
            gflop / kao,
            100.0 * gflop / kao / ceiling,
            candle * 1e3,
            gflop / candle,
            candle / kao
        );
    }
    Ok(())
}

/// One call's median wall time and mean CPU time (all threads), in seconds.
pub(crate) struct Timing {
    pub wall: f64,
    pub cpu: f64,
}

/// Times calls of `f` after one warm-up call. Each call runs on one of rayon's threads, as
/// the networks run in the crop stage and the server (called from outside the pool, every
/// parallel layer would first hand its work to the pool and wait for it).
pub(crate) fn timing(
    mut f: impl FnMut() -> kao_models::Result<()> + Send,
) -> anyhow::Result<Timing> {
    let mut call = || rayon::scope(|_| f());
    call()?;
    let (start, cpu) = (Instant::now(), crate::usage::cpu_seconds());
    let mut times = Vec::new();
    while times.len() < 3 || start.elapsed() < MIN_TIME {
        let t = Instant::now();
        call()?;
        times.push(t.elapsed().as_secs_f64());
    }
    let cpu = (crate::usage::cpu_seconds() - cpu) / times.len() as f64;
    times.sort_by(f64::total_cmp);
    Ok(Timing {
        wall: times[times.len() / 2],
        cpu,
    })
}

/// Median wall time of one call (see [`timing`]).
pub(crate) fn median_seconds(
    f: impl FnMut() -> kao_models::Result<()> + Send,
) -> anyhow::Result<f64> {
    Ok(timing(f)?.wall)
}

/// GFLOP per second of wall time and per CPU-second.
pub(crate) struct Rate {
    pub wall: f64,
    pub cpu: f64,
}

impl Rate {
    pub fn of(gflop: f64, t: &Timing) -> Rate {
        Rate {
            wall: gflop / t.wall,
            cpu: gflop / t.cpu,
        }
    }

    /// candle's f32 1024³ matmul now: the ceiling.
    pub fn matmul(device: &Device) -> anyhow::Result<Rate> {
        let n = 1024;
        let a = Tensor::randn(0f32, 1.0, (n, n), device)?;
        let b = Tensor::randn(0f32, 1.0, (n, n), device)?;
        let t = timing(|| a.matmul(&b).map(drop).map_err(Into::into))?;
        Ok(Rate::of(2.0 * (n * n * n) as f64 / 1e9, &t))
    }
}

pub(crate) fn matmul_gflops(device: &Device) -> anyhow::Result<f64> {
    Ok(Rate::matmul(device)?.wall)
}

/// Multiply-adds ×2 of a dense `k`×`k` conv producing `out`×`out`×`cout` from `cin` channels.
pub(crate) fn conv_flops(cin: usize, cout: usize, k: usize, out: usize) -> f64 {
    2.0 * (cin * cout * k * k * out * out) as f64
}

/// A depthwise 3×3 conv then a 1×1 conv, at `out`×`out`.
pub(crate) fn separable(cin: usize, cout: usize, out: usize) -> f64 {
    2.0 * (9 * cin * out * out) as f64 + conv_flops(cin, cout, 1, out)
}

/// The convolutions of the 150×150 net: 72 → (pool) 35 → 17 → 8 → 3, padded to 4 → 1.
fn recognition_gflop() -> f64 {
    let residual = |c: usize, size: usize| 2.0 * conv_flops(c, c, 3, size);
    let down = |cin: usize, cout: usize, conv_out: usize| {
        conv_flops(cin, cout, 3, conv_out) + conv_flops(cout, cout, 3, conv_out)
    };
    let flops = conv_flops(3, 32, 7, 72)
        + 3.0 * residual(32, 35)
        + down(32, 64, 17)
        + 3.0 * residual(64, 17)
        + down(64, 128, 8)
        + 2.0 * residual(128, 8)
        + down(128, 256, 3)
        + 2.0 * residual(256, 4)
        + down(256, 256, 1)
        + 2.0 * (256 * 128) as f64;
    flops / 1e9
}

/// Dense blocks of `depth` convs halving 112 each block, then the 136-way fully connected layer.
fn landmark_gflop(channels: &[usize], depth: usize) -> f64 {
    let mut flops = 0.0;
    let (mut cin, mut size) = (3, 112);
    for (i, &c) in channels.iter().enumerate() {
        size /= 2;
        flops += if i == 0 {
            conv_flops(cin, c, 3, size)
        } else {
            separable(cin, c, size)
        };
        flops += (depth - 1) as f64 * separable(c, c, size);
        cin = c;
    }
    (flops + 2.0 * (cin * 136) as f64) / 1e9
}

/// (name, input side, GFLOP per image, forward pass).
type NetRow<'a> = (
    &'a str,
    usize,
    f64,
    &'a (dyn Fn(&Tensor) -> kao_models::Result<Tensor> + Sync),
);
