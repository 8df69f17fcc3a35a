//! End-to-end tests of the `kao` binary.

mod bad_entries;
mod crawl;
mod crop;
mod detect;
mod durability;
mod inspect;
mod open_set;
mod pipeline;
mod server;
mod shards;
mod slurm;
mod train;
mod training_api;

pub use kao_testdata::shared;

use std::path::Path;

/// `drawn` is `photo` with marks inside every face box: same size, and in each box at least
/// a box outline's worth of changed pixels.
pub fn assert_drawn_in_boxes(photo: &Path, drawn: &Path, faces: &[serde_json::Value]) {
    let original = kao_image::load(photo, &kao_image::Limits::default())
        .unwrap()
        .image;
    let drawn = image::open(drawn).unwrap().to_rgb8();
    assert_eq!(drawn.dimensions(), original.dimensions());
    for face in faces {
        let b = &face["box"];
        let [x, y, w, h] = ["x", "y", "width", "height"].map(|k| b[k].as_f64().unwrap());
        let (x0, y0) = (x.max(0.0) as u32, y.max(0.0) as u32);
        let x1 = ((x + w) as u32).min(drawn.width());
        let y1 = ((y + h) as u32).min(drawn.height());
        let changed = (y0..y1)
            .flat_map(|py| (x0..x1).map(move |px| (px, py)))
            .filter(|&(px, py)| drawn.get_pixel(px, py) != original.get_pixel(px, py))
            .count();
        let outline = 2 * ((x1 - x0) + (y1 - y0)) as usize;
        assert!(changed >= outline, "{changed} pixels changed in {b}");
    }
}
