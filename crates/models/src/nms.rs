//! Greedy non-maximum suppression, as both face-api detectors do it.

use crate::detection::BBox;

/// Indices of the boxes kept, best score first: repeatedly takes the highest-scoring box
/// left and drops every remaining box overlapping it with IoU above `iou_threshold`; stops
/// after `max_results`.
pub fn non_max_suppression(
    boxes: &[BBox],
    scores: &[f64],
    iou_threshold: f64,
    max_results: usize,
) -> Vec<usize> {
    let mut order: Vec<usize> = (0..boxes.len().min(scores.len())).collect();
    // Stable, so equal scores keep their input order.
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut keep: Vec<usize> = Vec::new();
    for i in order {
        if keep.len() >= max_results {
            break;
        }
        if keep
            .iter()
            .all(|&k| boxes[k].iou(&boxes[i]) <= iou_threshold)
        {
            keep.push(i);
        }
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(x: f64, y: f64, w: f64, h: f64) -> BBox {
        BBox {
            x,
            y,
            width: w,
            height: h,
        }
    }

    #[test]
    fn drops_overlaps_keeps_the_rest() {
        let boxes = [
            b(0., 0., 10., 10.),
            b(1., 1., 10., 10.),
            b(20., 20., 5., 5.),
            b(0., 0., 10., 9.),
        ];
        let scores = [0.8, 0.9, 0.7, 0.6];
        assert_eq!(non_max_suppression(&boxes, &scores, 0.5, 100), vec![1, 2]);
        // IoU(0, 1) = 81/119 = 0.68: a looser threshold keeps both.
        assert_eq!(
            non_max_suppression(&boxes, &scores, 0.7, 100),
            vec![1, 0, 2]
        );
        assert_eq!(non_max_suppression(&boxes, &scores, 0.5, 1), vec![1]);
    }
}
