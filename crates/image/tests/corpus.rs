//! The hostile-input corpus, generated here so no binary fixture is needed: each file
//! either decodes to a correct RGB8 image or fails with its specific error, never panics.

use std::io::Cursor;

use image::{DynamicImage, ImageBuffer, ImageFormat, Luma, LumaA, Rgb, RgbImage, Rgba};
use kao_image::{
    decode, decode_jpeg, decode_named, load, perceptual_hash, probe, ImageError, Limits,
};

fn photo(w: u32, h: u32) -> RgbImage {
    // Smooth gradients plus a block, so JPEG keeps it recognisable and hashes are stable.
    ImageBuffer::from_fn(w, h, |x, y| {
        let block = (x > w / 3 && x < w / 2 && y > h / 4 && y < h / 2) as u8 * 120;
        Rgb([
            (x * 255 / w) as u8 ^ block,
            (y * 255 / h) as u8,
            128u8.wrapping_add(block),
        ])
    })
}

fn encode(image: &DynamicImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    image.write_to(&mut out, format).unwrap();
    out.into_inner()
}

fn jpeg(w: u32, h: u32) -> Vec<u8> {
    encode(&DynamicImage::ImageRgb8(photo(w, h)), ImageFormat::Jpeg)
}

#[test]
fn zero_byte_file_is_not_an_image() {
    let err = decode(b"", &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::NotAnImage { .. }), "{err}");
}

