/**
 * Multinomial logistic regression (softmax regression) with an L2 penalty, fitted full-batch by
 * L-BFGS in float64 plain JavaScript: no randomness, a fixed order of every sum, so the same data
 * give the same weights bit for bit on every machine. Used for linear probes on embeddings
 * (score-difficulty's transfer teacher, evaluate-ood's probes).
 *
 * Objective (the one scikit-learn's LogisticRegression minimises for the multinomial loss with
 * C = 1/l2, intercept unpenalised):
 *
 *     f(W, b) = Σ_i [ logsumexp(z_i) − z_i[y_i] ] + (l2 / 2)·‖W‖²,   z_i = W·x_i + b
 *
 * It is strictly convex in W for l2 > 0, so the fit does not depend on where L-BFGS starts (zero);
 * b is defined up to a constant shared by all classes, which the probabilities do not see.
 * The optimiser works on f/n so that its tolerance does not depend on the number of samples.
 */

export interface SoftmaxRegressionOptions {
  /** L2 penalty on W (sklearn's 1/C); > 0. Default 1 (sklearn's default C = 1). */
  l2?: number;
  /** L-BFGS iterations at most. Default 1000. */
  maxIter?: number;
  /** Stop when max |∂(f/n)/∂θ| falls below this. Default 1e-7. */
  tol?: number;
  /** L-BFGS memory (pairs kept). Default 10. */
  memory?: number;
}

export interface SoftmaxRegression {
  /** Weights [k × d], row-major: W[c·d + j]. */
  W: Float64Array;
  /** Intercepts [k]. */
  b: Float64Array;
  d: number;
  k: number;
  /** L-BFGS iterations run, and whether it stopped before maxIter (gradient below tol, or no further decrease in float64). */
  iterations: number;
  converged: boolean;
  /** f/n at the solution. */
  objective: number;
  /** Logits [n × k] row-major of the rows of x [n × d]. */
  predictLogits(x: ArrayLike<number>, n: number): Float64Array;
}

/** Softmax of each row of logits [n × k] (max-subtracted), as a new array [n × k]. */
export function softmaxRows(logits: ArrayLike<number>, n: number, k: number): Float64Array {
  const p = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, logits[i * k + c]!);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += p[i * k + c] = Math.exp(logits[i * k + c]! - max);
    for (let c = 0; c < k; c++) p[i * k + c]! /= sum;
  }
  return p;
}

function linearLogits(W: Float64Array, b: Float64Array, d: number, k: number, x: ArrayLike<number>, n: number): Float64Array {
  if (x.length !== n * d) throw new Error(`softmax regression: ${x.length} values for ${n} rows × ${d} features`);
  const z = new Float64Array(n * k);
  for (let i = 0; i < n; i++) {
    const xo = i * d;
    for (let c = 0; c < k; c++) {
      const wo = c * d;
      let s = b[c]!;
      for (let j = 0; j < d; j++) s += W[wo + j]! * x[xo + j]!;
      z[i * k + c] = s;
    }
  }
  return z;
}

/**
 * Fits softmax regression on x [n × d] (row-major) with integer labels in [0, k).
 * Throws on a label out of range, non-finite features or a non-positive l2.
 */
