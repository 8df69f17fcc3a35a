#![doc = include_str!("../README.md")]

mod affine;
mod colour;
mod context;
mod draw;
mod params;
mod warp;

pub use affine::Affine;
pub use context::{Context, CONTEXT_MARGIN};
pub use draw::{sample, Draw};
pub use kao_image::RgbImage;
pub use params::{AugmentParams, FillMode, Preset};
pub use warp::warp;

/// Seed used when none is given.
pub const DEFAULT_SEED: u64 = 5;

/// One augmented `out_size`×`out_size` chip: the draw's rotation, shifts, shear, zoom and
/// flips (about the chip centre, Keras' order) composed with `chip_to_source` into one
/// affine map, one bilinear resample of `source`, then hue and brightness.
///
/// `source` is what the chip was cut from (the photo, or a [`Context`] of it) and
/// `chip_to_source` maps chip pixels into it, so the warp reads real pixels around the
/// face rather than fill. For a bare chip pass the identity `[1, 0, 0, 0, 1, 0]`.
pub fn augment(
    source: &RgbImage,
    chip_to_source: [f32; 6],
    out_size: u32,
    draw: &Draw,
) -> RgbImage {
    let map = source_map(chip_to_source, out_size, draw);
    let mut out = warp(source, &map, out_size, out_size, draw.fill_mode, draw.cval);
    colour::jitter(&mut out, draw.hue, draw.brightness);
    out
}

/// [`augment`] of a prepared [`Context`].
pub fn augment_context(context: &Context, draw: &Draw) -> RgbImage {
    augment(
        &context.image,
        context.chip_to_image,
        context.chip_size,
        draw,
    )
}

/// Fraction of the output's pixels that [`augment`] would make up with the fill mode
/// because they map outside `source_w`×`source_h`.
pub fn fill_fraction(
    source_w: u32,
    source_h: u32,
    chip_to_source: [f32; 6],
    out_size: u32,
    draw: &Draw,
) -> f64 {
    let map = source_map(chip_to_source, out_size, draw);
    warp::fill_fraction(&map, source_w, source_h, out_size, out_size)
}

fn source_map(chip_to_source: [f32; 6], out_size: u32, draw: &Draw) -> Affine {
    Affine::from_f32(chip_to_source).after(&draw.chip_map(out_size))
}

#[cfg(test)]
mod tests;
