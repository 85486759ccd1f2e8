// conno's own wasm SIMD128 kernels, compiled twice (npm run build:kernels) and run on the
// TensorFlow.js wasm backend's heap: the module imports the backend's memory, so pointers are the
// byte offsets of tensors there. Each kernel gives bit for bit what the JS version in ../ gives
// (same comparisons, same order), only faster; but for one choice, made when the module is built:
//   simd_kernels_mul_add.wasm (CONNO_FMA 0): every product term of the three GEMM-like kernels
//     (matmul_in_order, conv_filter_grad, conv_in_order) is a multiply, then an add: the bits of
//     XNNPACK's kernels and of the JS path;
//   simd_kernels.wasm (CONNO_FMA 1): each such term is one relaxed-SIMD multiply-add, which V8
//     fuses (one rounding) where the CPU has fused multiply-adds (x86 with FMA3, every ARM64) and
//     does as a multiply then an add elsewhere. conno runs this build only where a probe finds it
//     fused (../simd.ts), so every machine that runs it gives the same bits, and the fingerprint
//     of a stage that trains says which of the two builds computed it (wasm-fma).
// The order of the terms is the same in both.
#include <wasm_simd128.h>
#ifndef CONNO_FMA
#error "build with -DCONNO_FMA=0 or -DCONNO_FMA=1 (scripts/build-kernels.sh)"
#endif
#if CONNO_FMA
// c + s · b, one multiply-add (relaxed SIMD: fused where the machine has it; see above).
#define MADD(c, s, b) __builtin_wasm_relaxed_madd_f32x4(s, b, c)
#else
// c + s · b, a multiply then an add.
#define MADD(c, s, b) wasm_f32x4_add(c, wasm_f32x4_mul(s, b))
#endif

// MaxPoolGrad for 2×2 windows, stride 2, on an even-sized NHWC input (see maxPoolGrad2x2 in
// ../max_pool_grad.ts): each window's first maximum in row-major order (strict >) gets dy, the
// other three get +0.
__attribute__((export_name("max_pool_grad_2x2")))
void max_pool_grad_2x2(const float *x, const float *dy, float *dx, int N, int OH, int OW, int C) {
  const int row = 2 * OW * C;
  for (int n = 0; n < N; n++) {
    for (int oh = 0; oh < OH; oh++) {
      const int rowBase = (n * 2 * OH + 2 * oh) * row;
      const float *g0 = dy + (n * OH + oh) * OW * C;
      for (int ow = 0; ow < OW; ow++) {
        const int a = rowBase + 2 * ow * C, b = a + C, c0 = a + row, d = c0 + C;
        const float *g = g0 + ow * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
          const v128_t va = wasm_v128_load(x + a + c), vb = wasm_v128_load(x + b + c);
          const v128_t vc = wasm_v128_load(x + c0 + c), vd = wasm_v128_load(x + d + c);
          const v128_t grad = wasm_v128_load(g + c);
          const v128_t m1 = wasm_f32x4_gt(vb, va);
          v128_t best = wasm_v128_bitselect(vb, va, m1);
          const v128_t m2 = wasm_f32x4_gt(vc, best);
          best = wasm_v128_bitselect(vc, best, m2);
          const v128_t m3 = wasm_f32x4_gt(vd, best);
          // The winner is the last window element whose comparison succeeded.
          const v128_t kd = m3;
          const v128_t kc = wasm_v128_andnot(m2, m3);
          const v128_t kb = wasm_v128_andnot(wasm_v128_andnot(m1, m2), m3);
          const v128_t ka = wasm_v128_not(wasm_v128_or(wasm_v128_or(m1, m2), m3));
          wasm_v128_store(dx + a + c, wasm_v128_and(grad, ka));
          wasm_v128_store(dx + b + c, wasm_v128_and(grad, kb));
          wasm_v128_store(dx + c0 + c, wasm_v128_and(grad, kc));
          wasm_v128_store(dx + d + c, wasm_v128_and(grad, kd));
        }
        for (; c < C; c++) {
          const float va = x[a + c], vb = x[b + c], vc = x[c0 + c], vd = x[d + c];
          float best = va;
          int k = 0;
          if (vb > best) { best = vb; k = 1; }
          if (vc > best) { best = vc; k = 2; }
          if (vd > best) k = 3;
          const float grad = g[c];
          dx[a + c] = k == 0 ? grad : 0.0f;
          dx[b + c] = k == 1 ? grad : 0.0f;
          dx[c0 + c] = k == 2 ? grad : 0.0f;
          dx[d + c] = k == 3 ? grad : 0.0f;
        }
      }
    }
  }
}

// Training-mode batchnorm sweeps over x [M, C] (channels innermost), as the JS sweeps in
// ../batchnorm.ts compute them: in float64, each channel's sums taken row by row in order, so the
// bits are the same. The rows go by tiles of about 16 KiB (in L1 after the first block reads them),
// and within a tile by blocks of four channels: one f32x4 load gives a block's row, two f64x2
// lanes each half, and the block's sums and parameters stay in locals (registers) through the
// tile's rows. (Two channels a step with the sums in memory, loaded and stored each row, took ~3x
// as long: ~1.5 ms of a TC-ResNet8 training step.) Tails of two channels, then one, do the same.
// No kernel uses a stack: the per-channel sums live in the caller's float64 arrays (on the heap).
#define F64X2_OF_F32(p) wasm_f64x2_promote_low_f32x4(wasm_v128_load64_zero(p))
#define F64X2_LO(v) wasm_f64x2_promote_low_f32x4(v)
#define F64X2_HI(v) wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle((v), (v), 2, 3, 0, 1))
// Two f64x2 made float32, as one f32x4 (lanes lo0, lo1, hi0, hi1).
#define F32X4_OF_F64X2(lo, hi) wasm_i32x4_shuffle(wasm_f32x4_demote_f64x2_zero(lo), wasm_f32x4_demote_f64x2_zero(hi), 0, 1, 4, 5)
#define BN_TILE_BYTES 16384

