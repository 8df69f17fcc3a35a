//! Reader for TensorFlow.js weight manifests (`*-weights_manifest.json` + shards).
//!
//! A manifest is a list of groups; each group's shards, concatenated in order, hold its
//! tensors back to back. A tensor is raw `float32`/`int32`, or quantised
//! (`quantization: {dtype: uint8|uint16, scale, min}`: value = min + q·scale, computed in
//! f64 then stored as f32 exactly as tfjs does; or `float16`).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use candle_core::{Device, Tensor};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::error::{ModelError, Result};

#[derive(Debug, Deserialize)]
struct Group {
    paths: Vec<String>,
    weights: Vec<Entry>,
}

#[derive(Debug, Deserialize)]
struct Entry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    quantization: Option<Quantization>,
}

#[derive(Debug, Deserialize)]
struct Quantization {
    dtype: String,
    scale: Option<f64>,
    min: Option<f64>,
}

/// Where a model's files are read from: a folder (the shipped `models/face-api`), or files
/// already in memory by name (a browser page fetched them). Either way every file is
/// checked against the source's `SHA256SUMS` before use.
#[derive(Debug, Clone)]
pub enum ModelFiles {
    Dir(PathBuf),
    Memory(Arc<BTreeMap<String, Vec<u8>>>),
}

impl ModelFiles {
    /// The shipped weights: [`crate::default_model_dir`].
    pub fn default_dir() -> ModelFiles {
        ModelFiles::Dir(crate::default_model_dir())
    }

    /// Where `name` is, for messages: its path in the folder, or the bare name in memory.
    pub fn path(&self, name: &str) -> PathBuf {
        match self {
            ModelFiles::Dir(dir) => dir.join(name),
            ModelFiles::Memory(_) => PathBuf::from(name),
        }
    }

    /// The bytes of `name`, unchecked.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        match self {
            ModelFiles::Dir(dir) => {
                let path = dir.join(name);
                std::fs::read(&path).map_err(|source| ModelError::Io { path, source })
            }
            ModelFiles::Memory(files) => files.get(name).cloned().ok_or_else(|| ModelError::Io {
                path: PathBuf::from(name),
                source: std::io::ErrorKind::NotFound.into(),
            }),
        }
    }

    /// The file names a model needs: its manifest and the shards that manifest lists.
    pub fn model_files(&self, stem: &str) -> Result<Vec<String>> {
        let manifest = manifest_name(stem);
        let bytes = self.read(&manifest)?;
        let groups = parse_manifest(&bytes, &self.path(&manifest))?;
        Ok(std::iter::once(manifest)
            .chain(groups.into_iter().flat_map(|g| g.paths))
            .collect())
    }
}

fn manifest_name(stem: &str) -> String {
    format!("{stem}-weights_manifest.json")
}

