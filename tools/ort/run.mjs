// Runs an exported gaitord ONNX model with ONNX Runtime (CPU) and writes its
// outputs as JSON. Test/benchmark harness only.
//
// Usage: node tools/ort/run.mjs MODEL.onnx INPUT.f32 N OUT.json [OPTIMIZED.onnx]
//
// With OPTIMIZED.onnx, ONNX Runtime also saves the graph it runs after its
// optimizations (session option optimizedModelFilePath): the int8 export's
// tests read it to see QLinearConv and the other integer kernels.
//
// INPUT.f32 holds raw little-endian float32 values of shape [N,1,H,W]; H and W
// are read from the model's input metadata. The JSON maps each output name to
// nested arrays ([N,K] -> N rows; [N] -> flat list).
import { readFileSync, writeFileSync, renameSync, openSync, fsyncSync, closeSync } from 'node:fs';
import ort from 'onnxruntime-node';

function fail(msg) {
  process.stderr.write(`run.mjs: ${msg}\n`);
  process.exit(1);
}

const [modelPath, inputPath, nArg, outPath, optimizedPath] = process.argv.slice(2);
if (!outPath) fail('usage: node run.mjs MODEL.onnx INPUT.f32 N OUT.json [OPTIMIZED.onnx]');
const n = Number.parseInt(nArg, 10);
if (!(n > 0)) fail(`bad N ${JSON.stringify(nArg)}`);

const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  ...(optimizedPath ? { optimizedModelFilePath: optimizedPath } : {}),
});
const meta = session.inputMetadata[0];
if (!meta || !meta.isTensor || meta.shape.length !== 4) fail(`${modelPath}: want one 4-D tensor input`);
const [, c, h, w] = meta.shape;
if (![c, h, w].every(Number.isInteger)) fail(`${modelPath}: input shape ${JSON.stringify(meta.shape)} not fixed`);

const buf = readFileSync(inputPath);
const want = 4 * n * c * h * w;
if (buf.length !== want) fail(`${inputPath}: ${buf.length} bytes, want ${want} for [${n},${c},${h},${w}]`);
const data = new Float32Array(n * c * h * w);
const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(4 * i, true);

const outs = await session.run({ [meta.name]: new ort.Tensor('float32', data, [n, c, h, w]) });
const result = {};
for (const name of session.outputNames) {
  const t = outs[name];
  const vals = Array.from(t.data, Number);
  if (t.dims.length === 1) {
    result[name] = vals;
  } else {
    const cols = t.dims.slice(1).reduce((a, b) => a * b, 1);
    result[name] = Array.from({ length: t.dims[0] }, (_, i) => vals.slice(i * cols, (i + 1) * cols));
  }
}

const tmp = `${outPath}.tmp`;
writeFileSync(tmp, JSON.stringify(result));
const fd = openSync(tmp, 'r+');
fsyncSync(fd);
closeSync(fd);
renameSync(tmp, outPath);
