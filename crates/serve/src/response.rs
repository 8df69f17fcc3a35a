//! The JSON of a prediction: kao-infer's, which the exported browser page shares.

pub(crate) use kao_infer::response::{build, Context, ImagePrediction};
