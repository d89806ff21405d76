// Throughput of an exported gaitord ONNX model (fp32 or int8) under ONNX
// Runtime (CPU): one warm-up run, then REPEATS timed runs of one batch of N
// random GEIs (uniform in [0, 1], rounded to 1/255 like 8-bit images). It
// prints one JSON line: the model, batch, threads, ONNX Runtime's version
// and GEIs/s per repeat. Benchmark harness only; compare its figures with
// gaitord's (bench/gobench) run on the same machine.
//
// Usage: node tools/ort/bench.mjs MODEL.onnx N REPEATS [THREADS]
// THREADS is ONNX Runtime's intra-op thread count (default 2); inter-op is 1.
import ort from 'onnxruntime-node';

function fail(msg) {
  process.stderr.write(`bench.mjs: ${msg}\n`);
  process.exit(1);
}

const [modelPath, nArg, repArg, threadArg = '2'] = process.argv.slice(2);
if (!repArg) fail('usage: node bench.mjs MODEL.onnx N REPEATS [THREADS]');
const [n, repeats, threads] = [nArg, repArg, threadArg].map((s) => Number.parseInt(s, 10));
if (!(n > 0)) fail(`bad N ${JSON.stringify(nArg)}`);
if (!(repeats > 0)) fail(`bad REPEATS ${JSON.stringify(repArg)}`);
if (!(threads > 0)) fail(`bad THREADS ${JSON.stringify(threadArg)}`);

const session = await ort.InferenceSession.create(modelPath, {
  executionProviders: ['cpu'],
  graphOptimizationLevel: 'all',
  executionMode: 'sequential',
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
});
const meta = session.inputMetadata[0];
if (!meta || !meta.isTensor || meta.shape.length !== 4) fail(`${modelPath}: want one 4-D tensor input`);
const [, c, h, w] = meta.shape;
if (![c, h, w].every(Number.isInteger)) fail(`${modelPath}: input shape ${JSON.stringify(meta.shape)} not fixed`);

const data = new Float32Array(n * c * h * w);
for (let i = 0; i < data.length; i++) data[i] = Math.floor(Math.random() * 256) / 255;
const feeds = { [meta.name]: new ort.Tensor('float32', data, [n, c, h, w]) };

await session.run(feeds); // warm-up: allocations, prepacking
const rates = [];
for (let r = 0; r < repeats; r++) {
  const t0 = process.hrtime.bigint();
  await session.run(feeds);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  rates.push(Number((n / s).toFixed(2)));
}
process.stdout.write(
  JSON.stringify({ model: modelPath, batch: n, threads, ort: ort.env.versions?.common ?? null, geis_per_s: rates }) + '\n',
);
