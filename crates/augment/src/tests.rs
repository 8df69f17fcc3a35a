use super::*;

/// A deterministic, asymmetric test picture.
fn picture(w: u32, h: u32, salt: u32) -> RgbImage {
    let mut raw = Vec::with_capacity((w * h * 3) as usize);
    for y in 0..h {
        for x in 0..w {
            let v = x.wrapping_mul(2_654_435_761) ^ y.wrapping_mul(40_503) ^ salt.wrapping_mul(97);
            raw.extend([(v >> 7) as u8, (x * 3 + y) as u8, (y * 5 + salt) as u8]);
        }
    }
    RgbImage::from_raw(w, h, raw).unwrap()
}

fn px(img: &RgbImage, x: u32, y: u32) -> [u8; 3] {
    img.get_pixel(x, y).0
}

fn draw(f: impl FnOnce(&mut Draw)) -> Draw {
    let mut d = Draw::IDENTITY;
    f(&mut d);
    d
}

#[test]
fn zero_ranges_return_the_input_unchanged() {
    let chip = picture(150, 150, 1);
    for k in 0..5 {
        let d = sample(&AugmentParams::NONE, 7, "a/1_0.png", k);
        assert_eq!(d, Draw::IDENTITY);
        assert_eq!(
            augment(&chip, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 150, &d),
            chip
        );
    }
    // Through the source photo: the identity draw is exactly the chip's crop.
    let photo = picture(250, 250, 2);
    let out = augment(
        &photo,
        [1.0, 0.0, 50.0, 0.0, 1.0, 50.0],
        150,
        &Draw::IDENTITY,
    );
    for (x, y, p) in out.enumerate_pixels() {
        assert_eq!(p.0, px(&photo, x + 50, y + 50));
    }
    let ctx = Context::from_source(&photo, [1.0, 0.0, 50.0, 0.0, 1.0, 50.0], 150);
    assert_eq!(augment_context(&ctx, &Draw::IDENTITY), out);
}

#[test]
fn flips_mirror_exactly() {
    let chip = picture(150, 150, 3);
    let h = augment_context(
        &Context::from_chip(chip.clone()),
        &draw(|d| d.flip_horizontal = true),
    );
    let v = augment_context(
        &Context::from_chip(chip.clone()),
        &draw(|d| d.flip_vertical = true),
    );
    for y in 0..150 {
        for x in 0..150 {
            assert_eq!(px(&h, x, y), px(&chip, 149 - x, y));
            assert_eq!(px(&v, x, y), px(&chip, x, 149 - y));
        }
    }
}

#[test]
fn rotation_and_shift_follow_keras_matrices() {
    let chip = picture(150, 150, 4);
    let ctx = Context::from_chip(chip.clone());
    // Keras: input(row, col) = R·(output − centre) + centre with R = [[cos, −sin], [sin, cos]];
    // at 90° output (x, y) reads input (y, 149 − x).
    let r = augment_context(&ctx, &draw(|d| d.rotation = 90.0));
    for y in 0..150 {
        for x in 0..150 {
            assert_eq!(px(&r, x, y), px(&chip, y, 149 - x), "({x}, {y})");
        }
    }
    // Shift: output (x, y) reads input (x + 0.1·150, y); past the edge, `nearest` repeats it.
    let s = augment_context(&ctx, &draw(|d| d.width_shift = 0.1));
    let c = augment_context(
        &ctx,
        &draw(|d| {
            d.width_shift = 0.1;
            d.fill_mode = FillMode::Constant;
            d.cval = 9;
        }),
    );
    let f = augment_context(
        &ctx,
        &draw(|d| {
            d.width_shift = 0.1;
            d.fill_mode = FillMode::Reflect;
        }),
    );
    for y in 0..150 {
        for x in 0..150 {
            let sx = x + 15;
            if sx < 150 {
                assert_eq!(px(&s, x, y), px(&chip, sx, y));
                assert_eq!(px(&c, x, y), px(&chip, sx, y));
            } else {
                assert_eq!(px(&s, x, y), px(&chip, 149, y));
                assert_eq!(px(&c, x, y), [9, 9, 9]);
                assert_eq!(px(&f, x, y), px(&chip, 299 - sx, y));
            }
        }
    }
}

#[test]
fn bilinear_half_pixel_averages() {
    let chip = picture(150, 150, 5);
    let out = augment_context(
        &Context::from_chip(chip.clone()),
        &draw(|d| d.width_shift = 0.5 / 150.0),
    );
    for (x, y, p) in out.enumerate_pixels().filter(|(x, _, _)| *x < 149) {
        for ch in 0..3 {
            let (a, b) = (px(&chip, x, y)[ch] as u32, px(&chip, x + 1, y)[ch] as u32);
            assert_eq!(p.0[ch] as u32, (a + b).div_ceil(2), "({x}, {y})");
        }
    }
}