export function fitSoftmaxRegression(
  x: Float32Array | Float64Array,
  n: number,
  d: number,
  labels: Int32Array,
  k: number,
  options: SoftmaxRegressionOptions = {},
): SoftmaxRegression {
  const l2 = options.l2 ?? 1;
  const maxIter = options.maxIter ?? 1000;
  const tol = options.tol ?? 1e-7;
  const memory = options.memory ?? 10;
  if (!(l2 > 0)) throw new Error(`softmax regression: l2 must be > 0, got ${l2}`);
  if (!Number.isInteger(n) || n < 1 || !Number.isInteger(d) || d < 1 || !Number.isInteger(k) || k < 2) {
    throw new Error(`softmax regression: need n ≥ 1, d ≥ 1, k ≥ 2; got n=${n}, d=${d}, k=${k}`);
  }
  if (x.length !== n * d) throw new Error(`softmax regression: ${x.length} values for ${n} rows × ${d} features`);
  if (labels.length !== n) throw new Error(`softmax regression: ${labels.length} labels for ${n} rows`);
  for (let i = 0; i < n; i++) {
    if (!(labels[i]! >= 0 && labels[i]! < k)) throw new Error(`softmax regression: label ${labels[i]} of row ${i} is not in [0, ${k})`);
  }
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i]!)) throw new Error(`softmax regression: feature ${i % d} of row ${Math.floor(i / d)} is ${x[i]}`);

  const nw = k * d;
  const size = nw + k; // θ = [W (k×d), b (k)]
  const z = new Float64Array(k);

  /** f(θ)/n and its gradient (written into g). */
  const evaluate = (theta: Float64Array, g: Float64Array): number => {
    g.fill(0);
    let f = 0;
    for (let i = 0; i < n; i++) {
      const xo = i * d;
      let max = -Infinity;
      for (let c = 0; c < k; c++) {
        const wo = c * d;
        let s = theta[nw + c]!;
        for (let j = 0; j < d; j++) s += theta[wo + j]! * x[xo + j]!;
        z[c] = s;
        if (s > max) max = s;
      }
      let sum = 0;
      for (let c = 0; c < k; c++) sum += z[c] = Math.exp(z[c]! - max); // z now holds exp(z − max)
      const y = labels[i]!;
      f += Math.log(sum) - Math.log(z[y]!);
      for (let c = 0; c < k; c++) {
        const r = z[c]! / sum - (c === y ? 1 : 0); // p_c − [c = y]
        if (r === 0) continue;
        const wo = c * d;
        for (let j = 0; j < d; j++) g[wo + j]! += r * x[xo + j]!;
        g[nw + c]! += r;
      }
    }
    let penalty = 0;
    for (let j = 0; j < nw; j++) {
      penalty += theta[j]! * theta[j]!;
      g[j]! += l2 * theta[j]!;
    }
    for (let j = 0; j < size; j++) g[j]! /= n;
    return (f + 0.5 * l2 * penalty) / n;
  };

  const theta = new Float64Array(size);
  const grad = new Float64Array(size);
  let f = evaluate(theta, grad);
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const dir = new Float64Array(size);
  const next = new Float64Array(size);
  const nextGrad = new Float64Array(size);
  const alpha = new Float64Array(memory);
  let iterations = 0;
  let converged = maxAbs(grad) < tol;

  while (!converged && iterations < maxIter) {
    // Two-loop recursion: dir = −H·grad.
    for (let j = 0; j < size; j++) dir[j] = -grad[j]!;
    for (let m = S.length - 1; m >= 0; m--) {
      alpha[m] = rho[m]! * dot(S[m]!, dir);
      axpy(-alpha[m]!, Y[m]!, dir);
    }
    if (S.length > 0) {
      const last = S.length - 1;
      const gamma = dot(S[last]!, Y[last]!) / dot(Y[last]!, Y[last]!);
      for (let j = 0; j < size; j++) dir[j]! *= gamma;
    } else {
      const scale = 1 / Math.max(1, Math.sqrt(dot(grad, grad)));
      for (let j = 0; j < size; j++) dir[j]! *= scale;
    }
    for (let m = 0; m < S.length; m++) {
      const beta = rho[m]! * dot(Y[m]!, dir);
      axpy(alpha[m]! - beta, S[m]!, dir);
    }
    let slope = dot(grad, dir);
    if (!(slope < 0)) {
      // Not a descent direction (numerical trouble): restart from steepest descent.
      S.length = Y.length = rho.length = 0;
      for (let j = 0; j < size; j++) dir[j] = -grad[j]!;
      slope = dot(grad, dir);
    }

    // Backtracking line search (Armijo, c1 = 1e-4) from the full quasi-Newton step.
    let step = 1;
    let fNext = Infinity;
    for (let tries = 0; tries < 60; tries++) {
      for (let j = 0; j < size; j++) next[j] = theta[j]! + step * dir[j]!;
      fNext = evaluate(next, nextGrad);
      if (fNext <= f + 1e-4 * step * slope) break;
      step *= 0.5;
    }
    if (!(fNext <= f)) break; // no decrease possible in float64: at the optimum to machine precision

    const s = new Float64Array(size);
    const y = new Float64Array(size);
    for (let j = 0; j < size; j++) {
      s[j] = next[j]! - theta[j]!;
      y[j] = nextGrad[j]! - grad[j]!;
    }
    const sy = dot(s, y);
    if (sy > 1e-12 * Math.sqrt(dot(s, s) * dot(y, y))) {
      if (S.length === memory) {
        S.shift();
        Y.shift();
        rho.shift();
      }
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
    }
    theta.set(next);
    grad.set(nextGrad);
    const decrease = f - fNext;
    f = fNext;
    iterations++;
    converged = maxAbs(grad) < tol || decrease <= 1e-16 * Math.max(1, Math.abs(f));
  }

  const W = theta.slice(0, nw);
  const b = theta.slice(nw);
  return {
    W,
    b,
    d,
    k,
    iterations,
    converged,
    objective: f,
    predictLogits: (xs, rows) => linearLogits(W, b, d, k, xs, rows),
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += a[j]! * b[j]!;
  return s;
}

function axpy(a: number, x: Float64Array, y: Float64Array): void {
  for (let j = 0; j < y.length; j++) y[j]! += a * x[j]!;
}

function maxAbs(a: Float64Array): number {
  let m = 0;
  for (let j = 0; j < a.length; j++) m = Math.max(m, Math.abs(a[j]!));
  return m;
}