static inline int bn_tile_rows(int C) {
  const int rows = BN_TILE_BYTES / (4 * C);
  return rows > 0 ? rows : 1;
}

// out[c] = K_c = x[c] (the first row), out[C+c] = Σ(x − K), out[2C+c] = Σ(x − K)²
__attribute__((export_name("bn_stats")))
void bn_stats(const float *x, int M, int C, double *out) {
  double *k = out, *s = out + C, *q = out + 2 * C;
  for (int c = 0; c < C; c++) { k[c] = x[c]; s[c] = 0; q[c] = 0; }
  const int T = bn_tile_rows(C);
  for (int i0 = 0; i0 < M; i0 += T) {
    const int i1 = i0 + T < M ? i0 + T : M;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t k0 = wasm_v128_load(k + c), k1 = wasm_v128_load(k + c + 2);
      v128_t s0 = wasm_v128_load(s + c), s1 = wasm_v128_load(s + c + 2);
      v128_t q0 = wasm_v128_load(q + c), q1 = wasm_v128_load(q + c + 2);
      for (int i = i0; i < i1; i++) {
        const v128_t v = wasm_v128_load(x + i * C + c);
        const v128_t d0 = wasm_f64x2_sub(F64X2_LO(v), k0), d1 = wasm_f64x2_sub(F64X2_HI(v), k1);
        s0 = wasm_f64x2_add(s0, d0);
        q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(d0, d0));
        s1 = wasm_f64x2_add(s1, d1);
        q1 = wasm_f64x2_add(q1, wasm_f64x2_mul(d1, d1));
      }
      wasm_v128_store(s + c, s0); wasm_v128_store(s + c + 2, s1);
      wasm_v128_store(q + c, q0); wasm_v128_store(q + c + 2, q1);
    }
    for (; c + 2 <= C; c += 2) {
      const v128_t k0 = wasm_v128_load(k + c);
      v128_t s0 = wasm_v128_load(s + c), q0 = wasm_v128_load(q + c);
      for (int i = i0; i < i1; i++) {
        const v128_t d0 = wasm_f64x2_sub(F64X2_OF_F32(x + i * C + c), k0);
        s0 = wasm_f64x2_add(s0, d0);
        q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(d0, d0));
      }
      wasm_v128_store(s + c, s0); wasm_v128_store(q + c, q0);
    }
    for (; c < C; c++) {
      const double kc = k[c];
      double sc = s[c], qc = q[c];
      for (int i = i0; i < i1; i++) { const double d = (double)x[i * C + c] - kc; sc += d; qc += d * d; }
      s[c] = sc; q[c] = qc;
    }
  }
}

// y = (x − p[2C+c])·p[c] + p[C+c]
__attribute__((export_name("bn_affine")))
void bn_affine(const float *x, float *y, int M, int C, const double *p) {
  const double *a = p, *b = p + C, *m = p + 2 * C;
  const int T = bn_tile_rows(C);
  for (int i0 = 0; i0 < M; i0 += T) {
    const int i1 = i0 + T < M ? i0 + T : M;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t a0 = wasm_v128_load(a + c), a1 = wasm_v128_load(a + c + 2);
      const v128_t b0 = wasm_v128_load(b + c), b1 = wasm_v128_load(b + c + 2);
      const v128_t m0 = wasm_v128_load(m + c), m1 = wasm_v128_load(m + c + 2);
      for (int i = i0; i < i1; i++) {
        const v128_t v = wasm_v128_load(x + i * C + c);
        const v128_t lo = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_sub(F64X2_LO(v), m0), a0), b0);
        const v128_t hi = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_sub(F64X2_HI(v), m1), a1), b1);
        wasm_v128_store(y + i * C + c, F32X4_OF_F64X2(lo, hi));
      }
    }
    for (; c + 2 <= C; c += 2) {
      const v128_t a0 = wasm_v128_load(a + c), b0 = wasm_v128_load(b + c), m0 = wasm_v128_load(m + c);
      for (int i = i0; i < i1; i++) {
        const v128_t v = wasm_f64x2_add(wasm_f64x2_mul(wasm_f64x2_sub(F64X2_OF_F32(x + i * C + c), m0), a0), b0);
        wasm_v128_store64_lane(y + i * C + c, wasm_f32x4_demote_f64x2_zero(v), 0);
      }
    }
    for (; c < C; c++) {
      const double ac = a[c], bc = b[c], mc = m[c];
      for (int i = i0; i < i1; i++) y[i * C + c] = (float)(((double)x[i * C + c] - mc) * ac + bc);
    }
  }
}

