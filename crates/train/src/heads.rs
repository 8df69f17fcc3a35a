//! Fitting the four heads. Logistic regression and the MLP are trained with candle-nn's
//! AdamW on a class-balanced cross-entropy, stopping early on the validation loss; the
//! centroid and k-NN heads are not trained, only their softmax scale is fitted.

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use kao_infer::head::{softmax, Head, Matrix};
use kao_infer::HeadKind;

use crate::config::TrainConfig;
use crate::error::Result;
use crate::samples::{Rng, Samples};

/// What fitting a head reports besides the weights.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FitLog {
    /// Optimiser steps (or scale candidates tried).
    pub steps: usize,
    /// Best validation loss (class-balanced cross-entropy).
    pub val_loss: f64,
}

/// Fits `kind` on `train`; `val` decides when to stop (or the scale). `classes` tags.
pub fn fit(
    kind: HeadKind,
    train: &Samples,
    val: &Samples,
    classes: usize,
    config: &TrainConfig,
) -> Result<(Head, FitLog)> {
    // Without a validation split, stop on the training loss rather than not at all.
    let val = if val.is_empty() { train } else { val };
    match kind {
        HeadKind::Logreg | HeadKind::Mlp => fit_gradient(kind, train, val, classes, config),
        HeadKind::Centroid => {
            let centroids = centroids(train, classes);
            Ok(fit_scale(val, classes, |scale| Head::Centroid {
                centroids: centroids.clone(),
                scale,
            }))
        }
        HeadKind::Knn => {
            let points = train.normalised();
            let labels: Vec<u32> = train.y.iter().map(|&y| y as u32).collect();
            Ok(fit_scale(val, classes, |scale| Head::Knn {
                points: points.clone(),
                labels: labels.clone(),
                k: config.knn_k,
                scale,
            }))
        }
    }
}

/// Unit-length mean of each tag's unit-length descriptors.
fn centroids(train: &Samples, classes: usize) -> Matrix {
    let x = train.normalised();
    let mut sums = vec![vec![0f32; x.cols]; classes];
    for (i, &y) in train.y.iter().enumerate() {
        for (s, v) in sums[y].iter_mut().zip(x.row(i)) {
            *s += v;
        }
    }
    let data = sums
        .iter()
        .flat_map(|s| kao_infer::head::l2_normalise(s))
        .collect();
    Matrix::new(classes, x.cols, data)
}

/// Class weights `n / (classes · n_c)`, so every tag counts the same in the loss.
fn class_weights(samples: &Samples, classes: usize) -> Vec<f32> {
    let counts = samples.counts(classes);
    let present = counts.iter().filter(|&&c| c > 0).count().max(1);
    counts
        .iter()
        .map(|&c| {
            if c == 0 {
                0.0
            } else {
                samples.len() as f32 / (present as f32 * c as f32)
            }
        })
        .collect()
}

/// Class-balanced cross-entropy of `scale × logits` (one row of logits per face of
/// `set`), in plain arithmetic (the same the classifier runs), for picking a scale.
fn balanced_nll(logits: &[Vec<f32>], scale: f32, set: &Samples, classes: usize) -> f64 {
    let w = class_weights(set, classes);
    let (mut loss, mut total) = (0f64, 0f64);
    for (l, &y) in logits.iter().zip(&set.y) {
        let scaled: Vec<f32> = l.iter().map(|v| scale * v).collect();
        let p = softmax(&scaled);
        loss -= w[y] as f64 * (p[y].max(1e-12) as f64).ln();
        total += w[y] as f64;
    }
    loss / total.max(1e-12)
}

/// Picks the softmax scale (temperature) that minimises the validation loss: the
/// centroid and k-NN similarities are in [-1, 1] and need stretching into probabilities.
/// Both heads' logits are `scale ×` a similarity, so the similarities are worked out once.
fn fit_scale(val: &Samples, classes: usize, make: impl Fn(f32) -> Head) -> (Head, FitLog) {
    let unit = make(1.0);
    let x = val.normalised();
    let logits: Vec<Vec<f32>> = (0..val.len()).map(|i| unit.logits(x.row(i))).collect();
    let mut best = (f64::INFINITY, 1.0f32);
    let candidates: Vec<f32> = (0..48).map(|i| 2f32.powf(i as f32 / 6.0)).collect();
    for &s in &candidates {
        let loss = balanced_nll(&logits, s, val, classes);
        if loss < best.0 {
            best = (loss, s);
        }
    }
    (
        make(best.1),
        FitLog {
            steps: candidates.len(),
            val_loss: best.0,
        },
    )
}

struct Data {
    x: Tensor,
    y: Tensor,
    w: Tensor,
}

fn tensors(set: &Samples, weights: &[f32], dev: &Device) -> candle_core::Result<Data> {
    let m = set.normalised();
    let x = Tensor::from_vec(m.data, (m.rows, m.cols), dev)?;
    let ys: Vec<u32> = set.y.iter().map(|&y| y as u32).collect();
    let w: Vec<f32> = set.y.iter().map(|&y| weights[y]).collect();
    Ok(Data {
        x,
        y: Tensor::from_vec(ys, set.len(), dev)?,
        w: Tensor::from_vec(w, set.len(), dev)?,
    })
}

/// Weighted mean of `-log p(y)`.
fn loss(logits: &Tensor, y: &Tensor, w: &Tensor) -> candle_core::Result<Tensor> {
    let logp = candle_nn::ops::log_softmax(logits, 1)?;
    let picked = logp.gather(&y.unsqueeze(1)?, 1)?.squeeze(1)?;
    (picked * w)?.sum_all()?.neg()? / w.sum_all()?.to_scalar::<f32>()? as f64
}

