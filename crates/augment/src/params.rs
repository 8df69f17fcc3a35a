use serde::{Deserialize, Serialize};

/// What a sample outside the source picture takes (Keras' `fill_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FillMode {
    /// The nearest edge pixel: `aaaa|abcd|dddd` (Keras' default).
    #[default]
    Nearest,
    /// Mirrored about the edge: `dcba|abcd|dcba`.
    Reflect,
    /// The colour `cval`.
    Constant,
    /// Tiled: `abcd|abcd|abcd`.
    Wrap,
}

impl FillMode {
    pub fn name(self) -> &'static str {
        match self {
            FillMode::Nearest => "nearest",
            FillMode::Reflect => "reflect",
            FillMode::Constant => "constant",
            FillMode::Wrap => "wrap",
        }
    }
}

impl std::str::FromStr for FillMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "nearest" => Ok(FillMode::Nearest),
            "reflect" => Ok(FillMode::Reflect),
            "constant" => Ok(FillMode::Constant),
            "wrap" => Ok(FillMode::Wrap),
            _ => Err(format!(
                "unknown fill mode {s:?} (nearest, reflect, constant, wrap)"
            )),
        }
    }
}

/// Ranges of the random augmentations, named and read as Keras' `ImageDataGenerator`
/// arguments (`hue_range` is Kao's: Keras has no true hue rotation).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct AugmentParams {
    /// Rotation, uniform in ± this many degrees.
    pub rotation_range: f32,
    /// Horizontal shift, uniform in ± this fraction of the width.
    pub width_shift_range: f32,
    /// Vertical shift, uniform in ± this fraction of the height.
    pub height_shift_range: f32,
    /// Shear angle, uniform in ± this many degrees (Keras reads it in degrees too, so the
    /// widely copied `shear_range=0.2` is a fifth of a degree).
    pub shear_range: f32,
    /// Zoom factors `[lower, upper]`, drawn independently for each axis; above 1 zooms out
    /// (Keras' `zoom_range=0.2` is `(0.8, 1.2)`).
    pub zoom_range: (f32, f32),
    /// Mirror left-right with probability ½.
    pub horizontal_flip: bool,
    /// Mirror top-bottom with probability ½.
    pub vertical_flip: bool,
    /// Hue rotation in HSV, uniform in ± this many degrees.
    pub hue_range: f32,
    /// Brightness factor `[lower, upper]` (multiplies RGB; `(1, 1)` leaves it).
    pub brightness_range: (f32, f32),
    pub fill_mode: FillMode,
    /// Fill grey level for `FillMode::Constant`.
    pub cval: u8,
}

impl AugmentParams {
    /// All ranges zero: every draw is the identity.
    pub const NONE: AugmentParams = AugmentParams {
        rotation_range: 0.0,
        width_shift_range: 0.0,
        height_shift_range: 0.0,
        shear_range: 0.0,
        zoom_range: (1.0, 1.0),
        horizontal_flip: false,
        vertical_flip: false,
        hue_range: 0.0,
        brightness_range: (1.0, 1.0),
        fill_mode: FillMode::Nearest,
        cval: 0,
    };
}

impl Default for AugmentParams {
    fn default() -> Self {
        Preset::default().params()
    }
}

/// Named parameter sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Preset {
    /// Milder geometry that keeps a face a face, plus colour jitter. Provisional ranges
    /// (the training issue measures them on lfw5 validation); vertical flip off.
    #[default]
    Faces,
    /// The widely copied Keras configuration: `rotation_range=40,
    /// width_shift_range=0.2, height_shift_range=0.2, shear_range=0.2, zoom_range=0.2,
    /// horizontal_flip=True, fill_mode='nearest'`.
    Keras,
}

impl Preset {
    pub fn params(self) -> AugmentParams {
        match self {
            Preset::Faces => AugmentParams {
                rotation_range: 10.0,
                width_shift_range: 0.05,
                height_shift_range: 0.05,
                shear_range: 5.0,
                zoom_range: (0.9, 1.1),
                horizontal_flip: true,
                vertical_flip: false,
                hue_range: 8.0,
                brightness_range: (0.8, 1.2),
                fill_mode: FillMode::Nearest,
                cval: 0,
            },
            Preset::Keras => AugmentParams {
                rotation_range: 40.0,
                width_shift_range: 0.2,
                height_shift_range: 0.2,
                shear_range: 0.2,
                zoom_range: (0.8, 1.2),
                horizontal_flip: true,
                ..AugmentParams::NONE
            },
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Preset::Faces => "faces",
            Preset::Keras => "keras",
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "faces" => Ok(Preset::Faces),
            "keras" => Ok(Preset::Keras),
            _ => Err(format!("unknown preset {s:?} (faces, keras)")),
        }
    }
}
