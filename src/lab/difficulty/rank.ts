/**
 * Rank metrics of per-sample scores, in float64: how well a score finds the injected label flips
 * (AUROC, average precision) and how two scores agree on the order of samples (Spearman, Kendall
 * tau-b). Each matches its scikit-learn / scipy namesake, ties included (fixtures made by
 * scripts/fixtures/sklearn_fixtures.py). Undefined cases give NaN instead of throwing: a run
 * without flips, a constant score.
 */

/** Indices 0..n−1 sorted by values[i] ascending (stable: ties keep index order). */
function argsortAscending(values: ArrayLike<number>): Int32Array {
  const order = Int32Array.from({ length: values.length }, (_, i) => i);
  return order.sort((a, b) => values[a]! - values[b]! || a - b);
}

function checkFinite(what: string, values: ArrayLike<number>): void {
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new Error(`${what}: value ${i} is ${values[i]} (drop non-finite scores first)`);
  }
}

/** 1-based ranks, ties given the mean of the ranks they span (scipy.stats.rankdata 'average'). */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const order = argsortAscending(values);
  const ranks = new Float64Array(values.length);
  for (let start = 0; start < order.length; ) {
    let end = start + 1;
    while (end < order.length && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2; // mean of start+1 … end
    for (let j = start; j < end; j++) ranks[order[j]!] = rank;
    start = end;
  }
  return ranks;
}

/**
 * Area under the ROC curve of `scores` for the positives `labels` (higher score = more likely
 * positive), as sklearn's roc_auc_score: the Mann–Whitney U with ties counted one half,
 * U / (n_pos · n_neg). NaN when either class is empty.
 */
export function auroc(labels: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  checkLengths('auroc', labels, scores);
  checkFinite('auroc', scores);
  const ranks = averageRanks(scores);
  let nPos = 0;
  let rankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]) {
      nPos++;
      rankSum += ranks[i]!;
    }
  }
  const nNeg = labels.length - nPos;
  if (nPos === 0 || nNeg === 0) return NaN;
  return (rankSum - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

/**
 * Average precision, as sklearn's average_precision_score: Σ_t (R_t − R_{t−1}) · P_t over the
 * distinct score thresholds t from the highest down (tied scores enter together, no
 * interpolation). NaN without positives.
 */
export function averagePrecision(labels: ArrayLike<boolean>, scores: ArrayLike<number>): number {
  checkLengths('averagePrecision', labels, scores);
  checkFinite('averagePrecision', scores);
  let nPos = 0;
  for (let i = 0; i < labels.length; i++) if (labels[i]) nPos++;
  if (nPos === 0) return NaN;
  const order = argsortAscending(scores).reverse();
  let tp = 0;
  let seen = 0;
  let ap = 0;
  let lastRecall = 0;
  for (let start = 0; start < order.length; ) {
    let end = start;
    while (end < order.length && scores[order[end]!] === scores[order[start]!]) {
      if (labels[order[end]!]) tp++;
      end++;
    }
    seen = end;
    const recall = tp / nPos;
    ap += (recall - lastRecall) * (tp / seen);
    lastRecall = recall;
    start = end;
  }
  return ap;
}

function pearson(a: Float64Array, b: Float64Array): number {
  const n = a.length;
  let ma = 0;
  let mb = 0;
  for (let i = 0; i < n; i++) {
    ma += a[i]!;
    mb += b[i]!;
  }
  ma /= n;
  mb /= n;
  let sab = 0;
  let saa = 0;
  let sbb = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - ma;
    const db = b[i]! - mb;
    sab += da * db;
    saa += da * da;
    sbb += db * db;
  }
  return saa === 0 || sbb === 0 ? NaN : sab / Math.sqrt(saa * sbb);
}

/** Spearman's rank correlation (Pearson of the average ranks), as scipy.stats.spearmanr. NaN if either side is constant or n < 2. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths('spearman', a, b);
  checkFinite('spearman', a);
  checkFinite('spearman', b);
  if (a.length < 2) return NaN;
  return pearson(averageRanks(a), averageRanks(b));
}

/**
 * Kendall's tau-b, as scipy.stats.kendalltau (variant 'b'), in O(n log n) (Knight 1966): sort by
 * (a, b), count the pairs tied in a and in both, then count the discordant pairs as the swaps of a
 * merge sort by b. tau_b = (P − Q) / sqrt((n0 − n1)(n0 − n2)) with n0 = n(n−1)/2 pairs, n1 and n2
 * the pairs tied in a and in b. NaN if either side is constant or n < 2. Counts stay exact in
 * float64 up to n ≈ 10⁸.
 */
export function kendallTauB(a: ArrayLike<number>, b: ArrayLike<number>): number {
  checkLengths('kendallTauB', a, b);
  checkFinite('kendallTauB', a);
  checkFinite('kendallTauB', b);
  const n = a.length;
  if (n < 2) return NaN;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((i, j) => a[i]! - a[j]! || b[i]! - b[j]! || i - j);
  const tiedPairs = (count: number) => (count * (count - 1)) / 2;
  let n1 = 0; // pairs tied in a
  let n3 = 0; // pairs tied in a and b
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && a[order[end]!] === a[order[start]!]) end++;
    n1 += tiedPairs(end - start);
    for (let s = start; s < end; ) {
      let e = s + 1;
      while (e < end && b[order[e]!] === b[order[s]!]) e++;
      n3 += tiedPairs(e - s);
      s = e;
    }
    start = end;
  }
  // Merge sort of b in the (a, b) order; every inversion is a discordant pair.
  let bs = Float64Array.from(order, (i) => b[i]!);
  let buf = new Float64Array(n);
  let swaps = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let k = lo;
      while (i < mid && j < hi) {
        if (bs[j]! < bs[i]!) {
          swaps += mid - i;
          buf[k++] = bs[j++]!;
        } else buf[k++] = bs[i++]!;
      }
      while (i < mid) buf[k++] = bs[i++]!;
      while (j < hi) buf[k++] = bs[j++]!;
    }
    [bs, buf] = [buf, bs];
  }
  let n2 = 0; // pairs tied in b (bs is now sorted)
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && bs[end] === bs[start]) end++;
    n2 += tiedPairs(end - start);
    start = end;
  }
  const n0 = tiedPairs(n);
  const denominator = Math.sqrt((n0 - n1) * (n0 - n2));
  if (denominator === 0) return NaN;
  // Concordant − discordant = n0 − n1 − n2 + n3 − 2·swaps.
  return (n0 - n1 - n2 + n3 - 2 * swaps) / denominator;
}

function checkLengths(what: string, a: ArrayLike<unknown>, b: ArrayLike<unknown>): void {
  if (a.length !== b.length) throw new Error(`${what}: ${a.length} vs ${b.length} values`);
}