// out[c] = Σ dy, out[C+c] = Σ dy·(x − μ_c)
__attribute__((export_name("bn_grad_sums")))
void bn_grad_sums(const float *dy, const float *x, int M, int C, const double *mu, double *out) {
  double *s = out, *q = out + C;
  for (int c = 0; c < C; c++) { s[c] = 0; q[c] = 0; }
  const int T = bn_tile_rows(2 * C); // two tensors a row
  for (int i0 = 0; i0 < M; i0 += T) {
    const int i1 = i0 + T < M ? i0 + T : M;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t m0 = wasm_v128_load(mu + c), m1 = wasm_v128_load(mu + c + 2);
      v128_t s0 = wasm_v128_load(s + c), s1 = wasm_v128_load(s + c + 2);
      v128_t q0 = wasm_v128_load(q + c), q1 = wasm_v128_load(q + c + 2);
      for (int i = i0; i < i1; i++) {
        const v128_t gv = wasm_v128_load(dy + i * C + c), xv = wasm_v128_load(x + i * C + c);
        const v128_t g0 = F64X2_LO(gv), g1 = F64X2_HI(gv);
        s0 = wasm_f64x2_add(s0, g0);
        q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(g0, wasm_f64x2_sub(F64X2_LO(xv), m0)));
        s1 = wasm_f64x2_add(s1, g1);
        q1 = wasm_f64x2_add(q1, wasm_f64x2_mul(g1, wasm_f64x2_sub(F64X2_HI(xv), m1)));
      }
      wasm_v128_store(s + c, s0); wasm_v128_store(s + c + 2, s1);
      wasm_v128_store(q + c, q0); wasm_v128_store(q + c + 2, q1);
    }
    for (; c + 2 <= C; c += 2) {
      const v128_t m0 = wasm_v128_load(mu + c);
      v128_t s0 = wasm_v128_load(s + c), q0 = wasm_v128_load(q + c);
      for (int i = i0; i < i1; i++) {
        const v128_t g0 = F64X2_OF_F32(dy + i * C + c);
        s0 = wasm_f64x2_add(s0, g0);
        q0 = wasm_f64x2_add(q0, wasm_f64x2_mul(g0, wasm_f64x2_sub(F64X2_OF_F32(x + i * C + c), m0)));
      }
      wasm_v128_store(s + c, s0); wasm_v128_store(q + c, q0);
    }
    for (; c < C; c++) {
      const double mc = mu[c];
      double sc = s[c], qc = q[c];
      for (int i = i0; i < i1; i++) { const double gv = dy[i * C + c]; sc += gv; qc += gv * ((double)x[i * C + c] - mc); }
      s[c] = sc; q[c] = qc;
    }
  }
}

// dx = p[c]·dy + p[C+c]·(x − μ_c) + p[2C+c]
__attribute__((export_name("bn_grad_dx")))
void bn_grad_dx(const float *dy, const float *x, float *dx, int M, int C, const double *p, const double *mu) {
  const double *a = p, *b = p + C, *e = p + 2 * C;
  const int T = bn_tile_rows(2 * C);
  for (int i0 = 0; i0 < M; i0 += T) {
    const int i1 = i0 + T < M ? i0 + T : M;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t a0 = wasm_v128_load(a + c), a1 = wasm_v128_load(a + c + 2);
      const v128_t b0 = wasm_v128_load(b + c), b1 = wasm_v128_load(b + c + 2);
      const v128_t e0 = wasm_v128_load(e + c), e1 = wasm_v128_load(e + c + 2);
      const v128_t m0 = wasm_v128_load(mu + c), m1 = wasm_v128_load(mu + c + 2);
      for (int i = i0; i < i1; i++) {
        const v128_t gv = wasm_v128_load(dy + i * C + c), xv = wasm_v128_load(x + i * C + c);
        const v128_t lo = wasm_f64x2_add(wasm_f64x2_add(wasm_f64x2_mul(a0, F64X2_LO(gv)), wasm_f64x2_mul(b0, wasm_f64x2_sub(F64X2_LO(xv), m0))), e0);
        const v128_t hi = wasm_f64x2_add(wasm_f64x2_add(wasm_f64x2_mul(a1, F64X2_HI(gv)), wasm_f64x2_mul(b1, wasm_f64x2_sub(F64X2_HI(xv), m1))), e1);
        wasm_v128_store(dx + i * C + c, F32X4_OF_F64X2(lo, hi));
      }
    }
    for (; c + 2 <= C; c += 2) {
      const v128_t a0 = wasm_v128_load(a + c), b0 = wasm_v128_load(b + c), e0 = wasm_v128_load(e + c), m0 = wasm_v128_load(mu + c);
      for (int i = i0; i < i1; i++) {
        const v128_t t1 = wasm_f64x2_mul(a0, F64X2_OF_F32(dy + i * C + c));
        const v128_t t2 = wasm_f64x2_mul(b0, wasm_f64x2_sub(F64X2_OF_F32(x + i * C + c), m0));
        wasm_v128_store64_lane(dx + i * C + c, wasm_f32x4_demote_f64x2_zero(wasm_f64x2_add(wasm_f64x2_add(t1, t2), e0)), 0);
      }
    }
    for (; c < C; c++) {
      const double ac = a[c], bc = b[c], ec = e[c], mc = mu[c];
      for (int i = i0; i < i1; i++) dx[i * C + c] = (float)(ac * (double)dy[i * C + c] + bc * ((double)x[i * C + c] - mc) + ec);
    }
  }
}

// out[c] = Σ_i x[i·C + c] in float64, rows in order (Sum/Mean over the leading axes, see
// ../reduce_leading.ts): the sums the JS sweep takes, so the same bits.
__attribute__((export_name("sum_rows")))
void sum_rows(const float *x, int M, int C, double *out) {
  for (int c = 0; c < C; c++) out[c] = 0;
  for (int i = 0; i < M; i++) {
    const float *r = x + i * C;
    int c = 0;
    for (; c + 4 <= C; c += 4) {
      const v128_t v = wasm_v128_load(r + c);
      wasm_v128_store(out + c, wasm_f64x2_add(wasm_v128_load(out + c), wasm_f64x2_promote_low_f32x4(v)));
      wasm_v128_store(out + c + 2, wasm_f64x2_add(wasm_v128_load(out + c + 2), wasm_f64x2_promote_low_f32x4(wasm_i32x4_shuffle(v, v, 2, 3, 0, 1))));
    }
    for (; c < C; c++) out[c] += r[c];
  }
}