/// The trainable parameters: `[weight, bias]` per layer.
struct Params {
    vars: Vec<Var>,
}

impl Params {
    fn forward(&self, x: &Tensor) -> candle_core::Result<Tensor> {
        let mut h = x.clone();
        let layers = self.vars.len() / 2;
        for l in 0..layers {
            let (w, b) = (&self.vars[2 * l], &self.vars[2 * l + 1]);
            h = h
                .matmul(&w.as_tensor().t()?)?
                .broadcast_add(b.as_tensor())?;
            if l + 1 < layers {
                h = h.relu()?;
            }
        }
        Ok(h)
    }

    fn snapshot(&self) -> candle_core::Result<Vec<(Vec<usize>, Vec<f32>)>> {
        self.vars
            .iter()
            .map(|v| {
                let t = v.as_tensor();
                Ok((t.dims().to_vec(), t.flatten_all()?.to_vec1::<f32>()?))
            })
            .collect()
    }
}

fn uniform(rng: &mut Rng, rows: usize, cols: usize, bound: f32, dev: &Device) -> Result<Var> {
    let data: Vec<f32> = (0..rows * cols)
        .map(|_| (rng.uniform() * 2.0 - 1.0) * bound)
        .collect();
    Ok(Var::from_tensor(&Tensor::from_vec(
        data,
        (rows, cols),
        dev,
    )?)?)
}

fn zeros(n: usize, dev: &Device) -> Result<Var> {
    Ok(Var::zeros(n, DType::F32, dev)?)
}

fn fit_gradient(
    kind: HeadKind,
    train: &Samples,
    val: &Samples,
    classes: usize,
    config: &TrainConfig,
) -> Result<(Head, FitLog)> {
    let dev = Device::Cpu;
    let d = train.x[0].len();
    let mut rng = Rng::new(config.seed);
    let weights = class_weights(train, classes);
    let tr = tensors(train, &weights, &dev)?;
    let va = tensors(val, &class_weights(val, classes), &dev)?;
    let (vars, lr, batch, max_epochs, patience) = match kind {
        HeadKind::Logreg => (
            // Zeros: the problem is convex, and a zero start needs no seed.
            vec![
                Var::zeros((classes, d), DType::F32, &dev)?,
                zeros(classes, &dev)?,
            ],
            config.logreg_lr,
            train.len(),
            config.logreg_steps,
            config.logreg_patience,
        ),
        _ => {
            let h = config.mlp_hidden;
            let b1 = 1.0 / (d as f32).sqrt();
            let b2 = 1.0 / (h as f32).sqrt();
            (
                vec![
                    uniform(&mut rng, h, d, b1, &dev)?,
                    zeros(h, &dev)?,
                    uniform(&mut rng, classes, h, b2, &dev)?,
                    zeros(classes, &dev)?,
                ],
                config.mlp_lr,
                config.mlp_batch,
                config.mlp_epochs,
                config.mlp_patience,
            )
        }
    };
    let params = Params { vars };
    let mut opt = AdamW::new(
        params.vars.clone(),
        ParamsAdamW {
            lr,
            weight_decay: config.weight_decay,
            ..Default::default()
        },
    )?;
    let mut best = (f64::INFINITY, params.snapshot()?);
    let (mut since_best, mut steps) = (0, 0);
    let mut order: Vec<u32> = (0..train.len() as u32).collect();
    for _epoch in 0..max_epochs {
        if batch < train.len() {
            rng.shuffle(&mut order);
        }
        for chunk in order.chunks(batch.max(1)) {
            let (x, y, w) = if chunk.len() == train.len() {
                (tr.x.clone(), tr.y.clone(), tr.w.clone())
            } else {
                let idx = Tensor::from_slice(chunk, chunk.len(), &dev)?;
                (
                    tr.x.index_select(&idx, 0)?,
                    tr.y.index_select(&idx, 0)?,
                    tr.w.index_select(&idx, 0)?,
                )
            };
            let l = loss(&params.forward(&x)?, &y, &w)?;
            opt.backward_step(&l)?;
            steps += 1;
        }
        let vl = loss(&params.forward(&va.x)?, &va.y, &va.w)?.to_scalar::<f32>()? as f64;
        if vl < best.0 - 1e-6 {
            best = (vl, params.snapshot()?);
            since_best = 0;
        } else {
            since_best += 1;
            if since_best >= patience {
                break;
            }
        }
    }
    let mut layers = best.1.into_iter();
    let mut mat = || {
        let (shape, data) = layers.next().expect("layer");
        (shape, data)
    };
    let head = match kind {
        HeadKind::Logreg => {
            let (s, w) = mat();
            let (_, b) = mat();
            Head::Logreg {
                weight: Matrix::new(s[0], s[1], w),
                bias: b,
            }
        }
        _ => {
            let (s1, w1) = mat();
            let (_, b1) = mat();
            let (s2, w2) = mat();
            let (_, b2) = mat();
            Head::Mlp {
                hidden_weight: Matrix::new(s1[0], s1[1], w1),
                hidden_bias: b1,
                out_weight: Matrix::new(s2[0], s2[1], w2),
                out_bias: b2,
            }
        }
    };
    Ok((
        head,
        FitLog {
            steps,
            val_loss: best.0,
        },
    ))
}
