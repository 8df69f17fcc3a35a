// Decodes every .jpg of $KAO_SHARED/golden with jpeg-js 0.4.4, the decoder the golden records
// were made with, into OUT/<file>.ppm, and checks each against the record's sha256_rgb.
// Then `KAO_PARITY_PIXELS=OUT cargo test -p kao-models --test parity_pipeline jpeg` runs the
// JPEG parity test on exactly face-api's pixels, with the bounds.
//
//   cd "$(mktemp -d)" && npm pack jpeg-js@0.4.4 && tar xzf jpeg-js-0.4.4.tgz
//   node /path/to/jpegjs_decode.js ./package "$KAO_SHARED/golden" OUT
const [jpegDir, golden, out] = process.argv.slice(2);
const jpeg = require(require('path').resolve(jpegDir));
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const records = JSON.parse(fs.readFileSync(path.join(golden, 'face-api-1.7.15.json'))).images;
fs.mkdirSync(out, { recursive: true });
for (const r of records.filter((r) => r.file.endsWith('.jpg'))) {
  const bytes = fs.readFileSync(path.join(golden, 'images', r.file));
  const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 2048 });
  const sha = crypto.createHash('sha256').update(img.data).digest('hex');
  if (sha !== r.sha256_rgb) throw new Error(`${r.file}: decoded pixels differ from the golden record's`);
  const header = Buffer.from(`P6\n${img.width} ${img.height}\n255\n`);
  fs.writeFileSync(path.join(out, `${r.file}.ppm`), Buffer.concat([header, Buffer.from(img.data)]));
}
