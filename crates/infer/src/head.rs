//! The trained head: L2-normalised descriptor in, one probability per tag out. Plain Rust
//! on purpose: a 128×C product per face needs no tensor library, and training (candle)
//! exports into exactly this form, so evaluation and serving share one code path.

use std::path::Path;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;

use crate::artifact::HeadKind;
use crate::error::{InferError, Result};
use crate::unknown::{DistanceSpace, Unit};

/// A row-major matrix.
#[derive(Debug, Clone, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Matrix {
        assert_eq!(rows * cols, data.len(), "matrix shape");
        Matrix { rows, cols, data }
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// `self · x + b` for a row-major `[out, in]` weight.
    fn affine(&self, x: &[f32], b: &[f32]) -> Vec<f32> {
        (0..self.rows).map(|i| dot(self.row(i), x) + b[i]).collect()
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// Euclidean distance.
pub fn distance(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

/// `x / |x|` (zero stays zero).
pub fn l2_normalise(x: &[f32]) -> Vec<f32> {
    let n = dot(x, x).sqrt();
    if n > 0.0 {
        x.iter().map(|v| v / n).collect()
    } else {
        x.to_vec()
    }
}

pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let m = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f32> = logits.iter().map(|v| (v - m).exp()).collect();
    let s: f32 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

/// The head's weights.
#[derive(Debug, Clone, PartialEq)]
pub enum Head {
    Logreg {
        weight: Matrix,
        bias: Vec<f32>,
    },
    Mlp {
        hidden_weight: Matrix,
        hidden_bias: Vec<f32>,
        out_weight: Matrix,
        out_bias: Vec<f32>,
    },
    Centroid {
        /// One unit-length mean per tag.
        centroids: Matrix,
        scale: f32,
    },
    Knn {
        /// Unit-length training descriptors.
        points: Matrix,
        labels: Vec<u32>,
        k: usize,
        scale: f32,
    },
}

/// Raw (not normalised) training descriptors with their tag index: the unknown-face rule
/// measures how far a face is from the predicted tag's nearest one.
#[derive(Debug, Clone, PartialEq)]
pub struct Gallery {
    pub descriptors: Matrix,
    pub labels: Vec<u32>,
}

impl Gallery {
    /// Raw Euclidean distance from `x` (raw) to the nearest descriptor of tag `class`;
    /// infinite when the tag has none.
    pub fn nearest(&self, x: &[f32], class: usize) -> f32 {
        self.nearest_in(DistanceSpace::Raw, x, class, |_| false)
    }

    /// Distance in `space` from `x` (raw) to the nearest descriptor of tag `class`,
    /// ignoring the rows `skip` says yes to (leave-one-out); infinite when none is left.
    pub fn nearest_in(
        &self,
        space: DistanceSpace,
        x: &[f32],
        class: usize,
        skip: impl Fn(usize) -> bool,
    ) -> f32 {
        let rows = self
            .labels
            .iter()
            .enumerate()
            .filter(|&(i, &l)| l as usize == class && !skip(i))
            .map(|(i, _)| self.descriptors.row(i));
        match space {
            DistanceSpace::Raw => rows.map(|g| distance(g, x)).fold(f32::INFINITY, f32::min),
            DistanceSpace::Unit => {
                let u = Unit::new(x);
                rows.map(|g| u.distance(g)).fold(f32::INFINITY, f32::min)
            }
        }
    }
}

impl Head {
    pub fn kind(&self) -> HeadKind {
        match self {
            Head::Logreg { .. } => HeadKind::Logreg,
            Head::Mlp { .. } => HeadKind::Mlp,
            Head::Centroid { .. } => HeadKind::Centroid,
            Head::Knn { .. } => HeadKind::Knn,
        }
    }

    /// Number of tags (outputs).
    pub fn classes(&self) -> usize {
        match self {
            Head::Logreg { bias, .. } => bias.len(),
            Head::Mlp { out_bias, .. } => out_bias.len(),
            Head::Centroid { centroids, .. } => centroids.rows,
            Head::Knn { labels, .. } => labels.iter().map(|&l| l as usize + 1).max().unwrap_or(0),
        }
    }

    /// Logits for a unit-length descriptor.
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        match self {
            Head::Logreg { weight, bias } => weight.affine(x, bias),
            Head::Mlp {
                hidden_weight,
                hidden_bias,
                out_weight,
                out_bias,
            } => {
                let h: Vec<f32> = hidden_weight
                    .affine(x, hidden_bias)
                    .into_iter()
                    .map(|v| v.max(0.0))
                    .collect();
                out_weight.affine(&h, out_bias)
            }
            Head::Centroid { centroids, scale } => (0..centroids.rows)
                .map(|c| scale * dot(centroids.row(c), x))
                .collect(),
            Head::Knn {
                points,
                labels,
                k,
                scale,
            } => {
                let classes = self.classes();
                let mut sims: Vec<Vec<f32>> = vec![Vec::new(); classes];
                for (i, &l) in labels.iter().enumerate() {
                    sims[l as usize].push(dot(points.row(i), x));
                }
                sims.into_iter()
                    .map(|mut s| {
                        s.sort_by(|a, b| b.total_cmp(a));
                        let n = s.len().min(*k).max(1);
                        let mean = s.iter().take(n).sum::<f32>() / n as f32;
                        scale * mean
                    })
                    .collect()
            }
        }
    }

    /// Probabilities for a unit-length descriptor.
    pub fn probabilities(&self, x: &[f32]) -> Vec<f32> {
        softmax(&self.logits(x))
    }
}

fn f32_bytes(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

fn u32_bytes(v: &[u32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

/// Serialises head and gallery into one safetensors file.
pub fn to_safetensors(head: &Head, gallery: &Gallery) -> Vec<u8> {
    let mut owned: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = Vec::new();
    let mut mat = |name: &str, m: &Matrix| {
        owned.push((
            name.into(),
            Dtype::F32,
            vec![m.rows, m.cols],
            f32_bytes(&m.data),
        ))
    };
    match head {
        Head::Logreg { weight, .. } => mat("linear.weight", weight),
        Head::Mlp {
            hidden_weight,
            out_weight,
            ..
        } => {
            mat("hidden.weight", hidden_weight);
            mat("out.weight", out_weight);
        }
        Head::Centroid { centroids, .. } => mat("centroids", centroids),
        Head::Knn { points, .. } => mat("knn.points", points),
    }
    mat("gallery.descriptors", &gallery.descriptors);
    let mut vec =
        |name: &str, v: &[f32]| owned.push((name.into(), Dtype::F32, vec![v.len()], f32_bytes(v)));
    match head {
        Head::Logreg { bias, .. } => vec("linear.bias", bias),
        Head::Mlp {
            hidden_bias,
            out_bias,
            ..
        } => {
            vec("hidden.bias", hidden_bias);
            vec("out.bias", out_bias);
        }
        Head::Centroid { scale, .. } => vec("scale", &[*scale]),
        Head::Knn { scale, .. } => vec("scale", &[*scale]),
    }
    if let Head::Knn { labels, k, .. } = head {
        owned.push((
            "knn.labels".into(),
            Dtype::U32,
            vec![labels.len()],
            u32_bytes(labels),
        ));
        owned.push(("knn.k".into(), Dtype::U32, vec![1], u32_bytes(&[*k as u32])));
    }
    owned.push((
        "gallery.labels".into(),
        Dtype::U32,
        vec![gallery.labels.len()],
        u32_bytes(&gallery.labels),
    ));
    let views: Vec<(String, TensorView)> = owned
        .iter()
        .map(|(n, d, s, b)| {
            (
                n.clone(),
                TensorView::new(*d, s.clone(), b).expect("shape matches bytes"),
            )
        })
        .collect();
    safetensors::serialize(views, None).expect("in-memory safetensors")
}

struct Reader<'a> {
    st: SafeTensors<'a>,
    path: &'a Path,
}

impl Reader<'_> {
    fn raw(&self, name: &str, dtype: Dtype) -> Result<(Vec<usize>, Vec<[u8; 4]>)> {
        let t = self
            .st
            .tensor(name)
            .map_err(|_| InferError::invalid(self.path, format!("tensor {name} missing")))?;
        if t.dtype() != dtype {
            return Err(InferError::invalid(
                self.path,
                format!("tensor {name} is {:?}, expected {dtype:?}", t.dtype()),
            ));
        }
        let words = t
            .data()
            .chunks_exact(4)
            .map(|c| [c[0], c[1], c[2], c[3]])
            .collect();
        Ok((t.shape().to_vec(), words))
    }

    fn f32s(&self, name: &str) -> Result<(Vec<usize>, Vec<f32>)> {
        let (shape, w) = self.raw(name, Dtype::F32)?;
        Ok((shape, w.into_iter().map(f32::from_le_bytes).collect()))
    }

    fn u32s(&self, name: &str) -> Result<Vec<u32>> {
        Ok(self
            .raw(name, Dtype::U32)?
            .1
            .into_iter()
            .map(u32::from_le_bytes)
            .collect())
    }

    fn matrix(&self, name: &str) -> Result<Matrix> {
        let (shape, data) = self.f32s(name)?;
        match shape[..] {
            [r, c] => Ok(Matrix::new(r, c, data)),
            _ => Err(InferError::invalid(
                self.path,
                format!("tensor {name} is not 2-D"),
            )),
        }
    }

    fn vector(&self, name: &str) -> Result<Vec<f32>> {
        Ok(self.f32s(name)?.1)
    }
}

/// Reads what [`to_safetensors`] wrote; `path` is only for messages.
pub fn from_safetensors(bytes: &[u8], kind: HeadKind, path: &Path) -> Result<(Head, Gallery)> {
    let st = SafeTensors::deserialize(bytes)
        .map_err(|e| InferError::invalid(path, format!("not a safetensors file: {e}")))?;
    let r = Reader { st, path };
    let head = match kind {
        HeadKind::Logreg => Head::Logreg {
            weight: r.matrix("linear.weight")?,
            bias: r.vector("linear.bias")?,
        },
        HeadKind::Mlp => Head::Mlp {
            hidden_weight: r.matrix("hidden.weight")?,
            hidden_bias: r.vector("hidden.bias")?,
            out_weight: r.matrix("out.weight")?,
            out_bias: r.vector("out.bias")?,
        },
        HeadKind::Centroid => Head::Centroid {
            centroids: r.matrix("centroids")?,
            scale: r.vector("scale")?[0],
        },
        HeadKind::Knn => Head::Knn {
            points: r.matrix("knn.points")?,
            labels: r.u32s("knn.labels")?,
            k: r.u32s("knn.k")?[0] as usize,
            scale: r.vector("scale")?[0],
        },
    };
    let gallery = Gallery {
        descriptors: r.matrix("gallery.descriptors")?,
        labels: r.u32s("gallery.labels")?,
    };
    Ok((head, gallery))
}
