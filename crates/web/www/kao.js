// Kao in the browser: the exported iteration's Predictor, compiled to WebAssembly.
//
//   import * as kao from "./kao.js";
//   const info = await kao.load();            // or kao.load("https://intranet/faces/")
//   const answer = await kao.identify(file);  // a Blob, <img>, <canvas>, <video>, ImageBitmap or ImageData
//
// `answer` is the Prediction API's JSON, as `kao serve` returns it: id, project, iteration,
// created, predictions (the picked face's tags), unknown, and faces (every face with its
// boundingBox as fractions of the image, predictions, unknown and picked).
// Everything is fetched from the base URL's folder; nothing else is requested.

let model = null;

/**
 * Whether this engine has WebAssembly's relaxed SIMD: a module of one function using
 * `f32x4.relaxed_madd` validates. The runtime comes in two builds (docs/export.md):
 * `kao_web_relaxed_bg.wasm`, whose multiply-adds the engine may fuse, and
 * `kao_web_bg.wasm` (SIMD128 only) for engines without the proposal.
 */
export const relaxedSimd = WebAssembly.validate(
  new Uint8Array([
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00, // magic, version 1
    0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7b, // type: () -> v128
    0x03, 0x02, 0x01, 0x00, // one function of that type
    0x0a, 0x1c, 0x01, 0x1a, 0x00, // code: one body of 26 bytes, no locals
    0x43, 0x00, 0x00, 0x80, 0x3f, 0xfd, 0x13, // f32x4.splat(1.0)
    0x43, 0x00, 0x00, 0x80, 0x3f, 0xfd, 0x13, // f32x4.splat(1.0)
    0x43, 0x00, 0x00, 0x80, 0x3f, 0xfd, 0x13, // f32x4.splat(1.0)
    0xfd, 0x85, 0x02, // f32x4.relaxed_madd
    0x0b, // end
  ]),
);

/** The folder `url` names, ending in a slash, resolved against the page. */
function folder(url) {
  const u = new URL(url, document.baseURI);
  if (!u.pathname.endsWith("/")) u.pathname += "/";
  return u;
}

async function fetchBytes(url) {
  const r = await fetch(url);
  if (!r.ok) throw new Error(`${url}: HTTP ${r.status}`);
  return new Uint8Array(await r.arrayBuffer());
}

/**
 * Loads the WebAssembly module and the model under `baseUrl` (default: the folder this
 * module was loaded from). Resolves to the model's description: project, iteration,
 * iterationNumber, publishedName, files and tags, plus `wasm`, the module file in use.
 * `options.relaxedSimd: false` loads the SIMD128 build even where the engine has relaxed
 * SIMD (the default is the faster build the engine can run).
 */
export async function load(baseUrl, options = {}) {
  const base = baseUrl === undefined ? new URL("./", import.meta.url) : folder(baseUrl);
  const build = (options.relaxedSimd ?? relaxedSimd) && relaxedSimd ? "kao_web_relaxed" : "kao_web";
  const { default: init, Files, Model } = await import(`./${build}.js`);
  const wasm = `${build}_bg.wasm`;
  await init({ module_or_path: new URL(wasm, base) });
  const index = await fetchBytes(new URL("model/bundle.json", base));
  const bundle = JSON.parse(new TextDecoder().decode(index));
  const files = new Files();
  files.add("bundle.json", index);
  const fetched = await Promise.all(
    bundle.files.map(async (name) => [name, await fetchBytes(new URL("model/" + encodeURIComponent(name), base))]),
  );
  for (const [name, bytes] of fetched) files.add(name, bytes);
  model?.free();
  model = new Model(files);
  return { ...JSON.parse(model.info()), wasm };
}

/** Whether `load` has finished. */
export function loaded() {
  return model !== null;
}

let canvas = null;

function context(width, height) {
  canvas ??= typeof OffscreenCanvas === "function" ? new OffscreenCanvas(1, 1) : document.createElement("canvas");
  canvas.width = width;
  canvas.height = height;
  return canvas.getContext("2d", { willReadFrequently: true });
}

/**
 * The RGBA pixels of `source`, decoded by the browser. Colour profiles are not applied
 * (`colorSpaceConversion: "none"`), as Kao's native decoder does not apply them either;
 * EXIF orientation is.
 */
async function pixels(source) {
  if (source instanceof ImageData) return source;
  let drawable = source;
  let owned = null;
  if (source instanceof Blob) {
    owned = drawable = await createImageBitmap(source, {
      imageOrientation: "from-image",
      colorSpaceConversion: "none",
      premultiplyAlpha: "none",
    });
  } else if (typeof HTMLImageElement !== "undefined" && source instanceof HTMLImageElement) {
    if (!source.complete || source.naturalWidth === 0) await source.decode();
  }
  const width = drawable.naturalWidth || drawable.videoWidth || drawable.width;
  const height = drawable.naturalHeight || drawable.videoHeight || drawable.height;
  if (!width || !height) throw new Error("kao.identify: the image has no pixels (not loaded yet?)");
  const ctx = context(width, height);
  ctx.drawImage(drawable, 0, 0, width, height);
  owned?.close();
  return ctx.getImageData(0, 0, width, height);
}

/**
 * Every face in `source` with its tags: the Prediction API's JSON. `source` is a Blob or
 * File, an <img>, <canvas>, <video> (its current frame), ImageBitmap, OffscreenCanvas or
 * ImageData. A JPEG Blob's bytes are decoded by Kao's own decoder, so the answer is exactly
 * `kao predict`'s for the same file; other formats (PNG, WebP, HEIC, …) are decoded by the
 * browser. Every other source is pixels the browser has already decoded.
 */
export async function identify(source) {
  if (!model) throw new Error("kao.identify: call kao.load() first");
  const created = new Date().toISOString();
  if (source instanceof Blob) {
    try {
      return JSON.parse(model.identify_encoded(new Uint8Array(await source.arrayBuffer()), created));
    } catch (e) {
      if (!String(e?.message).startsWith("decode:")) throw e;
    }
  }
  const { data, width, height } = await pixels(source);
  return JSON.parse(model.identify(data, width, height, created));
}