#[test]
fn hue_rotates_and_brightness_scales() {
    let raw = vec![255, 0, 0, 0, 255, 0, 128, 128, 128, 200, 100, 50];
    let img = RgbImage::from_raw(2, 2, raw).unwrap();
    let hue = augment(
        &img,
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        2,
        &draw(|d| d.hue = 120.0),
    );
    assert_eq!(px(&hue, 0, 0), [0, 255, 0]);
    assert_eq!(px(&hue, 1, 0), [0, 0, 255]);
    assert_eq!(px(&hue, 0, 1), [128, 128, 128]);
    // Orange (h = 20°) + 120° = h 140°, same saturation and value.
    assert_eq!(px(&hue, 1, 1), [50, 200, 100]);
    let back = augment(
        &hue,
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        2,
        &draw(|d| d.hue = -120.0),
    );
    assert_eq!(back, img);
    let dark = augment(
        &img,
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        2,
        &draw(|d| d.brightness = 0.5),
    );
    assert_eq!(px(&dark, 1, 1), [100, 50, 25]);
    let bright = augment(
        &img,
        [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
        2,
        &draw(|d| d.brightness = 1.5),
    );
    assert_eq!(px(&bright, 1, 1), [255, 150, 75]);
}

#[test]
fn draws_are_seeded_in_range_and_independent() {
    let p = Preset::Keras.params();
    let a = sample(&p, 1, "x/1_0.png", 3);
    assert_eq!(a, sample(&p, 1, "x/1_0.png", 3));
    assert_ne!(a, sample(&p, 1, "x/1_0.png", 4));
    assert_ne!(a, sample(&p, 2, "x/1_0.png", 3));
    assert_ne!(a, sample(&p, 1, "x/2_0.png", 3));
    let mut flips = 0;
    for k in 0..200 {
        let d = sample(&p, 1, "x/1_0.png", k);
        assert!(d.rotation.abs() <= 40.0 && d.width_shift.abs() <= 0.2);
        assert!(d.shear.abs() <= 0.2 && (0.8..=1.2).contains(&d.zoom_x));
        assert!(!d.flip_vertical && d.hue == 0.0 && d.brightness == 1.0);
        flips += u32::from(d.flip_horizontal);
    }
    assert!((70..=130).contains(&flips), "{flips}");
    // Colour ranges do not move the geometric draws.
    let f = Preset::Faces.params();
    let no_colour = AugmentParams {
        hue_range: 0.0,
        brightness_range: (1.0, 1.0),
        ..f
    };
    let (g, h) = (sample(&f, 1, "x", 0), sample(&no_colour, 1, "x", 0));
    assert_eq!(
        (g.rotation, g.zoom_x, g.flip_horizontal),
        (h.rotation, h.zoom_x, h.flip_horizontal)
    );
}

#[test]
fn keys_are_stable() {
    let d = draw(|d| {
        d.rotation = -3.25;
        d.zoom_y = 0.95;
        d.flip_horizontal = true;
        d.brightness = 1.1;
    });
    assert_eq!(
        d.key(),
        "aug1 r-3.25 w0 h0 s0 zx1 zy0.95 f10 hue0 b1.1 nearest"
    );
    let json = serde_json::to_string(&d).unwrap();
    assert_eq!(serde_json::from_str::<Draw>(&json).unwrap(), d);
}

#[test]
fn same_bytes_with_one_and_two_threads() {
    use rayon::prelude::*;
    let photos: Vec<RgbImage> = (0..6).map(|i| picture(250, 250, i)).collect();
    let t = [1.0, 0.0, 50.0, 0.0, 1.0, 50.0];
    let run = |threads: usize, preset: Preset| {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        pool.install(|| {
            let jobs: Vec<(usize, u32)> = (0..photos.len())
                .flat_map(|i| (0..4).map(move |k| (i, k)))
                .collect();
            jobs.par_iter()
                .map(|&(i, k)| {
                    let d = sample(&preset.params(), 11, &format!("t/{i}_0.png"), k);
                    augment(&photos[i], t, 150, &d).into_raw()
                })
                .collect::<Vec<_>>()
        })
    };
    for preset in [Preset::Faces, Preset::Keras] {
        let one = run(1, preset);
        assert_eq!(one, run(2, preset));
        assert!(one.windows(2).all(|w| w[0] != w[1]));
    }
}

#[test]
fn context_reads_real_pixels_where_the_chip_has_none() {
    let photo = picture(250, 250, 6);
    let t = [1.0, 0.0, 50.0, 0.0, 1.0, 50.0];
    let d = draw(|d| d.rotation = 40.0);
    assert_eq!(fill_fraction(250, 250, t, 150, &d), 0.0);
    let bare = fill_fraction(150, 150, [1.0, 0.0, 0.0, 0.0, 1.0, 0.0], 150, &d);
    assert!(bare > 0.1, "{bare}");
    let ctx = Context::from_source(&photo, t, 150);
    assert_eq!(augment_context(&ctx, &d), augment(&photo, t, 150, &d));
}

#[test]
fn context_box_reduces_large_photos() {
    // Two photo pixels per chip pixel: the context is the 2×2 block means.
    let photo = picture(500, 500, 7);
    let t = [2.0, 0.0, 100.5, 0.0, 2.0, 100.5];
    let ctx = Context::from_source(&photo, t, 150);
    assert!(ctx.image.width() <= 250 && ctx.image.height() <= 250);
    let out = augment_context(&ctx, &Draw::IDENTITY);
    for (x, y, p) in out.enumerate_pixels() {
        for ch in 0..3 {
            let (sx, sy) = (2 * x + 100, 2 * y + 100);
            let sum: u32 = [(0, 0), (1, 0), (0, 1), (1, 1)]
                .iter()
                .map(|&(dx, dy)| u32::from(px(&photo, sx + dx, sy + dy)[ch]))
                .sum();
            assert_eq!(u32::from(p.0[ch]), (sum + 2) / 4, "({x}, {y})");
        }
    }
}