#[test]
fn truncated_jpeg_is_truncated() {
    let bytes = jpeg(64, 48);
    let err = decode(&bytes[..bytes.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
}

#[test]
fn truncated_png_is_truncated() {
    let bytes = encode(&DynamicImage::ImageRgb8(photo(64, 48)), ImageFormat::Png);
    let err = decode(&bytes[..bytes.len() / 2], &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
}

#[test]
fn text_file_named_jpg_is_not_an_image_and_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.jpg");
    std::fs::write(&path, "these are my holiday notes, not a photo\n").unwrap();
    let err = load(&path, &Limits::default()).unwrap_err();
    assert!(matches!(err, ImageError::NotAnImage { .. }), "{err}");
    assert!(err.to_string().contains("notes.jpg"), "{err}");
}

/// A PNG header claiming 100,000 × 100,000 pixels with no pixel data: must be refused
/// from the header, before the decoder reserves 30 GB.
fn huge_png_header() -> Vec<u8> {
    fn chunk(kind: &[u8], data: &[u8]) -> Vec<u8> {
        let mut c = (data.len() as u32).to_be_bytes().to_vec();
        c.extend_from_slice(kind);
        c.extend_from_slice(data);
        c.extend_from_slice(&crc32(&[kind, data].concat()).to_be_bytes());
        c
    }
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    png.extend(chunk(b"IHDR", &ihdr));
    png.extend(chunk(
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    ));
    png.extend(chunk(b"IEND", &[]));
    png
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn huge_png_header_is_too_large_without_allocating() {
    let bytes = huge_png_header();
    let err = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "<memory>: too large: width 100000 px exceeds the limit of 10240 px"
    );
    let err = probe(&bytes, "huge.png".as_ref(), &Limits::default()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "huge.png: too large: width 100000 px exceeds the limit of 10240 px"
    );
}

/// A long thin strip is small in bytes and pixels: it is refused for its side, not as an
/// allocation problem.
#[test]
fn wide_png_is_refused_for_its_width() {
    let strip = RgbImage::from_pixel(20_000, 4, Rgb([200, 100, 50]));
    let bytes = encode(&DynamicImage::ImageRgb8(strip), ImageFormat::Png);
    let err = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err.reason(),
        "too large: width 20000 px exceeds the limit of 10240 px"
    );
    let tall = RgbImage::from_pixel(4, 20_000, Rgb([200, 100, 50]));
    let bytes = encode(&DynamicImage::ImageRgb8(tall), ImageFormat::Png);
    let err = decode(&bytes, &Limits::default()).unwrap_err();
    assert_eq!(
        err.reason(),
        "too large: height 20000 px exceeds the limit of 10240 px"
    );
}

/// Each limit's message says what was found and what the limit is.
#[test]
fn each_limit_names_the_value_and_the_limit() {
    let bytes = jpeg(64, 48);
    let reason = |limits: Limits| {
        let err = decode(&bytes, &limits).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
        assert_eq!(err.kind(), "too_large");
        err.reason()
    };
    assert_eq!(
        reason(Limits {
            max_side: 50,
            ..Limits::default()
        }),
        "too large: width 64 px exceeds the limit of 50 px"
    );
    assert_eq!(
        reason(Limits {
            max_side: 60,
            ..Limits::default()
        }),
        "too large: width 64 px exceeds the limit of 60 px"
    );
    let portrait = jpeg(48, 64);
    let err = decode(
        &portrait,
        &Limits {
            max_side: 50,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.reason(),
        "too large: height 64 px exceeds the limit of 50 px"
    );
    assert_eq!(
        reason(Limits {
            max_pixels: 1000,
            ..Limits::default()
        }),
        "too large: pixel count 3072 exceeds the limit of 1000"
    );
    assert_eq!(
        reason(Limits {
            max_bytes: 100,
            ..Limits::default()
        }),
        format!(
            "too large: file size {} bytes exceeds the limit of 100 bytes",
            bytes.len()
        )
    );
}

#[test]
fn file_over_the_byte_limit_is_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("big.jpg");
    std::fs::write(&path, jpeg(64, 48)).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    let err = load(
        &path,
        &Limits {
            max_bytes: 200,
            ..Limits::default()
        },
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        format!(
            "{}: too large: file size {len} bytes exceeds the limit of 200 bytes",
            path.display()
        )
    );
}

#[test]
fn sixteen_bit_png_becomes_rgb8() {
    let img: ImageBuffer<Rgb<u16>, Vec<u16>> =
        ImageBuffer::from_fn(8, 4, |x, _| Rgb([x as u16 * 8000, 65535, 0]));
    let bytes = encode(&DynamicImage::ImageRgb16(img), ImageFormat::Png);
    let d = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(d.image.dimensions(), (8, 4));
    assert_eq!(d.image.get_pixel(1, 0).0, [31, 255, 0]);
}

#[test]
fn grayscale_jpeg_becomes_rgb8() {
    let img: ImageBuffer<Luma<u8>, Vec<u8>> = ImageBuffer::from_fn(32, 32, |_, _| Luma([200]));
    let bytes = encode(&DynamicImage::ImageLuma8(img), ImageFormat::Jpeg);
    let d = decode(&bytes, &Limits::default()).unwrap();
    let p = d.image.get_pixel(5, 5).0;
    assert!(p.iter().all(|&c| c.abs_diff(200) <= 2), "{p:?}");
    assert_eq!(p[0], p[1]);
}

#[test]
fn gray_alpha_and_rgba_png_drop_alpha() {
    let ga: ImageBuffer<LumaA<u8>, Vec<u8>> = ImageBuffer::from_fn(4, 4, |_, _| LumaA([90, 10]));
    let d = decode(
        &encode(&DynamicImage::ImageLumaA8(ga), ImageFormat::Png),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.image.get_pixel(0, 0).0, [90, 90, 90]);
    let rgba: ImageBuffer<Rgba<u8>, Vec<u8>> =
        ImageBuffer::from_fn(4, 4, |_, _| Rgba([10, 20, 30, 0]));
    let d = decode(
        &encode(&DynamicImage::ImageRgba8(rgba), ImageFormat::Png),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(d.image.get_pixel(3, 3).0, [10, 20, 30]);
}

#[test]
fn gif_with_two_frames_gives_the_first() {
    use image::codecs::gif::GifEncoder;
    use image::{Delay, Frame};
    let mut bytes = Vec::new();
    {
        let mut enc = GifEncoder::new(&mut bytes);
        let red = ImageBuffer::from_pixel(6, 5, Rgba([255, 0, 0, 255]));
        let blue = ImageBuffer::from_pixel(6, 5, Rgba([0, 0, 255, 255]));
        enc.encode_frames(vec![
            Frame::from_parts(red, 0, 0, Delay::from_numer_denom_ms(100, 1)),
            Frame::from_parts(blue, 0, 0, Delay::from_numer_denom_ms(100, 1)),
        ])
        .unwrap();
    }
    let d = decode(&bytes, &Limits::default()).unwrap();
    assert_eq!(d.image.dimensions(), (6, 5));
    let p = d.image.get_pixel(2, 2).0;
    assert!(p[0] > 200 && p[2] < 50, "first frame is red, got {p:?}");
}

/// Inserts an APP1 EXIF segment with one Orientation entry right after SOI.
fn with_exif_orientation(jpeg: &[u8], orientation: u16) -> Vec<u8> {
    let mut tiff = b"MM\x00\x2a\x00\x00\x00\x08".to_vec();
    tiff.extend_from_slice(&1u16.to_be_bytes());
    tiff.extend_from_slice(&0x0112u16.to_be_bytes());
    tiff.extend_from_slice(&3u16.to_be_bytes());
    tiff.extend_from_slice(&1u32.to_be_bytes());
    tiff.extend_from_slice(&orientation.to_be_bytes());
    tiff.extend_from_slice(&[0, 0]);
    tiff.extend_from_slice(&0u32.to_be_bytes());
    let mut app1 = b"Exif\x00\x00".to_vec();
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend_from_slice(&[0xFF, 0xE1]);
    out.extend_from_slice(&((app1.len() + 2) as u16).to_be_bytes());
    out.extend(app1);
    out.extend_from_slice(&jpeg[2..]);
    out
}

#[test]
fn exif_orientation_6_is_rotated_upright() {
    let plain = jpeg(64, 32);
    let rotated = with_exif_orientation(&plain, 6);
    let d = decode(&rotated, &Limits::default()).unwrap();
    assert_eq!(d.orientation, 6);
    assert_eq!(
        d.image.dimensions(),
        (32, 64),
        "orientation 6 swaps width and height"
    );
    // Orientation 6 means "rotate 90° clockwise to display": the stored top-left corner
    // ends up at the top-right.
    let stored = decode(&plain, &Limits::default()).unwrap().image;
    let a = stored.get_pixel(1, 1).0;
    let b = d.image.get_pixel(32 - 2, 1).0;
    assert!(
        a.iter().zip(b).all(|(x, y)| x.abs_diff(y) <= 3),
        "{a:?} vs {b:?}"
    );
}

#[test]
fn png_named_jpg_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("really_a_png.jpg");
    std::fs::write(
        &path,
        encode(&DynamicImage::ImageRgb8(photo(20, 10)), ImageFormat::Png),
    )
    .unwrap();
    let d = load(&path, &Limits::default()).unwrap();
    assert_eq!(d.format, kao_image::Format::Png);
    assert_eq!(d.image, photo(20, 10));
}

#[test]
fn unsupported_format_is_named() {
    // A TIFF header: recognised, but not a format Kao accepts.
    let err = decode_named(
        b"II*\x00\x08\x00\x00\x00rest",
        "scan.tif".as_ref(),
        &Limits::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ImageError::UnsupportedFormat { .. }), "{err}");
    assert!(err.to_string().contains("scan.tif"));
}