fn parse_manifest(bytes: &[u8], path: &Path) -> Result<Vec<Group>> {
    serde_json::from_slice(bytes).map_err(|e| ModelError::Manifest {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// The tensors of one model, by TF.js name (`conv32_down/conv/filters`), as f32 in their
/// stored layout (TF.js filters are HWIO).
pub struct Weights {
    tensors: HashMap<String, Tensor>,
    sha256: String,
}

impl Weights {
    /// Loads `<dir>/<stem>-weights_manifest.json` and its shards, after checking every file
    /// against `<dir>/SHA256SUMS`.
    pub fn load(dir: &Path, stem: &str, device: &Device) -> Result<Weights> {
        Self::load_from(&ModelFiles::Dir(dir.to_path_buf()), stem, device)
    }

    /// [`Weights::load`] from any [`ModelFiles`].
    pub fn load_from(files: &ModelFiles, stem: &str, device: &Device) -> Result<Weights> {
        let manifest = manifest_name(stem);
        let sums = read_checksums(files)?;
        let manifest_bytes = read_verified(files, &manifest, &sums)?;
        let manifest_path = files.path(&manifest);
        let groups = parse_manifest(&manifest_bytes, &manifest_path)?;
        let mut tensors = HashMap::new();
        let mut hasher = Sha256::new();
        for group in &groups {
            let mut data = Vec::new();
            for shard in &group.paths {
                let bytes = read_verified(files, shard, &sums)?;
                hasher.update(&bytes);
                data.extend_from_slice(&bytes);
            }
            let mut offset = 0;
            for entry in &group.weights {
                let (values, used) = decode_entry(entry, &data[offset..], &manifest_path)?;
                offset += used;
                let tensor = Tensor::from_vec(values, entry.shape.as_slice(), device)?;
                tensors.insert(entry.name.clone(), tensor);
            }
        }
        Ok(Weights {
            tensors,
            sha256: hex::encode(hasher.finalize()),
        })
    }

    /// SHA-256 over the model's weight shards: identifies the exact network weights.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    pub fn get(&self, name: &str) -> Option<&Tensor> {
        self.tensors.get(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    /// A candle `VarBuilder` over these tensors, with TF.js's `/` separators turned into
    /// `.`, so `vb.pp("conv32_down").pp("conv").get(shape, "filters")` finds
    /// `conv32_down/conv/filters`.
    pub fn var_builder(&self, device: &Device) -> candle_nn::VarBuilder<'static> {
        let map: HashMap<String, Tensor> = self
            .tensors
            .iter()
            .map(|(k, v)| (k.replace('/', "."), v.clone()))
            .collect();
        candle_nn::VarBuilder::from_tensors(map, candle_core::DType::F32, device)
    }
}

fn decode_entry(entry: &Entry, data: &[u8], path: &Path) -> Result<(Vec<f32>, usize)> {
    let n: usize = entry.shape.iter().product();
    let unknown = |dtype: &str| ModelError::UnknownDtype {
        path: path.to_path_buf(),
        tensor: entry.name.clone(),
        dtype: dtype.to_string(),
    };
    let (width, kind) = match &entry.quantization {
        Some(q) => match q.dtype.as_str() {
            "uint8" => (1, Kind::Affine),
            "uint16" => (2, Kind::Affine),
            "float16" => (2, Kind::F16),
            other => return Err(unknown(other)),
        },
        None => match entry.dtype.as_str() {
            "float32" => (4, Kind::F32),
            "int32" => (4, Kind::I32),
            other => return Err(unknown(other)),
        },
    };
    let needed = n * width;
    if data.len() < needed {
        return Err(ModelError::ShortWeights {
            path: path.to_path_buf(),
            tensor: entry.name.clone(),
            needed,
            available: data.len(),
        });
    }
    let bytes = &data[..needed];
    let values = match kind {
        Kind::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Kind::I32 => bytes
            .chunks_exact(4)
            .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f32)
            .collect(),
        Kind::F16 => bytes
            .chunks_exact(2)
            .map(|c| f16_to_f32(u16::from_le_bytes([c[0], c[1]])))
            .collect(),
        Kind::Affine => {
            let q = entry
                .quantization
                .as_ref()
                .expect("affine kinds come from quantization");
            let (scale, min) = match (q.scale, q.min) {
                (Some(s), Some(m)) => (s, m),
                _ => return Err(unknown(&format!("{} without scale/min", q.dtype))),
            };
            let dequant = |v: f64| (min + v * scale) as f32;
            if width == 1 {
                bytes.iter().map(|&b| dequant(f64::from(b))).collect()
            } else {
                bytes
                    .chunks_exact(2)
                    .map(|c| dequant(f64::from(u16::from_le_bytes([c[0], c[1]]))))
                    .collect()
            }
        }
    };
    Ok((values, needed))
}

#[derive(Clone, Copy)]
enum Kind {
    F32,
    I32,
    F16,
    Affine,
}

fn f16_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let frac = u32::from(h & 0x3ff);
    let bits = match (exp, frac) {
        (0, 0) => sign,
        (0, _) => {
            // Subnormal: renormalise the fraction.
            let mut e = 127 - 15 + 1;
            let mut f = frac;
            while f & 0x400 == 0 {
                f <<= 1;
                e -= 1;
            }
            sign | (e << 23) | ((f & 0x3ff) << 13)
        }
        (0x1f, _) => sign | 0x7f80_0000 | (frac << 13),
        _ => sign | ((exp + 127 - 15) << 23) | (frac << 13),
    };
    f32::from_bits(bits)
}

/// The checksum file every model file is checked against.
pub const CHECKSUMS_FILE: &str = "SHA256SUMS";

fn read_checksums(files: &ModelFiles) -> Result<HashMap<String, String>> {
    let bytes = files.read(CHECKSUMS_FILE)?;
    let text = String::from_utf8_lossy(&bytes);
    Ok(text
        .lines()
        .filter_map(|l| {
            let (sum, name) = l.split_once(char::is_whitespace)?;
            Some((
                name.trim().trim_start_matches('*').to_string(),
                sum.to_lowercase(),
            ))
        })
        .collect())
}

fn read_verified(
    files: &ModelFiles,
    name: &str,
    sums: &HashMap<String, String>,
) -> Result<Vec<u8>> {
    let bytes = files.read(name)?;
    let path = files.path(name);
    let expected = sums
        .get(name)
        .ok_or_else(|| ModelError::NotInChecksums { path: path.clone() })?;
    let actual = hex::encode(Sha256::digest(&bytes));
    if &actual != expected {
        return Err(ModelError::Checksum {
            path,
            expected: expected.clone(),
            actual,
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same files from memory give the same tensors as from the folder; a missing or
    /// altered file is named.
    #[test]
    fn memory_files_load_like_the_folder() {
        let dir = crate::default_model_dir();
        let stem = crate::tiny_detector::WEIGHTS;
        let folder = ModelFiles::Dir(dir.clone());
        let names = folder.model_files(stem).unwrap();
        assert_eq!(names.len(), 2, "{names:?}");
        let mut files: BTreeMap<String, Vec<u8>> = names
            .iter()
            .chain([&CHECKSUMS_FILE.to_string()])
            .map(|n| (n.clone(), std::fs::read(dir.join(n)).unwrap()))
            .collect();
        let device = Device::Cpu;
        let a = Weights::load_from(&folder, stem, &device).unwrap();
        let memory = ModelFiles::Memory(Arc::new(files.clone()));
        let b = Weights::load_from(&memory, stem, &device).unwrap();
        assert_eq!(a.sha256(), b.sha256());
        for name in a.names() {
            let (x, y) = (a.get(name).unwrap(), b.get(name).unwrap());
            let flat = |t: &Tensor| t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
            assert_eq!(flat(x), flat(y), "{name}");
        }

        let shard = names[1].clone();
        files.get_mut(&shard).unwrap()[0] ^= 1;
        let altered = ModelFiles::Memory(Arc::new(files.clone()));
        let err = Weights::load_from(&altered, stem, &device).err().unwrap();
        assert!(err.to_string().contains(&shard), "{err}");
        files.remove(&shard);
        let missing = ModelFiles::Memory(Arc::new(files));
        let err = Weights::load_from(&missing, stem, &device).err().unwrap();
        assert!(err.to_string().contains(&shard), "{err}");
    }

    #[test]
    fn f16_values() {
        assert_eq!(f16_to_f32(0x3c00), 1.0);
        assert_eq!(f16_to_f32(0xc000), -2.0);
        assert_eq!(f16_to_f32(0x0000), 0.0);
        assert_eq!(f16_to_f32(0x0001), 2f32.powi(-24));
        assert_eq!(f16_to_f32(0x7bff), 65504.0);
    }
}