// MaxPoolGrad for windows that do not overlap (stride = window), any padding, NHWC (the general
// path of ../max_pool_grad.ts when its windows tile): dx = 0, then each window, clipped to the
// input, gives 0 + dy to its first maximum in row-major order (strict >, from −∞: a window of
// NaN gives nothing), as the JS path's `dx[at] += dy` over a zeroed dx does.
__attribute__((export_name("max_pool_grad_tiled")))
void max_pool_grad_tiled(const float *x, const float *dy, float *dx, int N, int H, int W, int C, int OH, int OW, int kh, int kw, int top, int left) {
  const int total = N * H * W * C;
  for (int i = 0; i < total; i++) dx[i] = 0.0f;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  for (int n = 0; n < N; n++) {
    const float *xb = x + n * H * W * C;
    float *db = dx + n * H * W * C;
    for (int oh = 0; oh < OH; oh++) {
      int h0 = oh * kh - top, h1 = h0 + kh;
      if (h0 < 0) h0 = 0;
      if (h1 > H) h1 = H;
      for (int ow = 0; ow < OW; ow++) {
        int w0 = ow * kw - left, w1 = w0 + kw;
        if (w0 < 0) w0 = 0;
        if (w1 > W) w1 = W;
        const float *g = dy + ((n * OH + oh) * OW + ow) * C;
        int c = 0;
        for (; c + 4 <= C; c += 4) {
          v128_t best = wasm_f32x4_splat(-__builtin_inff());
          v128_t at = wasm_i32x4_splat(-1);
          for (int h = h0; h < h1; h++) {
            for (int w = w0; w < w1; w++) {
              const int p = (h * W + w) * C;
              const v128_t v = wasm_v128_load(xb + p + c);
              const v128_t m = wasm_f32x4_gt(v, best);
              best = wasm_v128_bitselect(v, best, m);
              at = wasm_v128_bitselect(wasm_i32x4_splat(p), at, m);
            }
          }
          const v128_t grad = wasm_f32x4_add(zero, wasm_v128_load(g + c));
          for (int h = h0; h < h1; h++) {
            for (int w = w0; w < w1; w++) {
              const int p = (h * W + w) * C;
              wasm_v128_store(db + p + c, wasm_v128_and(grad, wasm_i32x4_eq(at, wasm_i32x4_splat(p))));
            }
          }
        }
        for (; c < C; c++) {
          float best = -__builtin_inff();
          int at = -1;
          for (int h = h0; h < h1; h++) {
            for (int w = w0; w < w1; w++) {
              const int p = (h * W + w) * C + c;
              if (xb[p] > best) { best = xb[p]; at = p; }
            }
          }
          if (at >= 0) db[at] = 0.0f + g[c];
        }
      }
    }
  }
}

// One Adam step for one variable, the float32 operations of TensorFlow.js's AdamOptimizer in
// its order (see ../../adam.ts), each rounded to float32 as its kernel rounds it:
//   m' = m·b1 + g·(1−b1)          v' = v·b2 + g²·(1−b2)
//   w' = ((m'/c1) / (√(v'/c2) + eps))·(−lr) + w        (c1 = 1 − b1^t, c2 = 1 − b2^t)
// Outputs go to their own buffers (the variables are then assigned them).
__attribute__((export_name("adam_update")))
void adam_update(const float *w, const float *g, const float *m, const float *v, float *wOut, float *mOut, float *vOut, int n,
                 float b1, float omb1, float b2, float omb2, float c1, float c2, float eps, float negLr) {
  const v128_t B1 = wasm_f32x4_splat(b1), OMB1 = wasm_f32x4_splat(omb1), B2 = wasm_f32x4_splat(b2), OMB2 = wasm_f32x4_splat(omb2);
  const v128_t C1 = wasm_f32x4_splat(c1), C2 = wasm_f32x4_splat(c2), EPS = wasm_f32x4_splat(eps), NLR = wasm_f32x4_splat(negLr);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t gi = wasm_v128_load(g + i);
    const v128_t mi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(m + i), B1), wasm_f32x4_mul(gi, OMB1));
    const v128_t vi = wasm_f32x4_add(wasm_f32x4_mul(wasm_v128_load(v + i), B2), wasm_f32x4_mul(wasm_f32x4_mul(gi, gi), OMB2));
    const v128_t mh = wasm_f32x4_div(mi, C1);
    const v128_t vh = wasm_f32x4_div(vi, C2);
    const v128_t step = wasm_f32x4_mul(wasm_f32x4_div(mh, wasm_f32x4_add(wasm_f32x4_sqrt(vh), EPS)), NLR);
    wasm_v128_store(wOut + i, wasm_f32x4_add(step, wasm_v128_load(w + i)));
    wasm_v128_store(mOut + i, mi);
    wasm_v128_store(vOut + i, vi);
  }
  for (; i < n; i++) {
    const float gi = g[i];
    const float mi = m[i] * b1 + gi * omb1;
    const float vi = v[i] * b2 + (gi * gi) * omb2;
    const float step = ((mi / c1) / (__builtin_sqrtf(vi / c2) + eps)) * negLr;
    wOut[i] = step + w[i];
    mOut[i] = mi;
    vOut[i] = vi;
  }
}

// The output columns ow whose input column ow·sw + kx − left lies inside a row of W: [lo, hi)
// (empty when lo >= hi). Shared by im2col_t and conv_filter_grad, which must pad alike.
static inline int cols_lo(int kx, int sw, int left) {
  const int a = left - kx;
  return a > 0 ? (a + sw - 1) / sw : 0;
}
static inline int cols_hi(int kx, int sw, int left, int W, int OW) {
  const int b = W - 1 + left - kx;
  const int hi = b < 0 ? 0 : b / sw + 1;
  return hi < OW ? hi : OW;
}

