use std::io::Cursor;
use std::path::{Path, PathBuf};

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};
use serde::{Deserialize, Serialize};

use crate::error::{ImageError, Result};
use crate::limits::Limits;

/// The image formats Kao decodes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Jpeg,
    Png,
    Gif,
    Bmp,
    Webp,
}

impl Format {
    /// Canonical file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Jpeg => "jpg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Webp => "webp",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Format::Jpeg => "jpeg",
            Format::Png => "png",
            Format::Gif => "gif",
            Format::Bmp => "bmp",
            Format::Webp => "webp",
        }
    }

    fn from_image(format: ImageFormat) -> Option<Format> {
        Some(match format {
            ImageFormat::Jpeg => Format::Jpeg,
            ImageFormat::Png => Format::Png,
            ImageFormat::Gif => Format::Gif,
            ImageFormat::Bmp => Format::Bmp,
            ImageFormat::WebP => Format::Webp,
            _ => return None,
        })
    }

    fn to_image(self) -> ImageFormat {
        match self {
            Format::Jpeg => ImageFormat::Jpeg,
            Format::Png => ImageFormat::Png,
            Format::Gif => ImageFormat::Gif,
            Format::Bmp => ImageFormat::Bmp,
            Format::Webp => ImageFormat::WebP,
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What the header says, read without decoding any pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    pub format: Format,
    /// Width and height as stored, before EXIF orientation.
    pub width: u32,
    pub height: u32,
}

/// A decoded image: RGB8 pixels, upright (EXIF orientation applied).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub image: RgbImage,
    pub format: Format,
    /// The EXIF orientation (1–8) that was applied; 1 when there was none.
    pub orientation: u8,
}

fn memory() -> PathBuf {
    PathBuf::from("<memory>")
}

/// Reads a file and decodes it; the file size limit is checked from metadata before reading.
pub fn load(path: &Path, limits: &Limits) -> Result<Decoded> {
    let bytes = read_limited(path, limits)?;
    decode_named(&bytes, path, limits)
}

/// Decodes bytes held in memory. Errors name `<memory>`.
pub fn decode(bytes: &[u8], limits: &Limits) -> Result<Decoded> {
    decode_named(bytes, &memory(), limits)
}

/// Reads a file, refusing it (without reading) when it exceeds `limits.max_bytes` or is
/// not a regular file. A FIFO or device behind an image's name is refused from its
/// metadata, and the file is opened without blocking (`O_NONBLOCK`) and checked again on
/// the open handle, so a swap between the check and the open cannot make the read wait
/// forever; the read itself stops one byte past the limit whatever the file claims.
pub fn read_limited(path: &Path, limits: &Limits) -> Result<Vec<u8>> {
    use std::io::Read;
    let io = |source| ImageError::from_io(path, source);
    let meta = std::fs::metadata(path).map_err(io)?;
    check_file_type(path, meta.file_type())?;
    check_bytes(meta.len(), path, limits)?;
    let file = open_nonblocking(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    check_file_type(path, meta.file_type())?;
    check_bytes(meta.len(), path, limits)?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limits.max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(io)?;
    // The file grew while it was read.
    check_bytes(bytes.len() as u64, path, limits)?;
    Ok(bytes)
}

#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

/// `Ok` for a regular file; [`ImageError::NotAFile`] naming the type (FIFO, character
/// device, …) for anything else.
pub fn check_file_type(path: &Path, file_type: std::fs::FileType) -> Result<()> {
    if file_type.is_file() {
        return Ok(());
    }
    Err(ImageError::NotAFile {
        path: path.to_path_buf(),
        file_type: file_type_name(file_type),
    })
}

fn file_type_name(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "FIFO";
        }
        if t.is_char_device() {
            return "character device";
        }
        if t.is_block_device() {
            return "block device";
        }
        if t.is_socket() {
            return "socket";
        }
    }
    if t.is_dir() {
        "folder"
    } else if t.is_symlink() {
        "symbolic link"
    } else {
        "special file"
    }
}

fn check_bytes(len: u64, path: &Path, limits: &Limits) -> Result<()> {
    if len > limits.max_bytes {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            what: "file size",
            actual: len,
            limit: limits.max_bytes,
            unit: "bytes",
        });
    }
    Ok(())
}

