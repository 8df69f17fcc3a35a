//! Boxes, points and labels drawn onto a copy of a photo (`kao detect --draw`, `kao predict
//! --draw`): imageproc's shapes and text, in DejaVu Sans Bold embedded in the binary
//! (licence in `crates/cli/fonts/NOTICE`).

use std::path::{Path, PathBuf};

use ab_glyph::{FontRef, PxScale};
use anyhow::Context;
use image::{Rgb, RgbImage};
use imageproc::drawing::{
    draw_filled_circle_mut, draw_filled_rect_mut, draw_hollow_rect_mut, draw_text_mut, text_size,
};
use imageproc::rect::Rect;

const FONT: &[u8] = include_bytes!("fonts/DejaVuSans-Bold.ttf");

/// A face the model knows, and every face `kao detect` finds.
pub const GREEN: Rgb<u8> = Rgb([0, 170, 0]);
/// A face of nobody the model knows.
pub const ORANGE: Rgb<u8> = Rgb([230, 110, 0]);
/// Landmarks.
pub const RED: Rgb<u8> = Rgb([255, 0, 0]);
const WHITE: Rgb<u8> = Rgb([255, 255, 255]);

/// A copy of a photo being drawn on. Line width and text size grow with the photo, so the
/// marks stay visible on large photos and do not cover small ones.
pub struct Canvas {
    image: RgbImage,
    line: u32,
    font: FontRef<'static>,
    scale: PxScale,
}

impl Canvas {
    pub fn new(image: &RgbImage) -> Canvas {
        let side = image.width().max(image.height());
        Canvas {
            image: image.clone(),
            line: (side / 400).max(2),
            font: FontRef::try_from_slice(FONT).expect("the embedded font parses"),
            scale: PxScale::from((side as f32 / 60.0).clamp(12.0, 32.0)),
        }
    }

    /// The outline of the box at (`x`, `y`), `width` × `height` source pixels, drawn inside
    /// its edges.
    pub fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, colour: Rgb<u8>) {
        let (x, y) = (x.round() as i32, y.round() as i32);
        let (w, h) = (
            width.round().max(1.0) as u32,
            height.round().max(1.0) as u32,
        );
        for i in 0..self.line.min(w.min(h) / 2).max(1) {
            let r = Rect::at(x + i as i32, y + i as i32).of_size(w - 2 * i, h - 2 * i);
            draw_hollow_rect_mut(&mut self.image, r, colour);
        }
    }

    pub fn point(&mut self, x: f64, y: f64, colour: Rgb<u8>) {
        let centre = (x.round() as i32, y.round() as i32);
        draw_filled_circle_mut(
            &mut self.image,
            centre,
            (self.line / 2).max(1) as i32,
            colour,
        );
    }

    /// `text` in white on a `colour` band along the top of the box at (`x`, `y`): above
    /// it where there is room, else inside it; moved left to stay within the photo.
    pub fn label(&mut self, x: f32, y: f32, text: &str, colour: Rgb<u8>) {
        let (tw, th) = text_size(self.scale, &self.font, text);
        let pad = self.line;
        let (bw, bh) = (tw + 2 * pad, th + pad);
        let max_x = self.image.width().saturating_sub(bw) as i32;
        let left = (x.round() as i32).clamp(0, max_x.max(0));
        let above = y.round() as i32 - bh as i32;
        let top = if above >= 0 {
            above
        } else {
            y.round().max(0.0) as i32
        };
        draw_filled_rect_mut(&mut self.image, Rect::at(left, top).of_size(bw, bh), colour);
        draw_text_mut(
            &mut self.image,
            WHITE,
            left + pad as i32,
            top,
            self.scale,
            &self.font,
            text,
        );
    }

    pub fn into_image(self) -> RgbImage {
        self.image
    }
}

/// `OUT` for one input; `OUT-<i>` (from 1, same extension) for each of several.
pub fn numbered(out: &Path, index: usize, count: usize) -> PathBuf {
    if count == 1 {
        return out.to_path_buf();
    }
    let stem = out.file_stem().unwrap_or_default().to_string_lossy();
    let ext = out
        .extension()
        .map_or("png".into(), |e| e.to_string_lossy());
    out.with_file_name(format!("{stem}-{}.{ext}", index + 1))
}

/// Writes `image` to `out` atomically, in the format its extension names (PNG, JPEG, …).
pub fn save(image: &RgbImage, out: &Path) -> anyhow::Result<()> {
    let format = image::ImageFormat::from_path(out)
        .with_context(|| format!("{}: the extension names no image format", out.display()))?;
    let mut bytes = std::io::Cursor::new(Vec::new());
    image
        .write_to(&mut bytes, format)
        .with_context(|| format!("cannot encode {}", out.display()))?;
    kao_dataset::write_atomic(out, bytes.get_ref())
        .with_context(|| format!("cannot write {}", out.display()))
}
