//! Where the chip sits on the face: an affine map from chip pixels to source pixels.

/// dlib's mean face (landmarks 17–67 of the iBUG 68-point scheme), in a unit square: the
/// template `get_face_chip_details` fits, published with dlib. Numbers only; the fit below
/// is our own.
const MEAN_FACE_X: [f64; 51] = [
    0.000213256,
    0.0752622,
    0.18113,
    0.29077,
    0.393397,
    0.586856,
    0.689483,
    0.799124,
    0.904991,
    0.98004,
    0.490127,
    0.490127,
    0.490127,
    0.490127,
    0.36688,
    0.426036,
    0.490127,
    0.554217,
    0.613373,
    0.121737,
    0.187122,
    0.265825,
    0.334606,
    0.260918,
    0.182743,
    0.645647,
    0.714428,
    0.793132,
    0.858516,
    0.79751,
    0.719335,
    0.254149,
    0.340985,
    0.428858,
    0.490127,
    0.551395,
    0.639268,
    0.726104,
    0.642159,
    0.556721,
    0.490127,
    0.423532,
    0.338094,
    0.290379,
    0.428096,
    0.490127,
    0.552157,
    0.689874,
    0.553364,
    0.490127,
    0.42689,
];
const MEAN_FACE_Y: [f64; 51] = [
    0.106454, 0.038915, 0.0187482, 0.0344891, 0.0773906, 0.0773906, 0.0344891, 0.0187482, 0.038915,
    0.106454, 0.203352, 0.307009, 0.409805, 0.515625, 0.587326, 0.609345, 0.628106, 0.609345,
    0.587326, 0.216423, 0.178758, 0.179852, 0.231733, 0.245099, 0.244077, 0.231733, 0.179852,
    0.178758, 0.216423, 0.244077, 0.245099, 0.780233, 0.745405, 0.727388, 0.742578, 0.727388,
    0.745405, 0.780233, 0.864805, 0.902192, 0.909281, 0.902192, 0.864805, 0.784792, 0.778746,
    0.785343, 0.778746, 0.784792, 0.824182, 0.831803, 0.824182,
];

/// dlib's chip: the similarity transform (rotation, uniform scale, translation) that best
/// maps dlib's mean face, padded by `padding` on each side, onto the detected landmarks.
/// Eyebrows and the lower lip are left out of the fit, as dlib does: they move with
/// expression, not with pose. The rotation levels the eyes.
pub fn dlib_chip(landmarks: &[[f32; 2]], size: u32, padding: f64) -> Option<[f32; 6]> {
    if landmarks.len() != 68 {
        return None;
    }
    let size = f64::from(size);
    let pairs = (17..68usize)
        .filter(|&i| !(17..=26).contains(&i) && !(55..=59).contains(&i) && !(65..=67).contains(&i))
        .map(|i| {
            let chip = (
                (padding + MEAN_FACE_X[i - 17]) / (2.0 * padding + 1.0) * size,
                (padding + MEAN_FACE_Y[i - 17]) / (2.0 * padding + 1.0) * size,
            );
            let p = landmarks[i];
            (chip, (f64::from(p[0]), f64::from(p[1])))
        });
    fit_similarity(pairs)
}

/// Least-squares similarity `x' = a·x − b·y + tx`, `y' = b·x + a·y + ty` from point pairs
/// `(from, to)`; closed form after centring both point sets.
fn fit_similarity(pairs: impl Iterator<Item = ((f64, f64), (f64, f64))>) -> Option<[f32; 6]> {
    let pairs: Vec<_> = pairs.collect();
    let n = pairs.len() as f64;
    if n < 2.0 {
        return None;
    }
    let (mut fx, mut fy, mut tx, mut ty) = (0.0, 0.0, 0.0, 0.0);
    for ((x, y), (u, v)) in &pairs {
        fx += x;
        fy += y;
        tx += u;
        ty += v;
    }
    let (fx, fy, tx, ty) = (fx / n, fy / n, tx / n, ty / n);
    let (mut dot, mut cross, mut norm) = (0.0, 0.0, 0.0);
    for ((x, y), (u, v)) in &pairs {
        let (x, y, u, v) = (x - fx, y - fy, u - tx, v - ty);
        dot += x * u + y * v;
        cross += x * v - y * u;
        norm += x * x + y * y;
    }
    if norm <= f64::EPSILON {
        return None;
    }
    let (a, b) = (dot / norm, cross / norm);
    let c = tx - (a * fx - b * fy);
    let f = ty - (b * fx + a * fy);
    Some([a as f32, -b as f32, c as f32, b as f32, a as f32, f as f32])
}