// im2col in transposed layout, as im2colTransposed in ../im2col.ts (the same copies, so the same
// bits): colT[(ky·kw + kx)·Ci + ci, (n·OH + oh)·OW + ow] = xP[ci, n, oh·sh + ky − top, ow·sw + kx − left],
// 0 outside the input; xP is x transposed to [Ci, N, H, W]. Any stride (wavecnn's first layer
// reads every 4th sample, which the JS loop did one element at a time).
__attribute__((export_name("im2col_t")))
void im2col_t(const float *xP, float *colT, int N, int H, int W, int Ci, int OH, int OW, int kh, int kw, int sh, int sw, int top, int left) {
  const int M = N * OH * OW;
  for (int ky = 0; ky < kh; ky++) {
    for (int kx = 0; kx < kw; kx++) {
      const int owLo = cols_lo(kx, sw, left), owHi = cols_hi(kx, sw, left, W, OW);
      for (int ci = 0; ci < Ci; ci++) {
        float *plane = colT + ((ky * kw + kx) * Ci + ci) * M;
        for (int n = 0; n < N; n++) {
          for (int oh = 0; oh < OH; oh++) {
            float *dst = plane + (n * OH + oh) * OW;
            const int ih = oh * sh + ky - top;
            if (ih < 0 || ih >= H || owLo >= owHi) {
              for (int ow = 0; ow < OW; ow++) dst[ow] = 0.0f;
              continue;
            }
            for (int ow = 0; ow < owLo; ow++) dst[ow] = 0.0f;
            const float *src = xP + ((ci * N + n) * H + ih) * W + (owLo * sw + kx - left);
            if (sw == 1) {
              for (int ow = owLo; ow < owHi; ow++) dst[ow] = src[ow - owLo];
            } else {
              for (int ow = owLo; ow < owHi; ow++, src += sw) dst[ow] = *src;
            }
            for (int ow = owHi; ow < OW; ow++) dst[ow] = 0.0f;
          }
        }
      }
    }
  }
}

// C [K, N] = A [K, M] · B [M, N], all row-major, N a multiple of 4 (the filter gradient's GEMM,
// dW = colT · dy, see ../conv2d_backprop_filter.ts). Each C element is the sum over m in order,
// from +0, of the products (MADD: see the top of this file), in 4×8 register tiles. XNNPACK's
// GEMM kernels sum in that order too, so the mul-add build gives the bits of the backend's
// BatchMatMul (kernels.test.ts compares them, with NaN, ±∞ and ±0 among the inputs). It is
// here because, inside a training step, XNNPACK's GEMM ran 1.35-3.9× slower than on the same
// shapes alone (it first copies its right operand, dy, into a packed layout: 16 MiB for the
// reference model's first layer); this kernel reads dy in place (figures in ../conv2d_backprop_filter.ts).
#define MB 128
#define ACC(c, s, b) c = MADD(c, s, b)
__attribute__((export_name("matmul_in_order")))
void matmul_in_order(const float *A, const float *B, float *C, int K, int M, int N) {
  for (int i = 0; i < K * N; i++) C[i] = 0.0f;
  // Blocks of MB rows of B (MB·N floats, 32 KiB for N = 64) stay in cache while every tile of C
  // runs over them; a C tile goes back to memory between blocks, which keeps each sum in order.
  for (int m0 = 0; m0 < M; m0 += MB) {
    const int m1 = m0 + MB < M ? m0 + MB : M;
    int k = 0;
    for (; k + 4 <= K; k += 4) {
      const float *a0 = A + k * M, *a1 = a0 + M, *a2 = a1 + M, *a3 = a2 + M;
      int n = 0;
      for (; n + 8 <= N; n += 8) {
        float *c0 = C + k * N + n, *c1 = c0 + N, *c2 = c1 + N, *c3 = c2 + N;
        v128_t x00 = wasm_v128_load(c0), x01 = wasm_v128_load(c0 + 4);
        v128_t x10 = wasm_v128_load(c1), x11 = wasm_v128_load(c1 + 4);
        v128_t x20 = wasm_v128_load(c2), x21 = wasm_v128_load(c2 + 4);
        v128_t x30 = wasm_v128_load(c3), x31 = wasm_v128_load(c3 + 4);
        const float *b = B + m0 * N + n;
        for (int m = m0; m < m1; m++, b += N) {
          const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4);
          const v128_t s0 = wasm_v128_load32_splat(a0 + m), s1 = wasm_v128_load32_splat(a1 + m);
          const v128_t s2 = wasm_v128_load32_splat(a2 + m), s3 = wasm_v128_load32_splat(a3 + m);
          ACC(x00, s0, b0); ACC(x01, s0, b1);
          ACC(x10, s1, b0); ACC(x11, s1, b1);
          ACC(x20, s2, b0); ACC(x21, s2, b1);
          ACC(x30, s3, b0); ACC(x31, s3, b1);
        }
        wasm_v128_store(c0, x00); wasm_v128_store(c0 + 4, x01);
        wasm_v128_store(c1, x10); wasm_v128_store(c1 + 4, x11);
        wasm_v128_store(c2, x20); wasm_v128_store(c2 + 4, x21);
        wasm_v128_store(c3, x30); wasm_v128_store(c3 + 4, x31);
      }
      for (; n + 4 <= N; n += 4) {
        float *c0 = C + k * N + n, *c1 = c0 + N, *c2 = c1 + N, *c3 = c2 + N;
        v128_t x0 = wasm_v128_load(c0), x1 = wasm_v128_load(c1), x2 = wasm_v128_load(c2), x3 = wasm_v128_load(c3);
        const float *b = B + m0 * N + n;
        for (int m = m0; m < m1; m++, b += N) {
          const v128_t b0 = wasm_v128_load(b);
          ACC(x0, wasm_v128_load32_splat(a0 + m), b0); ACC(x1, wasm_v128_load32_splat(a1 + m), b0);
          ACC(x2, wasm_v128_load32_splat(a2 + m), b0); ACC(x3, wasm_v128_load32_splat(a3 + m), b0);
        }
        wasm_v128_store(c0, x0); wasm_v128_store(c1, x1); wasm_v128_store(c2, x2); wasm_v128_store(c3, x3);
      }
    }
    for (; k < K; k++) {
      const float *a0 = A + k * M;
      for (int n = 0; n + 4 <= N; n += 4) {
        float *c0 = C + k * N + n;
        v128_t x0 = wasm_v128_load(c0);
        const float *b = B + m0 * N + n;
        for (int m = m0; m < m1; m++, b += N) ACC(x0, wasm_v128_load32_splat(a0 + m), wasm_v128_load(b));
        wasm_v128_store(c0, x0);
      }
    }
  }
}