/// Sniffs the format from the content and reads the dimensions from the header only.
pub fn probe(bytes: &[u8], path: &Path, limits: &Limits) -> Result<Probe> {
    check_bytes(bytes.len() as u64, path, limits)?;
    let format = sniff(bytes, path)?;
    let decoder = header_decoder(bytes, format, path, limits)?;
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, path, limits)?;
    Ok(Probe {
        format,
        width,
        height,
    })
}

/// Decodes with the given path used in errors.
pub fn decode_named(bytes: &[u8], path: &Path, limits: &Limits) -> Result<Decoded> {
    check_bytes(bytes.len() as u64, path, limits)?;
    let format = sniff(bytes, path)?;
    if format == Format::Jpeg {
        check_jpeg_complete(bytes, path)?;
    }
    let decoder = header_decoder(bytes, format, path, limits)?;
    finish(decoder, format, path, limits)
}

/// [`decode`] for JPEG only; any other format is [`ImageError::UnsupportedFormat`].
/// The same checks and pixels as [`decode`] for a JPEG, but a program that calls only this
/// links only the JPEG decoder (the browser runtime, where every other format is left to
/// the browser and the size of the module matters).
pub fn decode_jpeg(bytes: &[u8], limits: &Limits) -> Result<Decoded> {
    let path = memory();
    check_bytes(bytes.len() as u64, &path, limits)?;
    let format = sniff(bytes, &path)?;
    if format != Format::Jpeg {
        return Err(ImageError::UnsupportedFormat {
            path,
            format: format.name().into(),
        });
    }
    check_jpeg_complete(bytes, &path)?;
    let alloc = max_alloc(limits);
    let mut decoder = image::codecs::jpeg::JpegDecoder::new(Cursor::new(bytes))
        .map_err(|e| map_error(e, format, &path, alloc))?;
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(alloc);
    decoder
        .set_limits(decoder_limits)
        .map_err(|e| map_error(e, format, &path, alloc))?;
    finish(decoder, format, &path, limits)
}

/// The checks and decoding after the header: dimensions and decoded size against the
/// limits, then the pixels, EXIF orientation applied, as RGB8.
fn finish(
    mut decoder: impl ImageDecoder,
    format: Format,
    path: &Path,
    limits: &Limits,
) -> Result<Decoded> {
    let (width, height) = decoder.dimensions();
    check_dimensions(width, height, path, limits)?;
    let decoded_size = decoder.total_bytes();
    let alloc = max_alloc(limits);
    if decoded_size > alloc {
        return Err(ImageError::TooLarge {
            path: path.to_path_buf(),
            what: "decoded size",
            actual: decoded_size,
            limit: alloc,
            unit: "bytes",
        });
    }
    // A broken EXIF block should not cost the photo: fall back to "no rotation".
    let orientation = decoder
        .orientation()
        .unwrap_or(image::metadata::Orientation::NoTransforms);
    let mut dynamic =
        DynamicImage::from_decoder(decoder).map_err(|e| map_error(e, format, path, alloc))?;
    dynamic.apply_orientation(orientation);
    Ok(Decoded {
        image: to_rgb8(dynamic),
        format,
        orientation: orientation.to_exif(),
    })
}

fn to_rgb8(image: DynamicImage) -> RgbImage {
    match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        // Alpha is dropped, not blended: the same convention as the reference library.
        other => other.to_rgb8(),
    }
}

/// The decoder with the header read. Its limits cap only allocations: the dimensions are
/// checked by [`check_dimensions`] right after, against each of Kao's limits with its
/// own message, before any pixel buffer exists.
fn header_decoder<'a>(
    bytes: &'a [u8],
    format: Format,
    path: &Path,
    limits: &Limits,
) -> Result<impl ImageDecoder + 'a> {
    let alloc = max_alloc(limits);
    let mut decoder_limits = image::Limits::default();
    decoder_limits.max_alloc = Some(alloc);
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format.to_image());
    reader.limits(decoder_limits);
    reader
        .into_decoder()
        .map_err(|e| map_error(e, format, path, alloc))
}

/// The most a decoder may allocate: 16-bit RGBA is the widest layout it may use (8 bytes
/// a pixel), plus slack for the conversion to RGB8.
fn max_alloc(limits: &Limits) -> u64 {
    limits.max_pixels.saturating_mul(8).saturating_add(64 << 20)
}

