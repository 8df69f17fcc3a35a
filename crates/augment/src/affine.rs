/// A 2-D affine map `[a, b, c, d, e, f]`: `x' = a·x + b·y + c`, `y' = d·x + e·y + f`
/// (the layout of `ChipRecord::transform`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Affine(pub [f64; 6]);

impl Affine {
    pub const IDENTITY: Affine = Affine([1.0, 0.0, 0.0, 0.0, 1.0, 0.0]);

    pub fn from_f32(m: [f32; 6]) -> Affine {
        Affine(m.map(f64::from))
    }

    pub fn translate(x: f64, y: f64) -> Affine {
        Affine([1.0, 0.0, x, 0.0, 1.0, y])
    }

    /// `self ∘ inner`: apply `inner` first, then `self`.
    pub fn after(&self, inner: &Affine) -> Affine {
        let [a, b, c, d, e, f] = self.0;
        let [p, q, r, s, t, u] = inner.0;
        Affine([
            a * p + b * s,
            a * q + b * t,
            a * r + b * u + c,
            d * p + e * s,
            d * q + e * t,
            d * r + e * u + f,
        ])
    }

    pub fn apply(&self, x: f64, y: f64) -> (f64, f64) {
        let [a, b, c, d, e, f] = self.0;
        (a * x + b * y + c, d * x + e * y + f)
    }

    /// Area scale: source pixels per output pixel, along one side.
    pub fn scale(&self) -> f64 {
        let [a, b, _, d, e, _] = self.0;
        (a * e - b * d).abs().sqrt()
    }
}
