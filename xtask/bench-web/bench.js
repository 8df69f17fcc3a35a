// `cargo xtask bench export-web`: the same photos through Kao's exported page (kao.js) and
// through face-api (detection + 68 landmarks + descriptor) on TensorFlow.js's WebAssembly
// backend, in this browser, one photo at a time. The xtask serves: /bench/ (this folder),
// /page/ (the export), /models/ (the face-api weights), /photos/ (lfw5).

import * as faceapi from "./node_modules/@vladmandic/face-api/dist/face-api.esm.js";
import * as kao from "/page/kao.js";

async function images(urls) {
  return Promise.all(
    urls.map(async (url) => {
      const img = new Image();
      img.src = url;
      await img.decode();
      return img;
    }),
  );
}

window.bench = {
  /** Loads both; returns load times and face-api's backend. */
  async load() {
    let t = performance.now();
    const { wasm: kaoWasm } = await kao.load("/page/");
    const kaoLoad = performance.now() - t;
    t = performance.now();
    faceapi.tf.setWasmPaths("/bench/node_modules/@tensorflow/tfjs-backend-wasm/dist/");
    await faceapi.tf.setBackend("wasm");
    await faceapi.tf.ready();
    await faceapi.nets.tinyFaceDetector.loadFromUri("/models");
    await faceapi.nets.faceLandmark68Net.loadFromUri("/models");
    await faceapi.nets.faceRecognitionNet.loadFromUri("/models");
    const faceapiLoad = performance.now() - t;
    return { kaoLoad, kaoWasm, faceapiLoad, backend: faceapi.tf.getBackend(), tfjs: faceapi.tf.version_core };
  },

  /**
   * Both on every photo, one right after the other (which goes first alternates), so a
   * change in the machine's load falls on both alike. `relaxedSimd: false` runs Kao's
   * SIMD128 build (what browsers without relaxed SIMD load) instead of the one this
   * browser would pick.
   */
  async both(urls, warmup, inputSize, relaxedSimd) {
    const { wasm } = await kao.load("/page/", { relaxedSimd });
    const imgs = await images(urls);
    const kaoRun = async (img) => (await kao.identify(img)).faces.length;
    const faceRun = faceapiRun(inputSize);
    for (const img of imgs.slice(0, warmup)) {
      await kaoRun(img);
      await faceRun(img);
    }
    const k = { ms: [], faces: 0 };
    const f = { ms: [], faces: 0 };
    for (const [i, img] of imgs.entries()) {
      const order = i % 2 === 0 ? [[k, kaoRun], [f, faceRun]] : [[f, faceRun], [k, kaoRun]];
      for (const [out, run] of order) {
        const t = performance.now();
        out.faces += await run(img);
        out.ms.push(performance.now() - t);
      }
    }
    return { kao: k, faceapi: f, wasm };
  },
};

function faceapiRun(inputSize) {
  const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: 0.5 });
  return async (img) =>
    (await faceapi.detectAllFaces(img, options).withFaceLandmarks().withFaceDescriptors()).length;
}
document.body.dataset.ready = "true";
