// nsfwjs reference for `guardstream models verify`: the package's own loader (`nsfwjs.load`) and `infer`
// (divide by 255, resizeBilinear with align corners) on @tensorflow/tfjs' pure-JS CPU backend.
// usage: node reference.cjs REQUEST.json
// request: {"model": "MobileNetV2" | "InceptionV3", "inputs": [{"raw": FILE, "height": H, "width": W} | {"jpeg": FILE}]}
// "raw" is uint8 RGB, row-major HWC; "jpeg" is decoded here with jpeg-js (nsfwjs' own test decoder).
// stdout: {"backend": "cpu", "tfjs": VERSION, "probabilities": [[p0..p4], ...], "sizes": [[H, W], ...]}
"use strict";
const fs = require("fs");
const tf = require("@tensorflow/tfjs");
const jpeg = require("jpeg-js");
const nsfwjs = require("nsfwjs");

function pixels(input) {
  if (input.jpeg) {
    const img = jpeg.decode(fs.readFileSync(input.jpeg), { useTArray: true, formatAsRGBA: false, maxMemoryUsageInMB: 1024 });
    return tf.tensor3d(img.data, [img.height, img.width, 3], "int32");
  }
  return tf.tensor3d(new Uint8Array(fs.readFileSync(input.raw)), [input.height, input.width, 3], "int32");
}

async function main() {
  const request = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
  await tf.setBackend("cpu");
  const info = console.info;
  console.info = () => {};  // nsfwjs prints a hosting hint on load
  const model = await nsfwjs.load(request.model);
  console.info = info;
  const probabilities = [];
  const sizes = [];
  for (const input of request.inputs) {
    const image = pixels(input);
    const out = model.infer(image);
    probabilities.push(Array.from(await out.data()));
    sizes.push(image.shape.slice(0, 2));
    tf.dispose([image, out]);
  }
  process.stdout.write(JSON.stringify({ backend: tf.getBackend(), tfjs: tf.version.tfjs, probabilities, sizes }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
  process.exit(1);
});