// The filter gradient of an NHWC convolution read straight from x, for Ci and Co multiples of 4:
// dW [kh, kw, Ci, Co] = colT · dy without colT (nor x transposed for it). colT's element
// [(ky·kw + kx)·Ci + ci, (n·OH + oh)·OW + ow] is x[n, oh·sh + ky − top, ow·sw + kx − left, ci], or
// +0 outside x; here the four rows ci..ci+3 of a tile are four neighbouring floats of x. Every
// dW element is the same sum as matmul_in_order's over colT: over m = (n, oh, ow) in order,
// from +0, MADD per term, the +0 of the padding multiplied too (0 · ∞ is NaN there as well),
// so the same bits in either build (kernels.test.ts compares the two paths), but for the sign of a NaN, which wasm
// leaves to the machine and the compiled code (a gradient with a NaN is lost either way). Output
// rows (n, oh) go in blocks of about 128 values of m, as matmul_in_order's blocks.
#define FG_RB 128
// One column of m for a 4 × 8 tile (accumulators x00 … x31) or a 4 × 4 tile (x0 … x3): four x
// values (or +0s) times a row of dy.
#define FG_STEP8(s0, s1, s2, s3) { \
    const v128_t b0 = wasm_v128_load(b), b1 = wasm_v128_load(b + 4); \
    ACC(x00, s0, b0); ACC(x01, s0, b1); ACC(x10, s1, b0); ACC(x11, s1, b1); \
    ACC(x20, s2, b0); ACC(x21, s2, b1); ACC(x30, s3, b0); ACC(x31, s3, b1); }
#define FG_STEP4(s0, s1, s2, s3) { \
    const v128_t b0 = wasm_v128_load(b); \
    ACC(x0, s0, b0); ACC(x1, s1, b0); ACC(x2, s2, b0); ACC(x3, s3, b0); }
// The block's output rows r0 … r1−1, m in order: padding columns and rows (+0 · dy), then the
// columns inside x, then padding again.
// Row r is (rn, roh) = (r / OH, r % OH), counted along rather than divided at every row (a wasm
// division is a checked idiv: ~10% of the small 1-D layers' time).
#define FG_ROWS(STEP) \
  for (int r = r0, rn = r0 / OH, roh = r0 % OH; r < r1; r++, roh = roh + 1 == OH ? (rn++, 0) : roh + 1) { \
    const int ih = roh * sh + ky - top; \
    const int in = ih >= 0 && ih < H; \
    const int vlo = in ? lo : OW, vhi = in ? hi : OW; \
    const float *b = dy + r * OW * Co + co; \
    int ow = 0; \
    for (; ow < vlo; ow++, b += Co) STEP(zero, zero, zero, zero) \
    const float *xq = in ? x + ((rn * H + ih) * W + (ow * sw + kx - left)) * Ci + ci : x; \
    for (; ow < vhi; ow++, b += Co, xq += xstep) \
      STEP(wasm_v128_load32_splat(xq), wasm_v128_load32_splat(xq + 1), wasm_v128_load32_splat(xq + 2), wasm_v128_load32_splat(xq + 3)) \
    for (; ow < OW; ow++, b += Co) STEP(zero, zero, zero, zero) \
  }
__attribute__((export_name("conv_filter_grad")))
void conv_filter_grad(const float *x, const float *dy, float *dW, int N, int H, int W, int Ci, int OH, int OW, int Co,
                      int kh, int kw, int sh, int sw, int top, int left) {
  const int K = kh * kw * Ci;
  for (int i = 0; i < K * Co; i++) dW[i] = 0.0f;
  const v128_t zero = wasm_f32x4_splat(0.0f);
  const int rows = N * OH;
  const int rb = OW >= FG_RB ? 1 : FG_RB / OW;
  const int xstep = sw * Ci;
  for (int r0 = 0; r0 < rows; r0 += rb) {
    const int r1 = r0 + rb < rows ? r0 + rb : rows;
    for (int ky = 0; ky < kh; ky++) {
      for (int kx = 0; kx < kw; kx++) {
        const int lo0 = cols_lo(kx, sw, left), hi0 = cols_hi(kx, sw, left, W, OW);
        const int lo = lo0 < hi0 ? lo0 : OW, hi = lo0 < hi0 ? hi0 : OW;
        for (int ci = 0; ci < Ci; ci += 4) {
          float *c0 = dW + ((ky * kw + kx) * Ci + ci) * Co, *c1 = c0 + Co, *c2 = c1 + Co, *c3 = c2 + Co;
          int co = 0;
          for (; co + 8 <= Co; co += 8) {
            v128_t x00 = wasm_v128_load(c0 + co), x01 = wasm_v128_load(c0 + co + 4);
            v128_t x10 = wasm_v128_load(c1 + co), x11 = wasm_v128_load(c1 + co + 4);
            v128_t x20 = wasm_v128_load(c2 + co), x21 = wasm_v128_load(c2 + co + 4);
            v128_t x30 = wasm_v128_load(c3 + co), x31 = wasm_v128_load(c3 + co + 4);
            FG_ROWS(FG_STEP8)
            wasm_v128_store(c0 + co, x00); wasm_v128_store(c0 + co + 4, x01);
            wasm_v128_store(c1 + co, x10); wasm_v128_store(c1 + co + 4, x11);
            wasm_v128_store(c2 + co, x20); wasm_v128_store(c2 + co + 4, x21);
            wasm_v128_store(c3 + co, x30); wasm_v128_store(c3 + co + 4, x31);
          }
          for (; co + 4 <= Co; co += 4) {
            v128_t x0 = wasm_v128_load(c0 + co), x1 = wasm_v128_load(c1 + co), x2 = wasm_v128_load(c2 + co), x3 = wasm_v128_load(c3 + co);
            FG_ROWS(FG_STEP4)
            wasm_v128_store(c0 + co, x0); wasm_v128_store(c1 + co, x1); wasm_v128_store(c2 + co, x2); wasm_v128_store(c3 + co, x3);
          }
        }
      }
    }
  }
}