/// face-api's descriptor box (its `align(..., useDlibAlignment)`): an axis-aligned square
/// of side `d / 0.45` around the eye and mouth centres, `d` the mean mouth-to-eye distance;
/// no rotation. Returned as the chip transform for a `size`-pixel chip.
pub fn faceapi_chip(landmarks: &[[f32; 2]], size: u32) -> Option<[f32; 6]> {
    if landmarks.len() != 68 {
        return None;
    }
    let centre = |r: std::ops::Range<usize>| {
        let n = r.len() as f64;
        let (sx, sy) = r.fold((0.0, 0.0), |(sx, sy), i| {
            (
                sx + f64::from(landmarks[i][0]),
                sy + f64::from(landmarks[i][1]),
            )
        });
        (sx / n, sy / n)
    };
    let (left, right, mouth) = (centre(36..42), centre(42..48), centre(48..68));
    let dist = |a: (f64, f64), b: (f64, f64)| ((a.0 - b.0).powi(2) + (a.1 - b.1).powi(2)).sqrt();
    let d = (dist(mouth, left) + dist(mouth, right)) / 2.0;
    let side = (d / 0.45).floor();
    if side < 1.0 {
        return None;
    }
    let cx = (left.0 + right.0 + mouth.0) / 3.0;
    let cy = (left.1 + right.1 + mouth.1) / 3.0;
    let x = (cx - 0.5 * side).floor();
    let y = (cy - 0.43 * side).floor();
    let s = side / f64::from(size);
    Some([s as f32, 0.0, x as f32, 0.0, s as f32, y as f32])
}

/// Applies a chip→source transform to a chip point.
pub fn apply(t: &[f32; 6], x: f32, y: f32) -> (f32, f32) {
    (t[0] * x + t[1] * y + t[2], t[3] * x + t[4] * y + t[5])
}

/// Source pixels per chip pixel (the transform's uniform scale).
pub fn scale(t: &[f32; 6]) -> f32 {
    (t[0] * t[0] + t[3] * t[3]).sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn similarity_fit_recovers_a_known_transform() {
        let (a, b, c, f) = (1.7f64, 0.4f64, 33.0, -12.0);
        let pairs = [(0.0, 0.0), (10.0, 0.0), (3.0, 7.0), (-4.0, 9.0)]
            .map(|(x, y)| ((x, y), (a * x - b * y + c, b * x + a * y + f)));
        let t = fit_similarity(pairs.into_iter()).unwrap();
        let want = [1.7, -0.4, 33.0, 0.4, 1.7, -12.0];
        for (g, w) in t.iter().zip(want) {
            assert!((f64::from(*g) - w).abs() < 1e-4, "{t:?}");
        }
    }

    #[test]
    fn dlib_chip_levels_tilted_eyes() {
        // The mean face itself, rotated by 20° and scaled ×2 in the source image: the chip
        // transform must undo exactly that rotation.
        let angle = 20f64.to_radians();
        let mut lm = vec![[0.0f32; 2]; 68];
        for i in 17..68 {
            let (x, y) = (MEAN_FACE_X[i - 17] * 100.0, MEAN_FACE_Y[i - 17] * 100.0);
            let (u, v) = (
                2.0 * (x * angle.cos() - y * angle.sin()) + 50.0,
                2.0 * (x * angle.sin() + y * angle.cos()) + 80.0,
            );
            lm[i] = [u as f32, v as f32];
        }
        let t = dlib_chip(&lm, 150, 0.25).unwrap();
        let rot = f64::from(t[3]).atan2(f64::from(t[0]));
        assert!((rot - angle).abs() < 1e-4, "rotation {rot}");
        // 150 px chip covering the face plus 25% each side: 200 source px of face / 100 chip px.
        assert!(
            (scale(&t) - 200.0 / 100.0).abs() < 1e-3,
            "scale {}",
            scale(&t)
        );
    }
}
