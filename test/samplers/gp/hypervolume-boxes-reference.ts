/**
 * The box decomposition of hypervolume-boxes.ts as first written (commit c535b49): the HSO-style
 * sweep with every slab's sub-decomposition recomputed as arrays of numbers and matched between
 * slabs by string keys. Slow, but plainly the algorithm of that file's header; the differential
 * test holds the rank-space implementation to its output, box for box and in the same order.
 * Inputs are assumed valid (the module under test validates them).
 */
export function referenceNonDominatedBoxes(points: Float64Array, p: number, k: number, ref: Float64Array, maxBoxes: number): Float64Array | null {
  const front = paretoFront(points, p, k, ref);
  const boxes = decompose(front, front.map((_, i) => i), 0, ref, maxBoxes);
  if (boxes === null) return null;
  const out = new Float64Array(boxes.length * 2 * k);
  boxes.forEach((box, b) => out.set(box, b * 2 * k));
  return out;
}

function decompose(front: Float64Array[], active: number[], d: number, ref: Float64Array, maxBoxes: number): number[][] | null {
  const k = ref.length;
  if (d === k - 1) {
    let best = ref[d];
    for (const i of active) best = Math.max(best, front[i][d]);
    return [[best, Infinity]];
  }
  const closed: number[][] = [];
  let open = new Map<string, { sub: number[]; upper: number }>();
  const cut = (reached: number[], value: number): boolean => {
    const sub = decompose(front, reached, d + 1, ref, maxBoxes);
    if (sub === null) return false;
    const next = new Map<string, { sub: number[]; upper: number }>();
    for (const box of sub) {
      const key = box.join(',');
      next.set(key, open.get(key) ?? { sub: box, upper: value });
    }
    for (const [key, box] of open) if (!next.has(key)) closed.push(withSide(box.sub, value, box.upper));
    open = next;
    return closed.length + open.size <= maxBoxes;
  };

  if (!cut([], Infinity)) return null;
  const sorted = [...active].sort((a, b) => front[b][d] - front[a][d]);
  const reached: number[] = []; // points reaching the current slab, non-dominated in objectives d+1..
  for (let start = 0; start < sorted.length; ) {
    const value = front[sorted[start]][d];
    let added = false;
    for (; start < sorted.length && front[sorted[start]][d] === value; start++) {
      const i = sorted[start];
      if (!reached.some((j) => weaklyDominates(front[j], front[i], d + 1))) {
        reached.push(i);
        added = true;
      }
    }
    // Only a point that changes the projected front cuts a new slab.
    if (added && !cut(reached, value)) return null;
  }
  for (const box of open.values()) closed.push(withSide(box.sub, ref[d], box.upper));
  return closed;
}

/** [lower, ...sub lowers, upper, ...sub uppers] from a sub-box over the next objectives. */
function withSide(sub: number[], lower: number, upper: number): number[] {
  const m = sub.length / 2;
  return [lower, ...sub.slice(0, m), upper, ...sub.slice(m)];
}

/** The distinct non-dominated rows strictly above `ref` in every objective. */
function paretoFront(points: Float64Array, p: number, k: number, ref: Float64Array): Float64Array[] {
  const above: Float64Array[] = [];
  for (let i = 0; i < p; i++) {
    const row = points.subarray(i * k, (i + 1) * k);
    let ok = true;
    for (let j = 0; j < k && ok; j++) ok = row[j] > ref[j];
    if (ok) above.push(row);
  }
  // Keep row i unless another row weakly dominates it; of equal rows keep the first.
  return above.filter((row, i) =>
    above.every((other, j) => j === i || !weaklyDominates(other, row, 0) || (j > i && equalRows(other, row))),
  );
}

/** Whether a >= b in every objective from `from` on. */
function weaklyDominates(a: Float64Array, b: Float64Array, from: number): boolean {
  for (let j = from; j < a.length; j++) if (a[j] < b[j]) return false;
  return true;
}

function equalRows(a: Float64Array, b: Float64Array): boolean {
  for (let j = 0; j < a.length; j++) if (a[j] !== b[j]) return false;
  return true;
}
