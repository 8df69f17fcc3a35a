//! What a face detector returns.

/// An axis-aligned box in image pixels: x to the right, y down, origin top-left.
/// Detector boxes are not clipped and may extend past the image borders.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct BBox {
    pub x: f64,
    pub y: f64,
    pub width: f64,
    pub height: f64,
}

impl BBox {
    pub fn right(&self) -> f64 {
        self.x + self.width
    }

    pub fn bottom(&self) -> f64 {
        self.y + self.height
    }

    pub fn area(&self) -> f64 {
        self.width * self.height
    }

    /// Intersection over union; 0 when either box is empty.
    pub fn iou(&self, other: &BBox) -> f64 {
        if self.area() <= 0.0 || other.area() <= 0.0 {
            return 0.0;
        }
        let w = (self.right().min(other.right()) - self.x.max(other.x)).max(0.0);
        let h = (self.bottom().min(other.bottom()) - self.y.max(other.y)).max(0.0);
        let inter = w * h;
        inter / (self.area() + other.area() - inter)
    }

    /// The box scaled by `sx` horizontally and `sy` vertically.
    pub fn scale(&self, sx: f64, sy: f64) -> BBox {
        BBox {
            x: self.x * sx,
            y: self.y * sy,
            width: self.width * sx,
            height: self.height * sy,
        }
    }
}

/// One detected face: its box in pixels of the original image and the detector's
/// confidence (0–1).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Detection {
    pub bbox: BBox,
    pub score: f64,
}