fn check_dimensions(width: u32, height: u32, path: &Path, limits: &Limits) -> Result<()> {
    let too_large = |what, actual: u64, limit: u64, unit| ImageError::TooLarge {
        path: path.to_path_buf(),
        what,
        actual,
        limit,
        unit,
    };
    if width == 0 || height == 0 {
        return Err(ImageError::NotAnImage {
            path: path.to_path_buf(),
            reason: format!("header gives an empty {width}x{height} image"),
        });
    }
    if width > limits.max_side {
        return Err(too_large(
            "width",
            width.into(),
            limits.max_side.into(),
            "px",
        ));
    }
    if height > limits.max_side {
        return Err(too_large(
            "height",
            height.into(),
            limits.max_side.into(),
            "px",
        ));
    }
    let pixels = u64::from(width) * u64::from(height);
    if pixels > limits.max_pixels {
        return Err(too_large("pixel count", pixels, limits.max_pixels, ""));
    }
    Ok(())
}

fn sniff(bytes: &[u8], path: &Path) -> Result<Format> {
    if bytes.is_empty() {
        return Err(ImageError::NotAnImage {
            path: path.to_path_buf(),
            reason: "empty file".into(),
        });
    }
    match image::guess_format(bytes) {
        Ok(f) => Format::from_image(f).ok_or_else(|| ImageError::UnsupportedFormat {
            path: path.to_path_buf(),
            format: format!("{f:?}").to_lowercase(),
        }),
        Err(_) => Err(ImageError::NotAnImage {
            path: path.to_path_buf(),
            reason: describe_unknown(bytes),
        }),
    }
}

fn describe_unknown(bytes: &[u8]) -> String {
    let head = &bytes[..bytes.len().min(512)];
    let text = head
        .iter()
        .all(|&b| b.is_ascii_graphic() || b.is_ascii_whitespace() || b >= 0x80);
    let lower = String::from_utf8_lossy(head).to_lowercase();
    if lower.contains("<html") || lower.contains("<!doctype") {
        "HTML document".into()
    } else if text {
        "text content".into()
    } else {
        "unrecognised content".into()
    }
}

/// JPEG decoders fill a missing tail with grey instead of failing, so a cut-off download
/// would pass as a photo. The end-of-image marker must follow the last start-of-scan;
/// an EXIF thumbnail's own markers come earlier and cannot satisfy this.
fn check_jpeg_complete(bytes: &[u8], path: &Path) -> Result<()> {
    let last_sos = find_last_marker(bytes, 0xDA);
    let last_eoi = find_last_marker(bytes, 0xD9);
    let complete = match (last_sos, last_eoi) {
        (Some(sos), Some(eoi)) => eoi > sos,
        _ => false,
    };
    if complete {
        Ok(())
    } else {
        Err(ImageError::Truncated {
            path: path.to_path_buf(),
            format: "jpeg",
            detail: "no end-of-image marker after the last scan".into(),
        })
    }
}

fn find_last_marker(bytes: &[u8], marker: u8) -> Option<usize> {
    bytes
        .windows(2)
        .rposition(|w| w[0] == 0xFF && w[1] == marker)
}

fn map_error(e: image::ImageError, format: Format, path: &Path, max_alloc: u64) -> ImageError {
    let path = path.to_path_buf();
    match e {
        image::ImageError::Limits(e) => ImageError::DecoderLimit {
            path,
            format: format.name(),
            limit: max_alloc,
            detail: e.to_string(),
        },
        image::ImageError::Unsupported(u) => ImageError::UnsupportedFormat {
            path,
            format: format!("{format} variant ({u})"),
        },
        image::ImageError::IoError(io) if io.kind() == std::io::ErrorKind::UnexpectedEof => {
            ImageError::Truncated {
                path,
                format: format.name(),
                detail: io.to_string(),
            }
        }
        other => {
            let detail = other.to_string();
            let lower = detail.to_lowercase();
            let truncated = [
                "eof",
                "end of file",
                "unexpected end",
                "not enough data",
                "exhausted",
                "truncated",
            ]
            .iter()
            .any(|k| lower.contains(k));
            if truncated {
                ImageError::Truncated {
                    path,
                    format: format.name(),
                    detail,
                }
            } else {
                ImageError::Corrupt {
                    path,
                    format: format.name(),
                    detail,
                }
            }
        }
    }
}
