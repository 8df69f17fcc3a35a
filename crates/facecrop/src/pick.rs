use kao_dataset::BoxF;

use crate::config::Pick;
use crate::face::Face;

/// Indices of the faces that become chips under `pick`.
///
/// `Center` follows LFW's labelling rule: the face whose box contains the image centre;
/// when several do, the one whose centre is nearest; when none does, the nearest box.
pub fn pick(faces: &[Face], width: u32, height: u32, pick: Pick) -> Vec<usize> {
    let boxes: Vec<BoxF> = faces.iter().map(|f| f.bbox).collect();
    pick_boxes(&boxes, width, height, pick)
}

/// Under the `center` rule, no box contains the image centre and the two nearest are
/// about equally near (within 5 % of the photo's shorter side): the centre falls between
/// two people, so which one the photo is of cannot be told, and a chip of either may carry
/// the wrong tag. The crop stage rejects such photos as `ambiguous`.
pub fn center_is_ambiguous(faces: &[BoxF], width: u32, height: u32) -> bool {
    let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
    let mut distances: Vec<f32> = faces.iter().map(|b| gap(b, cx, cy)).collect();
    if distances.len() < 2 || distances.contains(&0.0) {
        return false;
    }
    distances.sort_by(f32::total_cmp);
    distances[1] - distances[0] < AMBIGUOUS_MARGIN * width.min(height) as f32
}

/// Distance from the point `(cx, cy)` to the box `b`: 0 when the point lies inside it.
fn gap(b: &BoxF, cx: f32, cy: f32) -> f32 {
    let dx = (b.x - cx).max(cx - (b.x + b.width)).max(0.0);
    let dy = (b.y - cy).max(cy - (b.y + b.height)).max(0.0);
    dx.hypot(dy)
}

/// How much nearer the centre the nearest face must be than the next one, as a fraction
/// of the photo's shorter side.
pub(crate) const AMBIGUOUS_MARGIN: f32 = 0.05;

/// [`pick`] on bare boxes (before landmarks are known).
pub fn pick_boxes(faces: &[BoxF], width: u32, height: u32, pick: Pick) -> Vec<usize> {
    if faces.is_empty() {
        return Vec::new();
    }
    match pick {
        Pick::All => (0..faces.len()).collect(),
        Pick::Largest => {
            let area = |b: &BoxF| b.width * b.height;
            let best = (0..faces.len())
                .max_by(|&a, &b| area(&faces[a]).total_cmp(&area(&faces[b])).then(b.cmp(&a)))
                .expect("non-empty");
            vec![best]
        }
        Pick::Center => {
            let (cx, cy) = (width as f32 / 2.0, height as f32 / 2.0);
            let key = |b: &BoxF| {
                let contains =
                    cx >= b.x && cx <= b.x + b.width && cy >= b.y && cy <= b.y + b.height;
                // Distance from the centre to the box (0 inside), then to the box centre.
                let to_centre = (b.x + b.width / 2.0 - cx).hypot(b.y + b.height / 2.0 - cy);
                (!contains, gap(b, cx, cy), to_centre)
            };
            let best = (0..faces.len())
                .min_by(|&a, &b| {
                    let (ka, kb) = (key(&faces[a]), key(&faces[b]));
                    ka.0.cmp(&kb.0)
                        .then(ka.1.total_cmp(&kb.1))
                        .then(ka.2.total_cmp(&kb.2))
                })
                .expect("non-empty");
            vec![best]
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn face(x: f32, y: f32, w: f32) -> Face {
        Face {
            bbox: BoxF {
                x,
                y,
                width: w,
                height: w,
            },
            score: 0.9,
            landmarks: vec![],
            transform: [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        }
    }

    #[test]
    fn center_prefers_the_box_over_the_centre_even_when_smaller() {
        let faces = [face(0.0, 0.0, 120.0), face(100.0, 100.0, 60.0)];
        assert_eq!(pick(&faces, 250, 250, Pick::Center), vec![1]);
        assert_eq!(pick(&faces, 250, 250, Pick::Largest), vec![0]);
        assert_eq!(pick(&faces, 250, 250, Pick::All), vec![0, 1]);
    }

    #[test]
    fn centre_between_two_equally_near_faces_is_ambiguous() {
        let boxes = |faces: &[Face]| faces.iter().map(|f| f.bbox).collect::<Vec<_>>();
        // Both 25 px left and right of the centre of a 250×250 photo.
        let between = [face(40.0, 100.0, 60.0), face(150.0, 100.0, 60.0)];
        assert!(center_is_ambiguous(&boxes(&between), 250, 250));
        // One clearly nearer (5 px against 60 px).
        let nearer = [face(60.0, 100.0, 60.0), face(185.0, 100.0, 60.0)];
        assert!(!center_is_ambiguous(&boxes(&nearer), 250, 250));
        // A box over the centre is never ambiguous, nor is a single face.
        let over = [face(100.0, 100.0, 60.0), face(160.0, 100.0, 60.0)];
        assert!(!center_is_ambiguous(&boxes(&over), 250, 250));
        assert!(!center_is_ambiguous(&boxes(&between[..1]), 250, 250));
    }

    #[test]
    fn center_falls_back_to_the_nearest_box() {
        let faces = [face(0.0, 0.0, 20.0), face(200.0, 130.0, 30.0)];
        assert_eq!(pick(&faces, 250, 250, Pick::Center), vec![1]);
    }
}
