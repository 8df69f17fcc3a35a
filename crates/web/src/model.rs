//! The browser's model: a [`Predictor`] loaded from the files the page fetched, answering
//! with the Prediction API's JSON. Plain Rust, so native tests run it too.

use std::collections::BTreeMap;

use image::RgbImage;
use kao_infer::response::{self, Context, ImagePrediction};
use kao_infer::{Bundle, BundleInfo, InferError, Predictor};

#[derive(Debug, thiserror::Error)]
pub enum WebError {
    #[error(transparent)]
    Model(#[from] InferError),
    /// Kao's decoder cannot read the bytes (the page then lets the browser decode them).
    #[error("decode: {0}")]
    Decode(#[from] kao_image::ImageError),
    #[error("pixels: a {width}x{height} RGBA image has {expected} bytes, got {found}")]
    Pixels {
        width: u32,
        height: u32,
        expected: usize,
        found: usize,
    },
}

/// A loaded bundle.
pub struct WebModel {
    predictor: Predictor,
    info: BundleInfo,
}

impl WebModel {
    /// Loads the bundle in `files` (`bundle.json` and every file it names), with every
    /// check `kao predict` makes: format versions, checksums of the head and of each
    /// network's weights, and that the recognition weights are the head's.
    pub fn load(files: BTreeMap<String, Vec<u8>>) -> Result<WebModel, WebError> {
        let (predictor, info) = Bundle::from_files(files)?.into_predictor()?;
        Ok(WebModel { predictor, info })
    }

    pub fn info(&self) -> &BundleInfo {
        &self.info
    }

    pub fn predictor(&self) -> &Predictor {
        &self.predictor
    }

    /// The answer for a JPEG, decoded by Kao's own decoder with the limits `kao serve`
    /// applies: the pixels, and so the answer, are exactly those of `kao predict` and
    /// `kao serve` for the same file. Other formats are [`WebError::Decode`] (the page then
    /// lets the browser decode them): JPEG is where decoders differ (rounding in the
    /// inverse DCT and chroma upsampling), while PNG, GIF and BMP are lossless, so the
    /// browser's pixels are the file's; and one decoder keeps the module small.
    pub fn identify_encoded(
        &self,
        bytes: &[u8],
        id: String,
        created: String,
    ) -> Result<ImagePrediction, WebError> {
        let decoded = kao_image::decode_jpeg(bytes, &kao_image::Limits::default())?;
        self.identify_image(&decoded.image, id, created)
    }

    /// The answer for an RGBA image (as a canvas's `getImageData` gives it; alpha is
    /// dropped, as the native decoder drops it), with `id` and `created` (RFC 3339) as the
    /// caller supplies them.
    pub fn identify(
        &self,
        rgba: &[u8],
        width: u32,
        height: u32,
        id: String,
        created: String,
    ) -> Result<ImagePrediction, WebError> {
        let expected = width as usize * height as usize * 4;
        if rgba.len() != expected {
            return Err(WebError::Pixels {
                width,
                height,
                expected,
                found: rgba.len(),
            });
        }
        let rgb: Vec<u8> = rgba
            .chunks_exact(4)
            .flat_map(|p| [p[0], p[1], p[2]])
            .collect();
        let image = RgbImage::from_raw(width, height, rgb).expect("length checked");
        self.identify_image(&image, id, created)
    }

    fn identify_image(
        &self,
        image: &RgbImage,
        id: String,
        created: String,
    ) -> Result<ImagePrediction, WebError> {
        let faces = self.predictor.predict(image)?;
        let ctx = Context {
            project: &self.info.project,
            iteration: &self.info.iteration,
            width: image.width(),
            height: image.height(),
        };
        Ok(response::build_at(&ctx, &faces, id, created))
    }
}
