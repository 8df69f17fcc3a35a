//! A grid of chips, one row per tag, so a person can check the crops by eye.

use std::collections::BTreeMap;

use image::RgbImage;
use kao_dataset::{ChipRecord, WorkDir};

/// Lays out the first `per_tag` chips of each tag (rows in tag order), `thumb` pixels a
/// side. Unreadable chip files are left blank.
pub fn contact_sheet(work: &WorkDir, chips: &[ChipRecord], per_tag: usize, thumb: u32) -> RgbImage {
    let mut by_tag: BTreeMap<&str, Vec<&ChipRecord>> = BTreeMap::new();
    for c in chips {
        let row = by_tag.entry(c.source.tag.as_str()).or_default();
        if row.len() < per_tag {
            row.push(c);
        }
    }
    let rows = by_tag.len().max(1) as u32;
    let gap = 2;
    let mut sheet = RgbImage::from_pixel(
        per_tag as u32 * (thumb + gap) + gap,
        rows * (thumb + gap) + gap,
        image::Rgb([255, 255, 255]),
    );
    for (r, row) in by_tag.values().enumerate() {
        for (c, chip) in row.iter().enumerate() {
            let Ok(img) = image::open(work.faces().join(&chip.chip)) else {
                continue;
            };
            let small = image::imageops::resize(
                &img.to_rgb8(),
                thumb,
                thumb,
                image::imageops::FilterType::Triangle,
            );
            image::imageops::overlay(
                &mut sheet,
                &small,
                i64::from(gap + c as u32 * (thumb + gap)),
                i64::from(gap + r as u32 * (thumb + gap)),
            );
        }
    }
    sheet
}
