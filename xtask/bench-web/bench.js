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

async function time(imgs, warmup, run) {
  for (const img of imgs.slice(0, warmup)) await run(img);
  const ms = [];
  let faces = 0;
  for (const img of imgs) {
    const t = performance.now();
    faces += await run(img);
    ms.push(performance.now() - t);
  }
  return { ms, faces };
}

window.bench = {
  /** Loads both; returns load times and face-api's backend. */
  async load() {
    let t = performance.now();
    await kao.load("/page/");
    const kaoLoad = performance.now() - t;
    t = performance.now();
    faceapi.tf.setWasmPaths("/bench/node_modules/@tensorflow/tfjs-backend-wasm/dist/");
    await faceapi.tf.setBackend("wasm");
    await faceapi.tf.ready();
    await faceapi.nets.tinyFaceDetector.loadFromUri("/models");
    await faceapi.nets.faceLandmark68Net.loadFromUri("/models");
    await faceapi.nets.faceRecognitionNet.loadFromUri("/models");
    const faceapiLoad = performance.now() - t;
    return { kaoLoad, faceapiLoad, backend: faceapi.tf.getBackend(), tfjs: faceapi.tf.version_core };
  },

  async kao(urls, warmup) {
    const imgs = await images(urls);
    return time(imgs, warmup, async (img) => (await kao.identify(img)).faces.length);
  },

  /** face-api with the tiny detector at Kao's input for these photos (`inputSize`). */
  async faceapi(urls, warmup, inputSize) {
    const imgs = await images(urls);
    const options = new faceapi.TinyFaceDetectorOptions({ inputSize, scoreThreshold: 0.5 });
    return time(imgs, warmup, async (img) =>
      (await faceapi.detectAllFaces(img, options).withFaceLandmarks().withFaceDescriptors()).length,
    );
  },
};
document.body.dataset.ready = "true";