// A 2-D correlation over NHWC x, each output the sum XNNPACK's convolution takes, in its order:
//   y[n, oh·ysh + yoh, ow·ysw + yow, co] = init[co] + Σ_{ky < nky, kx < nkx, c < C, in order}
//       x[n, oh·sh + ky·dh − top, ow·sw + kx·dw − left, c] · F[((ky·fsy + kx·fsx)·C + c)·Co + co]
// with +0 for x outside [0, H) × [0, W) (multiplied too: XNNPACK reads a buffer of zeros there),
// a MADD per term, from init (the bias, or +0s). XNNPACK's igemm kernels sum the
// same terms in the same order (filter taps row by row, channels in order within a tap), so in
// the mul-add build Conv2D and FusedConv2D (linear, with bias) give its bits (kernels.test.ts
// compares them, NaN, ±∞ and ±0 among the inputs; a NaN's sign aside; and both builds with a
// reference that sums in this order). Plain forward convolutions take fsy = kw,
// fsx = 1, ysh = ysw = 1, yoh = yow = 0. The input gradient (../conv2d_backprop_input.ts) takes
// it over dy with the turned filter; with strides, one call per phase of the output (fsy, fsx,
// ysh, ysw the strides), so that the taps that only ever meet the zeros spread between dy's rows
// are not summed at all (adding ±0 to a sum that starts at +0 never changes it, fused or not, so
// the bits are those of the convolution over the spread dy as long as the filter is finite).
// Tiles of 4 output pixels (consecutive in n, oh, ow; a tile past the last pixel repeats it,
// computed but not stored) × 8 (then 4) output channels; Co a multiple of 4; `zeros` at least
// nkx·C floats of +0.
#define CV_TILE(STEP) \
  for (int ky = 0; ky < nky; ky++) { \
    if (flat) { \
      /* Every pixel's row of taps lies inside x (or wholly outside): one run of nkx·C floats. */ \
      const float *a0 = CV_ROW(0, ky), *a1 = CV_ROW(1, ky), *a2 = CV_ROW(2, ky), *a3 = CV_ROW(3, ky); \
      if (a0 && a1 && a2 && a3) { \
        const float *b = F + ky * fsy * C * Co + co; \
        for (int c = 0; c < nkx * C; c++, b += Co) \
          STEP(wasm_v128_load32_splat(a0 + c), wasm_v128_load32_splat(a1 + c), wasm_v128_load32_splat(a2 + c), wasm_v128_load32_splat(a3 + c)) \
        continue; \
      } \
    } \
    for (int kx = 0; kx < nkx; kx++) { \
      const float *a0 = CV_AT(0, ky, kx), *a1 = CV_AT(1, ky, kx), *a2 = CV_AT(2, ky, kx), *a3 = CV_AT(3, ky, kx); \
      const float *b = F + (ky * fsy + kx * fsx) * C * Co + co; \
      for (int c = 0; c < C; c++, b += Co) \
        STEP(wasm_v128_load32_splat(a0 + c), wasm_v128_load32_splat(a1 + c), wasm_v128_load32_splat(a2 + c), wasm_v128_load32_splat(a3 + c)) \
    } \
  }