#[test]
fn perceptual_hash_survives_resize_and_reencode() {
    let original = photo(250, 250);
    let h0 = perceptual_hash(&original);
    let small = image::imageops::resize(&original, 120, 120, image::imageops::FilterType::Triangle);
    let reencoded = decode(
        &encode(
            &DynamicImage::ImageRgb8(original.clone()),
            ImageFormat::Jpeg,
        ),
        &Limits::default(),
    )
    .unwrap();
    assert!(h0.distance(perceptual_hash(&small)) <= 2);
    assert!(h0.distance(perceptual_hash(&reencoded.image)) <= 2);
    let different = ImageBuffer::from_fn(250, 250, |x, y| {
        Rgb([(y * 255 / 250) as u8, 0, (x * 255 / 250) as u8])
    });
    assert!(h0.distance(perceptual_hash(&different)) > kao_image::NEAR_DUPLICATE_DISTANCE);
}

#[test]
fn content_id_is_sha256_of_bytes() {
    assert_eq!(
        kao_image::content_id(b"abc"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    );
}

#[test]
fn jpeg_only_decoder_gives_the_same_pixels_and_refuses_other_formats() {
    let limits = Limits::default();
    let bytes = jpeg(64, 48);
    let all = decode(&bytes, &limits).unwrap();
    let only = decode_jpeg(&bytes, &limits).unwrap();
    assert_eq!(all.image, only.image);
    assert_eq!(all.orientation, only.orientation);
    let err = decode_jpeg(&bytes[..bytes.len() / 2], &limits).unwrap_err();
    assert!(matches!(err, ImageError::Truncated { .. }), "{err}");
    let png = encode(&DynamicImage::ImageRgb8(photo(64, 48)), ImageFormat::Png);
    let err = decode_jpeg(&png, &limits).unwrap_err();
    assert!(
        matches!(&err, ImageError::UnsupportedFormat { format, .. } if format == "png"),
        "{err}"
    );
}