// The start of pixel r's row of taps ky when all of it lies inside x, `zeros` when the row is
// above or below x, 0 when it runs over x's left or right edge (then tap by tap).
#define CV_ROW(r, ky) cv_row(x, zeros, n##r, oh##r * sh + (ky) * dh - top, ow##r * sw - left, nkx, H, W, C)
static inline const float *cv_row(const float *x, const float *zeros, int n, int ih, int iw, int nkx, int H, int W, int C) {
  if (ih < 0 || ih >= H) return zeros;
  return iw >= 0 && iw + nkx <= W ? x + ((n * H + ih) * W + iw) * C : 0;
}
#define CV_AT(r, ky, kx) cv_at(x, zeros, n##r, oh##r * sh + (ky) * dh - top, ow##r * sw + (kx) * dw - left, H, W, C)
static inline const float *cv_at(const float *x, const float *zeros, int n, int ih, int iw, int H, int W, int C) {
  return ih >= 0 && ih < H && iw >= 0 && iw < W ? x + ((n * H + ih) * W + iw) * C : zeros;
}
// Pixel r of the tile (r = 1, 2, 3) is pixel r − 1 stepped along ow, then oh, then n (the last
// pixel again past M), counted rather than divided out of m0 + r (four pixels cost 12 checked
// idivs before: ~5% of a 1-D layer's time).
#define CV_NEXT(r, q) \
  int ow##r = ow##q, oh##r = oh##q, n##r = n##q; \
  if (m0 + r < M && ++ow##r == OW) { ow##r = 0; if (++oh##r == OH) { oh##r = 0; n##r++; } }
#define CV_Y(r) float *y##r = y + ((n##r * YH + oh##r * ysh + yoh) * YW + ow##r * ysw + yow) * Co;
__attribute__((export_name("conv_in_order")))
void conv_in_order(const float *x, const float *F, const float *init, const float *zeros, float *y,
                   int N, int H, int W, int C, int OH, int OW, int Co, int nky, int nkx, int fsy, int fsx,
                   int sh, int sw, int dh, int dw, int top, int left, int YH, int YW, int ysh, int ysw, int yoh, int yow) {
  const int M = N * OH * OW;
  // Taps next to each other in x and in F: a row of taps is one run of floats in both.
  const int flat = dw == 1 && fsx == 1;
  int tile_ow = 0, tile_oh = 0, tile_n = 0; // pixel m0
  for (int m0 = 0; m0 < M; m0 += 4) {
    const int ow0 = tile_ow, oh0 = tile_oh, n0 = tile_n;
    CV_NEXT(1, 0) CV_NEXT(2, 1) CV_NEXT(3, 2)
    CV_Y(0) CV_Y(1) CV_Y(2) CV_Y(3)
    // Pixel m0 + 4: pixel 3 stepped once more.
    tile_ow = ow3 + 1; tile_oh = oh3; tile_n = n3;
    if (tile_ow == OW) { tile_ow = 0; if (++tile_oh == OH) { tile_oh = 0; tile_n++; } }
    const int rows = M - m0 < 4 ? M - m0 : 4;
    int co = 0;
    for (; co + 8 <= Co; co += 8) {
      const v128_t i0 = wasm_v128_load(init + co), i1 = wasm_v128_load(init + co + 4);
      v128_t x00 = i0, x01 = i1, x10 = i0, x11 = i1, x20 = i0, x21 = i1, x30 = i0, x31 = i1;
      CV_TILE(FG_STEP8)
      wasm_v128_store(y0 + co, x00); wasm_v128_store(y0 + co + 4, x01);
      if (rows > 1) { wasm_v128_store(y1 + co, x10); wasm_v128_store(y1 + co + 4, x11); }
      if (rows > 2) { wasm_v128_store(y2 + co, x20); wasm_v128_store(y2 + co + 4, x21); }
      if (rows > 3) { wasm_v128_store(y3 + co, x30); wasm_v128_store(y3 + co + 4, x31); }
    }
    for (; co + 4 <= Co; co += 4) {
      const v128_t i0 = wasm_v128_load(init + co);
      v128_t x0 = i0, x1 = i0, x2 = i0, x3 = i0;
      CV_TILE(FG_STEP4)
      wasm_v128_store(y0 + co, x0);
      if (rows > 1) wasm_v128_store(y1 + co, x1);
      if (rows > 2) wasm_v128_store(y2 + co, x2);
      if (rows > 3) wasm_v128_store(y3 + co, x3);
    }
  }
}

// The filter turned for the input gradient (flipTransposed in ../conv2d_backprop_input.ts):
// wT[a, b, o, i] = W[kh−1−a, kw−1−b, i, o]. Values are moved, never computed.
__attribute__((export_name("flip_transposed")))
void flip_transposed(const float *W, float *wT, int kh, int kw, int Ci, int Co) {
  for (int a = 0; a < kh; a++) {
    for (int b = 0; b < kw; b++) {
      const float *src = W + ((kh - 1 - a) * kw + (kw - 1 - b)) * Ci * Co;
      float *dst = wT + (a * kw + b) * Co * Ci;
      for (int i = 0; i < Ci; i++) {
        for (int o = 0; o < Co; o++) dst[o * Ci + i] = src[i * Co + o];
      }
    }
  }
}

// ReLU's gradient (../relu_grad.ts): out = dy · step(x), step(x) = 1 for x > 0, NaN for a NaN x,
// +0 otherwise (the backend's Step with alpha 0), one multiply per element, as tfjs-core's
// dy · cast(step(x)) computes it.
__attribute__((export_name("relu_grad")))
void relu_grad(const float *dy, const float *x, float *out, int n) {
  const v128_t one = wasm_f32x4_splat(1.0f), zero = wasm_f32x4_splat(0.0f);
  int i = 0;
  for (; i + 4 <= n; i += 4) {
    const v128_t v = wasm_v128_load(x + i);
    v128_t s = wasm_v128_bitselect(one, zero, wasm_f32x4_gt(v, zero));
    s = wasm_v128_bitselect(s, v, wasm_f32x4_eq(v, v)); // a NaN x stays NaN
    wasm_v128_store(out + i, wasm_f32x4_mul(wasm_v128_load(dy + i), s));
  }
  for (; i < n; i++) {
    const float v = x[i];
    out[i] = dy[i] * (v > 0 ? 1.0f : v == v ? 0.0f : v);
  }
}

// y[b, j, i] = x[b, i, j] for x [B, R, C] of 4-byte elements (../transpose.ts): 4×4 blocks moved
// through four f32x4 loads, eight shuffles and four stores, the edges one element at a time.
// Values are moved as integers, never computed: the same bits (a NaN's payload too).
__attribute__((export_name("transpose_last2")))
void transpose_last2(const int *x, int *y, int B, int R, int C) {
  for (int b = 0; b < B; b++) {
    const int *xb = x + b * R * C;
    int *yb = y + b * R * C;
    int i = 0;
    for (; i + 4 <= R; i += 4) {
      int j = 0;
      for (; j + 4 <= C; j += 4) {
        const v128_t r0 = wasm_v128_load(xb + i * C + j), r1 = wasm_v128_load(xb + (i + 1) * C + j);
        const v128_t r2 = wasm_v128_load(xb + (i + 2) * C + j), r3 = wasm_v128_load(xb + (i + 3) * C + j);
        const v128_t t0 = wasm_i32x4_shuffle(r0, r1, 0, 4, 1, 5), t1 = wasm_i32x4_shuffle(r0, r1, 2, 6, 3, 7);
        const v128_t t2 = wasm_i32x4_shuffle(r2, r3, 0, 4, 1, 5), t3 = wasm_i32x4_shuffle(r2, r3, 2, 6, 3, 7);
        wasm_v128_store(yb + j * R + i, wasm_i32x4_shuffle(t0, t2, 0, 1, 4, 5));
        wasm_v128_store(yb + (j + 1) * R + i, wasm_i32x4_shuffle(t0, t2, 2, 3, 6, 7));
        wasm_v128_store(yb + (j + 2) * R + i, wasm_i32x4_shuffle(t1, t3, 0, 1, 4, 5));
        wasm_v128_store(yb + (j + 3) * R + i, wasm_i32x4_shuffle(t1, t3, 2, 3, 6, 7));
      }
      for (; j < C; j++) {
        for (int k = 0; k < 4; k++) yb[j * R + i + k] = xb[(i + k) * C + j];
      }
    }
    for (; i < R; i++) {
      for (int j = 0; j < C; j++) yb[j * R + i] = xb[i * C + j];
    }
  }
}
