/* The playground's fused training step: S small networks (one per seed), minibatch SGD or Adam.
 *
 * Every tensor keeps a block of VS seeds innermost — parameters and Adam's moments (blocks, P,
 * VS), each block contiguous; activations (layer, sample, unit, VS) — so every operation is a
 * vector operation across VS seeds, whatever the widths. One call runs n_steps minibatch steps
 * of one epoch's shuffled rows: no Python, no per-operation dispatch, between steps. Seeds are
 * independent, so each block runs all the steps before the next (its parameters and moments
 * stay in the caches), and a call's threads each take whole blocks.
 *
 * The products of a layer are register-tiled: forward z = b + W h sums 4 × 4 tiles (units ×
 * samples) in 16 vector registers, each step of its loop loading 4 + 4 vectors for 16
 * multiply-adds, so a 64-unit layer runs at the core's multiply-add rate rather than its load
 * rate. Backward visits each 4 × 2 tile of weights (units × inputs) once, its 8 weights held in
 * registers through the batch: per sample it adds the tile's weight gradient g hᵀ and its share
 * of the input gradient Wᵀ g (old weights), 16 multiply-adds for 8 loads; then it applies the
 * tile's weight gradient (regularisation, SGD or Adam) — the weight gradient never goes to
 * memory, and a step reads the weights twice (forward, backward), not three times.
 *
 * Wide nets (see the end of this file) train one seed at a time with its units as the lanes
 * instead: a block of seeds' parameters and moments would overflow a core's L2.
 *
 * The arithmetic is the torch engine's (play/engine.py), which the tests compare it with:
 *   loss ½(ŷ−y)² or cross-entropy on the output logit, gradient / batch size;
 *   L1 / L2 on the weights as TensorFlow Playground applies them (L1 stops a weight at 0);
 *   SGD, or Adam as torch's fused kernel computes it.
 * tanh and sigmoid use a rational approximation (Eigen's, a few ulps in float32) so that they
 * vectorise: libm's tanhf is one call per element.
 */
#include <math.h>
#if !defined(__wasm__)
#include <pthread.h>
#endif
#include <stdatomic.h>
#include <stddef.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_SUBNORMALS 0x8040u  /* MXCSR's flush-to-zero and denormals-are-zero bits */
#endif
#if defined(__AVX512F__)
#include <immintrin.h>
#endif
#if defined(__wasm_simd128__)
#include <wasm_simd128.h>
#endif

/* seeds per block and per vector: 8 floats, one AVX register (two NEON ones; a 4 × 4 tile needs
   24 registers, which AVX-512 machines have), or 16, one AVX-512 register. The caller picks
   (_kernel.block_width: 16 where the build runs AVX-512, measured faster on Intel and AMD cores;
   8 elsewhere; any width is plain vector code on any CPU), asks block_seeds(), pads the seeds to
   whole blocks and hands in buffers that start on a cache line (a vector that straddles two lines
   costs two loads). */
#ifndef VS
#define VS 8
#endif
#ifndef TILE
#define TILE 4  /* rows of a register tile; buffers of samples hold a multiple of it */
#endif
#define MAX_THREADS 64
#define INLINE static inline __attribute__((always_inline))
#define SIMD _Pragma("omp simd")

typedef float vf __attribute__((vector_size(VS * sizeof(float)), aligned(sizeof(float))));
#define AT(p) (*(vf *)(p))  /* the VS seeds' values at p, as one vector (any alignment) */

enum { LINEAR = 0, RELU = 1, TANH = 2, SIGMOID = 3, LEAKY_RELU = 4 };
enum { MSE = 0, BCE = 1 };
enum { SGD = 0, ADAM = 1 };
enum { NO_REG = 0, L1 = 1, L2 = 2 };

/* the update's settings for one step */
typedef struct {
    int opt, reg;
    float reg_rate, lr, step_size, inv_bc2_sqrt;  /* Adam: lr / (1 − β₁ᵗ) and 1 / √(1 − β₂ᵗ) */
} Update;

/* a block's scratch strides: a sample's units U·VS, a layer's samples Bp·U·VS */
typedef struct {
    size_t US, BUS;
} Strides;

/* the rational approximation's constants, shared by the scalar and the 4-lane forms below */
#define TANH_CLAMP 7.90531110763549805f  /* tanh rounds to ±1 in float32 beyond this */
#define TANH_SMALL 0.0004f               /* below this, tanh(x) = x in float32 */
static const float TANH_P[7] = {-2.76076847742355e-16f, 2.00018790482477e-13f, -8.60467152213735e-11f, 5.12229709037114e-08f,
                                1.48572235717979e-05f, 6.37261928875436e-04f, 4.89352455891786e-03f};
static const float TANH_Q[4] = {1.19825839466702e-06f, 1.18534705686654e-04f, 2.26843463243900e-03f, 4.89352518554385e-03f};

static inline float tanh_approx(float x) {
    float c = x > TANH_CLAMP ? TANH_CLAMP : (x < -TANH_CLAMP ? -TANH_CLAMP : x);
    float x2 = c * c;
    float p = TANH_P[0];
    p = p * x2 + TANH_P[1];
    p = p * x2 + TANH_P[2];
    p = p * x2 + TANH_P[3];
    p = p * x2 + TANH_P[4];
    p = p * x2 + TANH_P[5];
    p = p * x2 + TANH_P[6];
    p = p * c;
    float q = TANH_Q[0];
    q = q * x2 + TANH_Q[1];
    q = q * x2 + TANH_Q[2];
    q = q * x2 + TANH_Q[3];
    float t = p / q;
    return (x > -TANH_SMALL && x < TANH_SMALL) ? x : t;
}

#if defined(__wasm_simd128__)
/* tanh_approx on 4 lanes at once, the same operations in the same order (clang left the loop of
   tanh_approx scalar in WebAssembly: tanh trained at half ReLU's speed) */
static inline v128_t tanh_approx4(v128_t x) {
    const v128_t hi = wasm_f32x4_splat(TANH_CLAMP), lo = wasm_f32x4_splat(-TANH_CLAMP);
    v128_t c = wasm_v128_bitselect(hi, x, wasm_f32x4_gt(x, hi));
    c = wasm_v128_bitselect(lo, c, wasm_f32x4_lt(x, lo));
    v128_t x2 = wasm_f32x4_mul(c, c), p = wasm_f32x4_splat(TANH_P[0]), q = wasm_f32x4_splat(TANH_Q[0]);
    for (int i = 1; i < 7; i++) p = wasm_f32x4_add(wasm_f32x4_mul(p, x2), wasm_f32x4_splat(TANH_P[i]));
    p = wasm_f32x4_mul(p, c);
    for (int i = 1; i < 4; i++) q = wasm_f32x4_add(wasm_f32x4_mul(q, x2), wasm_f32x4_splat(TANH_Q[i]));
    v128_t t = wasm_f32x4_div(p, q);
    v128_t small = wasm_v128_and(wasm_f32x4_gt(x, wasm_f32x4_splat(-TANH_SMALL)), wasm_f32x4_lt(x, wasm_f32x4_splat(TANH_SMALL)));
    return wasm_v128_bitselect(x, t, small);
}
#endif

/* z ← σ(z) and d ← σ'(z) for VS seeds (branch-free loops: they vectorise) */
INLINE void activate(int kind, float slope, float *restrict z, float *restrict d) {
    switch (kind) {
    case RELU:
        SIMD for (int k = 0; k < VS; k++) { d[k] = (float)(z[k] > 0.0f); z[k] = z[k] > 0.0f ? z[k] : 0.0f; }
        break;
    case LEAKY_RELU:
        SIMD for (int k = 0; k < VS; k++) {
            float pos = (float)(z[k] > 0.0f);
            d[k] = slope + (1.0f - slope) * pos;
            z[k] = z[k] > 0.0f ? z[k] : slope * z[k];
        }
        break;
#if defined(__wasm_simd128__)
    case TANH:
        for (int k = 0; k < VS; k += 4) {
            v128_t t = tanh_approx4(wasm_v128_load(z + k));
            wasm_v128_store(z + k, t);
            wasm_v128_store(d + k, wasm_f32x4_sub(wasm_f32x4_splat(1.0f), wasm_f32x4_mul(t, t)));
        }
        break;
    case SIGMOID:
        for (int k = 0; k < VS; k += 4) {
            const v128_t half = wasm_f32x4_splat(0.5f), one = wasm_f32x4_splat(1.0f);
            v128_t g = wasm_f32x4_add(half, wasm_f32x4_mul(half, tanh_approx4(wasm_f32x4_mul(half, wasm_v128_load(z + k)))));
            wasm_v128_store(z + k, g);
            wasm_v128_store(d + k, wasm_f32x4_mul(g, wasm_f32x4_sub(one, g)));
        }
        break;
#else
    case TANH:
        SIMD for (int k = 0; k < VS; k++) { float t = tanh_approx(z[k]); z[k] = t; d[k] = 1.0f - t * t; }
        break;
    case SIGMOID:
        SIMD for (int k = 0; k < VS; k++) { float g = 0.5f + 0.5f * tanh_approx(0.5f * z[k]); z[k] = g; d[k] = g * (1.0f - g); }
        break;
#endif
    default:
        SIMD for (int k = 0; k < VS; k++) d[k] = 1.0f;
    }
}

static inline float sigmoid_exact(float z) { return 1.0f / (1.0f + expf(-z)); }

typedef int vi __attribute__((vector_size(VS * sizeof(int))));
#define SIGN(x) (__builtin_convertvector((x) < 0.0f, vf) - __builtin_convertvector((x) > 0.0f, vf))  /* true is −1 */

/* One parameter of VS seeds, p (and Adam's m, v), stepped by its gradient g. OPT and REG are
   constants where it is inlined (the layer loops are instantiated per optimizer and
   regularisation), so a tile's 8 updates are straight-line vector code: with them read
   from the settings, gcc kept one update in a loop over the tile, its accumulators on the stack. */
/* √x, lane by lane, correctly rounded as sqrtf (WebAssembly: one f32x4.sqrt, which clang does not
   find in the loop — it extracted and reinserted each lane, and Adam ran at a third of SGD's speed) */
INLINE vf vsqrt(vf x) {
#if defined(__wasm_simd128__)
    vf r;
    float *rs = (float *)&r;
    const float *xs = (const float *)&x;
    for (int k = 0; k < VS; k += 4) wasm_v128_store(rs + k, wasm_f32x4_sqrt(wasm_v128_load(xs + k)));
    return r;
#else
    vf r;
    SIMD for (int k = 0; k < VS; k++) r[k] = sqrtf(x[k]);
    return r;
#endif
}

/* 1 / (√v · c + ε), v ≥ 0, to ~2 ulps: AVX-512's 14-bit reciprocal square root and reciprocal,
   each refined by one Newton step — multiply-adds, where a divide and a square root hold the
   divider ~20 cycles a vector (the wide kernel's Adam update: +20 %); v = 0 gives 1 / ε, as exactly */
INLINE vf inv_denominator(vf v, float c) {
#if VS == 16 && defined(__AVX512F__)
    vf r = (vf)_mm512_rsqrt14_ps((__m512)v);
    r = r * (1.5f - 0.5f * v * r * r);
    vf root = (vf)((vi)(v * r) & (v > 0.0f));
    vf d = root * c + 1e-8f, q = (vf)_mm512_rcp14_ps((__m512)d);
    return q * (2.0f - d * q);
#else
    return 1.0f / (vsqrt(v) * c + 1e-8f);
#endif
}

/* x with the lanes where |x| is below the float whose bits are `below` set to 0 (NaN kept), in
   WebAssembly only. It has no flush-to-zero mode, which the native build sets in MXCSR, and a unit
   whose gradient is 0 has its Adam moments decay by 0.9 (m) and 0.999 (v) a step into subnormals,
   where arithmetic ran ~10× slower (an 8 × 64 net's epoch 1.1 s instead of 0.1 s from its ~30th
   epoch on). m is cut at 10⁻³⁰, so that the update's products of it (0.1·m, step size·m) stay
   normal too: a step with such an m moves its weight by < lr·10⁻²² (the denominator is ≥ 10⁻⁸);
   v at the smallest normal float. */
#define M_BELOW 0x0DA24260  /* 1e-30f */
#define V_BELOW 0x00800000  /* FLT_MIN */
INLINE vf flush(vf x, int below) {
#if defined(__wasm_simd128__)
    vf r;
    float *rs = (float *)&r;
    const float *xs = (const float *)&x;
    for (int k = 0; k < VS; k += 4) {  /* compared as integers: NaN's bits are above any */
        v128_t a = wasm_v128_load(xs + k);
        v128_t tiny = wasm_i32x4_lt(wasm_v128_and(a, wasm_i32x4_splat(0x7fffffff)), wasm_i32x4_splat(below));
        wasm_v128_store(rs + k, wasm_v128_andnot(a, tiny));
    }
    return r;
#else
    (void)below;
    return x;
#endif
}

/* FAST: Adam's denominator by inv_denominator (the wide kernel), else by a square root and a divide */
INLINE void update(int OPT, int REG, int FAST, const Update *u, float *p, float *m, float *v, vf g) {
    vf before = AT(p), after;
    if (REG == L2)
        g += u->reg_rate * before;
    else if (REG == L1)
        g += u->reg_rate * SIGN(before);
    if (OPT == ADAM) {
        vf mk = AT(m), vk = AT(v);
        mk += (g - mk) * 0.1f;  /* torch's lerp: m + (1 − β₁)(g − m) */
        vk = vk * 0.999f + 0.001f * g * g;
        mk = flush(mk, M_BELOW);
        vk = flush(vk, V_BELOW);
        AT(m) = mk;
        AT(v) = vk;
        if (FAST)
            after = before - u->step_size * mk * inv_denominator(vk, u->inv_bc2_sqrt);
        else
            after = before - u->step_size * mk / (vsqrt(vk) * u->inv_bc2_sqrt + 1e-8f);
    } else
        after = before - u->lr * g;
    if (REG == L1) {  /* TensorFlow Playground's L1: a weight that crosses 0 stops there */
        vi crossed = SIGN(after) * SIGN(before) < 0.0f;
        after = (vf)(~crossed & (vi)after);
    }
    AT(p) = after;
}

/* forward: z = b + W h for units j0 … j0+JT−1 of samples b0 … b0+BT−1 (JT, BT ≤ 4) */
INLINE void forward_tile(const float *W, const float *bias, const float *Hin, float *Zout, int cols, Strides t,
                         int j0, int b0, int JT, int BT) {
    vf acc[TILE][TILE];
    for (int jj = 0; jj < JT; jj++)
        for (int bb = 0; bb < BT; bb++) acc[jj][bb] = AT(bias + (j0 + jj) * VS);
    for (int i = 0; i < cols; i++) {
        vf w[TILE], h[TILE];
        for (int jj = 0; jj < JT; jj++) w[jj] = AT(W + ((size_t)(j0 + jj) * cols + i) * VS);
        for (int bb = 0; bb < BT; bb++) h[bb] = AT(Hin + (b0 + bb) * t.US + i * VS);
        for (int jj = 0; jj < JT; jj++)
            for (int bb = 0; bb < BT; bb++) acc[jj][bb] += w[jj] * h[bb];
    }
    for (int jj = 0; jj < JT; jj++)
        for (int bb = 0; bb < BT; bb++) AT(Zout + (b0 + bb) * t.US + (j0 + jj) * VS) = acc[jj][bb];
}

/* The weight gradient Σ_b g hᵀ of units j0 … j0+JT−1, inputs i0 … i0+IT−1 (JT ≤ 4, IT ≤ 2),
   applied at once; with IN, first this tile's share of the input gradient, Σ_j W g, added to Gin
   with the old weights, kept in registers: the tile's weights are then read once a step for both
   (a wide net's step streams its weights and Adam's moments through the caches, and each pass
   over them costs). 4 × 4 tiles, reloading the weights for each sample, ran 8 × 64 ~1–5 % slower. */
INLINE void backward_tile(int OPT, int REG, const Update *u, float *W, float *m, float *v, const float *G, const float *Hin,
                          float *Gin, int cols, Strides t, int nb, int j0, int i0, int JT, int IT, int IN) {
    vf acc[TILE][2], w[TILE][2];
    for (int jj = 0; jj < JT; jj++)
        for (int ii = 0; ii < IT; ii++) {
            acc[jj][ii] = (vf){0};
            if (IN) w[jj][ii] = AT(W + ((size_t)(j0 + jj) * cols + i0 + ii) * VS);
        }
    for (int b = 0; b < nb; b++) {
        vf g[TILE], h[2];
        for (int jj = 0; jj < JT; jj++) g[jj] = AT(G + b * t.US + (j0 + jj) * VS);
        for (int ii = 0; ii < IT; ii++) h[ii] = AT(Hin + b * t.US + (i0 + ii) * VS);
        for (int jj = 0; jj < JT; jj++)
            for (int ii = 0; ii < IT; ii++) acc[jj][ii] += g[jj] * h[ii];
        if (IN)
            for (int ii = 0; ii < IT; ii++) {
                vf s = AT(Gin + b * t.US + (i0 + ii) * VS);
                for (int jj = 0; jj < JT; jj++) s += w[jj][ii] * g[jj];
                AT(Gin + b * t.US + (i0 + ii) * VS) = s;
            }
    }
    for (int jj = 0; jj < JT; jj++)
        for (int ii = 0; ii < IT; ii++) {
            size_t o = ((size_t)(j0 + jj) * cols + i0 + ii) * VS;
            update(OPT, REG, 0, u, W + o, m + o, v + o, acc[jj][ii]);
        }
}

/* The tiles cover a layer: full 4-wide tiles, then 1-wide ones for the remainder of units;
   samples in tiles of 4 (2 for a last tile of one or two; rows past nb are scratch, never read
   back into a gradient). */
static void forward_layer(const float *W, const float *bias, const float *Hin, float *Zout, int rows, int cols, Strides t, int nb) {
    for (int b0 = 0; b0 < nb; b0 += TILE) {
        int j0 = 0;
        if (nb - b0 > 2) {
            for (; j0 + TILE <= rows; j0 += TILE) forward_tile(W, bias, Hin, Zout, cols, t, j0, b0, TILE, TILE);
            for (; j0 < rows; j0++) forward_tile(W, bias, Hin, Zout, cols, t, j0, b0, 1, TILE);
        } else {
            for (; j0 + TILE <= rows; j0 += TILE) forward_tile(W, bias, Hin, Zout, cols, t, j0, b0, TILE, 2);
            for (; j0 < rows; j0++) forward_tile(W, bias, Hin, Zout, cols, t, j0, b0, 1, 2);
        }
    }
}

/* a layer's weight gradient, applied, and with IN its input gradient g_in = (Wᵀ g) ⊙ σ'(z) */
INLINE void backward_weights(int OPT, int REG, const Update *u, float *W, float *m, float *v, const float *G,
                             const float *Hin, float *Gin, const float *Din, int rows, int cols, Strides t, int nb, int IN) {
    if (IN)
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < cols; i++) AT(Gin + b * t.US + i * VS) = (vf){0};
    int j0 = 0;
    for (; j0 + TILE <= rows; j0 += TILE) {
        int i0 = 0;
        for (; i0 + 2 <= cols; i0 += 2) backward_tile(OPT, REG, u, W, m, v, G, Hin, Gin, cols, t, nb, j0, i0, TILE, 2, IN);
        for (; i0 < cols; i0++) backward_tile(OPT, REG, u, W, m, v, G, Hin, Gin, cols, t, nb, j0, i0, TILE, 1, IN);
    }
    for (; j0 < rows; j0++) {
        int i0 = 0;
        for (; i0 + 2 <= cols; i0 += 2) backward_tile(OPT, REG, u, W, m, v, G, Hin, Gin, cols, t, nb, j0, i0, 1, 2, IN);
        for (; i0 < cols; i0++) backward_tile(OPT, REG, u, W, m, v, G, Hin, Gin, cols, t, nb, j0, i0, 1, 1, IN);
    }
    if (IN)
        for (int b = 0; b < nb; b++)
            for (int i = 0; i < cols; i++) {
                size_t o = b * t.US + i * VS;
                AT(Gin + o) = AT(Gin + o) * AT(Din + o);
            }
}

/* the bias gradient Σ_b g, applied (biases are not regularised) */
INLINE void backward_bias(int OPT, const Update *u, float *bias, float *m, float *v, const float *G, int rows, Strides t, int nb) {
    for (int j = 0; j < rows; j++) {
        vf acc = (vf){0};
        for (int b = 0; b < nb; b++) acc += AT(G + b * t.US + j * VS);
        update(OPT, NO_REG, 0, u, bias + j * VS, m + j * VS, v + j * VS, acc);
    }
}

/* A layer's backward pass (W then b; W is (rows, cols, VS), b follows it), one function per
   optimizer and regularisation: see update. */
typedef void (*Backward)(const Update *u, float *W, float *m, float *v, const float *G, const float *Hin, float *Gin,
                         const float *Din, int rows, int cols, Strides t, int nb);
#define BACKWARD(OPT, REG)                                                                                          \
    static void backward_##OPT##_##REG(const Update *u, float *W, float *m, float *v, const float *G,                  \
                                       const float *Hin, float *Gin, const float *Din, int rows, int cols, Strides t,  \
                                       int nb) {                                                                       \
        if (Gin)                                                                                                       \
            backward_weights(OPT, REG, u, W, m, v, G, Hin, Gin, Din, rows, cols, t, nb, 1);                           \
        else  /* the first layer's input gradient is not needed */                                                    \
            backward_weights(OPT, REG, u, W, m, v, G, Hin, NULL, NULL, rows, cols, t, nb, 0);                         \
        size_t nW = (size_t)rows * cols * VS;                                                                          \
        backward_bias(OPT, u, W + nW, m + nW, v + nW, G, rows, t, nb);                                                 \
    }
BACKWARD(SGD, NO_REG) BACKWARD(SGD, L1) BACKWARD(SGD, L2)
BACKWARD(ADAM, NO_REG) BACKWARD(ADAM, L1) BACKWARD(ADAM, L2)
static const Backward BACKWARDS[2][3] = {{backward_SGD_NO_REG, backward_SGD_L1, backward_SGD_L2},
                                         {backward_ADAM_NO_REG, backward_ADAM_L1, backward_ADAM_L2}};

/*
 * One minibatch step of one block of VS seeds.
 * params, m, v   the block's (P, VS): per layer l, W_l (rows_l, cols_l, VS) then b_l (rows_l, VS)
 * H, D           (L + 1, Bp, U, VS): H[0] the inputs, H[l+1] layer l's outputs, D the derivatives
 * G0, G1         (Bp, U, VS): the gradient at a layer's output, and at its input
 * X, y           the minibatch's rows (nb, n_in) and targets (nb,)
 */
static void step_block(float *params, float *m, float *v, float *H, float *D, float *G0, float *G1, Strides t,
                       int L, const int *rows, const int *cols, const size_t *offset, int act, float slope, int loss,
                       const Update *u, const float *X, const float *y, int nb) {
    for (int b = 0; b < nb; b++)
        for (int i = 0; i < cols[0]; i++) {
            float *h = H + b * t.US + i * VS;
            for (int k = 0; k < VS; k++) h[k] = X[b * cols[0] + i];
        }
    for (int l = 0; l < L; l++) {
        const float *W = params + offset[l], *bias = W + (size_t)rows[l] * cols[l] * VS;
        float *Z = H + (l + 1) * t.BUS;  /* z, then σ(z) in place */
        forward_layer(W, bias, H + l * t.BUS, Z, rows[l], cols[l], t, nb);
        if (l < L - 1)
            for (int b = 0; b < nb; b++)
                for (int j = 0; j < rows[l]; j++)
                    activate(act, slope, Z + b * t.US + j * VS, D + (l + 1) * t.BUS + b * t.US + j * VS);
    }
    for (int b = 0; b < nb; b++) {  /* the loss's gradient at the output */
        const float *out = H + L * t.BUS + b * t.US;
        float *g = G0 + b * t.US;
        if (loss == BCE)
            for (int k = 0; k < VS; k++) g[k] = (sigmoid_exact(out[k]) - y[b]) / nb;
        else
            for (int k = 0; k < VS; k++) g[k] = (out[k] - y[b]) / nb;
    }
    Backward backward = BACKWARDS[u->opt][u->reg];
    float *g_out = G0, *g_in = G1;
    for (int l = L - 1; l >= 0; l--) {  /* last layer first */
        size_t o = offset[l];
        backward(u, params + o, m + o, v + o, g_out, H + l * t.BUS, l > 0 ? g_in : NULL, D + l * t.BUS, rows[l], cols[l], t, nb);
        float *tmp = g_out; g_out = g_in; g_in = tmp;
    }
}

/* The seeds per block of this build: the caller's buffers hold whole blocks. */
int block_seeds(void) { return VS; }

/* one call's work, shared by its threads */
typedef struct {
    float *params, *m, *v;
    int L;
    const int *rows, *cols;
    size_t offset[64], P;
    Strides st;
    int act, loss, opt, reg;
    float slope, reg_rate, lr;
    const float *X, *t;
    int N, B, start, steps, epochs;  /* rows an epoch, a minibatch's, the first step's row; steps; epochs of rows in X */
    long adam_step;
    int blocks, backwards;
    atomic_int next;  /* the next block to take: each thread takes blocks until none is left */
} Job;

/* one thread's part of a call: the call's work (a Job, WideJob or WidePredict) and its scratch */
typedef struct {
    void *job;
    float *scratch;
} Share;

/* fn on `threads` threads (this one and threads − 1 started), thread k on share[k] = {job,
   scratch + k · per}; a thread that cannot start leaves its work to the others (each takes
   blocks or seeds until none is left) */
#if defined(__wasm__)
/* WebAssembly (the static playground): one thread, the page's Web Worker */
static void run_threads(void *(*fn)(void *), void *job, float *scratch, long per, int threads) {
    (void)per, (void)threads;
    Share share = {job, scratch};
    fn(&share);
}
#else
static void run_threads(void *(*fn)(void *), void *job, float *scratch, long per, int threads) {
    Share share[MAX_THREADS];
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS] = {0};
    for (int k = 0; k < threads; k++) share[k] = (Share){job, scratch + k * per};
    for (int k = 1; k < threads; k++) started[k] = pthread_create(&tid[k], NULL, fn, &share[k]) == 0;
    fn(&share[0]);
    for (int k = 1; k < threads; k++)
        if (started[k]) pthread_join(tid[k], NULL);
}
#endif

/* the row where step k of a call starts: the first epoch's steps from `start`, then whole epochs
   (an epoch's last minibatch may be short) */
static int rows_at(int N, int B, int start, int k) {
    int first = (N - start + B - 1) / B, per = (N + B - 1) / B;
    if (k < first) return start + k * B;
    k -= first;
    return (1 + k / per) * N + (k % per) * B;
}
static int step_row(const Job *j, int k) { return rows_at(j->N, j->B, j->start, k); }

/* step k's update settings (Adam's bias corrections for its step count) */
static Update update_at(int opt, int reg, float reg_rate, float lr, long step) {
    if (opt != ADAM)  /* no bias corrections: two pow() a block and step saved */
        return (Update){opt, reg, reg_rate, lr, 0.0f, 0.0f};
    return (Update){opt, reg, reg_rate, lr, (float)(lr / (1.0 - pow(0.9, (double)step))),
                    (float)(1.0 / sqrt(1.0 - pow(0.999, (double)step)))};
}

/* every step for one block after another, as long as blocks are left: a thread slowed by other
   work on its core (the browser) takes fewer of them */
static void *run_share(void *arg) {
    const Share *sh = arg;
    Job *j = sh->job;
    Strides st = j->st;
#if defined(__SSE__)
    /* subnormals flushed to zero while training, as torch's engine runs (Adam's g² of a dead
       ReLU unit is subnormal, and each costs ~100 cycles); the thread's state restored after */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | FLUSH_SUBNORMALS);
#endif
    float *H = sh->scratch, *D = H + (j->L + 1) * st.BUS, *G0 = D + (j->L + 1) * st.BUS, *G1 = G0 + st.BUS;
    for (int n; (n = atomic_fetch_add(&j->next, 1)) < j->blocks;) {
        int blk = j->backwards ? j->blocks - 1 - n : n;
        size_t base = (size_t)blk * j->P;
        for (int k = 0; k < j->steps; k++) {
            int row = step_row(j, k), at = row % j->N, nb = j->N - at < j->B ? j->N - at : j->B;
            Update u = update_at(j->opt, j->reg, j->reg_rate, j->lr, j->adam_step + k + 1);
            step_block(j->params + base, j->m + base, j->v + base, H, D, G0, G1, st, j->L, j->rows, j->cols, j->offset,
                       j->act, j->slope, j->loss, &u, j->X + (size_t)row * j->cols[0], j->t + row, nb);
        }
    }
#if defined(__SSE__)
    _mm_setcsr(csr);
#endif
    return NULL;
}

/* The floats of scratch one thread needs (H, D: (L + 1) · Bp · U · VS; G0, G1: Bp · U · VS). */
long scratch_floats(int L, int U, int B) { return (long)(2 * (L + 1) + 2) * ((B + TILE - 1) / TILE * TILE) * U * VS; }

/*
 * n_steps minibatch steps (fewer at the epoch's end) for every block of seeds, on `threads`
 * threads, each taking whole blocks (seeds are independent: the result does not depend on the
 * threads).
 * params, m, v   (blocks, P, VS), each block's parameters together (see step_block)
 * scratch        threads · scratch_floats(L, U, B) floats
 * X, t           `epochs` epochs' shuffled rows (epochs · N, n_in) and targets (epochs · N,), one epoch
 *                after the other; steps start at row `start` of the first and run on into the next
 *                (a call of many steps: a wide net's blocks are fetched into the caches once a call)
 * adam_step      Adam's step count before this call
 * backwards      visit the blocks last to first: alternated by the caller, the blocks a call
 *                starts with are the ones the last call ended with, still in the caches
 * Returns the steps taken, or −1 for arguments it cannot use.
 */
int train_steps(float *params, float *m, float *v, float *scratch, int L, const int *rows, const int *cols, int U,
                int act, float slope, int loss, int opt, int reg, float reg_rate, float lr,
                const float *X, const float *t, int N, int epochs, int B, int start, int n_steps, long adam_step, int blocks,
                int threads, int backwards) {
    if (L > 64 || L < 1 || blocks < 1 || threads < 1 || threads > MAX_THREADS || opt < SGD || opt > ADAM || reg < NO_REG || reg > L2)
        return -1;
    Job job = {params, m, v, L, rows, cols, {0}, 0, {(size_t)U * VS, (size_t)((B + TILE - 1) / TILE * TILE) * U * VS},
               act, loss, opt, reg, slope, reg_rate, lr, X, t, N, B, start, 0, epochs, adam_step, blocks, backwards, 0};
    for (int l = 0; l < L; l++) { job.offset[l] = job.P; job.P += ((size_t)rows[l] * cols[l] + rows[l]) * VS; }
    if (N < 1 || B < 1 || epochs < 1 || start < 0 || start >= N) return -1;
    int steps = (N - start + B - 1) / B + (epochs - 1) * ((N + B - 1) / B);
    job.steps = steps > n_steps ? n_steps : steps;
    run_threads(run_share, &job, scratch, scratch_floats(L, U, B), threads > blocks ? blocks : threads);
    return job.steps;
}

/*
 * Every seed's forward pass on n rows X (n, n_in), block by block, B rows at a time (scratch:
 * scratch_floats(L, U, B) floats). units = 0: out (blocks · VS, n), each seed's output (its last
 * layer's first unit, before any sigmoid). units = 1: out (blocks · VS, n, T), every unit of every
 * layer (T = Σ rows), hidden units after the activation. Returns 0, or −1 for arguments it cannot use.
 */
int predict_blocks(const float *params, float *scratch, int L, const int *rows, const int *cols, int U, int act,
                   float slope, int B, const float *X, int n, float *out, int blocks, int units) {
    if (L > 64 || L < 1 || B < 1 || n < 0 || blocks < 1) return -1;
    size_t offset[64], P = 0, T = 0;
    for (int l = 0; l < L; l++) { offset[l] = P; P += ((size_t)rows[l] * cols[l] + rows[l]) * VS; T += rows[l]; }
    Strides t = {(size_t)U * VS, (size_t)((B + TILE - 1) / TILE * TILE) * U * VS};
    float *H = scratch, *D = H + (L + 1) * t.BUS;
    for (int blk = 0; blk < blocks; blk++) {
        const float *p = params + (size_t)blk * P;
        for (int r0 = 0; r0 < n; r0 += B) {
            int nb = n - r0 < B ? n - r0 : B;
            for (int b = 0; b < nb; b++)
                for (int i = 0; i < cols[0]; i++)
                    for (int k = 0; k < VS; k++) H[b * t.US + i * VS + k] = X[(size_t)(r0 + b) * cols[0] + i];
            for (int l = 0; l < L; l++) {
                float *Z = H + (l + 1) * t.BUS;
                forward_layer(p + offset[l], p + offset[l] + (size_t)rows[l] * cols[l] * VS, H + l * t.BUS, Z, rows[l], cols[l], t, nb);
                if (l < L - 1)
                    for (int b = 0; b < nb; b++)
                        for (int j = 0; j < rows[l]; j++) activate(act, slope, Z + b * t.US + j * VS, D + b * t.US + j * VS);
            }
            for (int k = 0; k < VS; k++) {
                size_t seed = (size_t)blk * VS + k;
                for (int b = 0; b < nb; b++) {
                    if (!units) { out[seed * n + r0 + b] = H[L * t.BUS + b * t.US + k]; continue; }
                    float *o = out + (seed * n + r0 + b) * T;
                    for (int l = 0, at = 0; l < L; at += rows[l], l++)
                        for (int j = 0; j < rows[l]; j++) o[at + j] = H[(l + 1) * t.BUS + b * t.US + j * VS + k];
                }
            }
        }
    }
    return 0;
}

/*
 * One seed's forward pass on n rows X (n, n_in), VS rows at a time in the vector lanes (the block
 * layout's lanes are seeds: one seed's maps there computed VS seeds' to keep one). flat: the seed's
 * parameters, per layer W (rows, cols) then b (rows,), as actlab's flat order. The sums run in the
 * same order as predict_blocks' and the step's. units = 0: out (n,), the output; units = 1: out
 * (n, T), every unit (T = Σ rows), hidden units after the activation. scratch: 2 · U · VS floats.
 * Returns 0, or −1 for arguments it cannot use.
 */
int predict_one(const float *flat, float *scratch, int L, const int *rows, const int *cols, int U, int act, float slope,
                const float *X, int n, float *out, int units) {
    if (L > 64 || L < 1 || n < 0) return -1;
    int T = 0;
    for (int l = 0; l < L; l++) T += rows[l];
    float *H = scratch, *Z = scratch + (size_t)U * VS, d[VS];
    for (int r0 = 0; r0 < n; r0 += VS) {
        int nr = n - r0 < VS ? n - r0 : VS;
        for (int i = 0; i < cols[0]; i++)
            for (int k = 0; k < VS; k++) H[i * VS + k] = X[(size_t)(r0 + (k < nr ? k : 0)) * cols[0] + i];
        const float *p = flat;
        for (int l = 0, at = 0; l < L; at += rows[l], l++) {
            const float *W = p, *b = p + (size_t)rows[l] * cols[l];
            for (int j = 0; j < rows[l]; j++) {
                vf acc = (vf){0} + b[j];
                for (int i = 0; i < cols[l]; i++) acc += W[(size_t)j * cols[l] + i] * AT(H + i * VS);
                AT(Z + j * VS) = acc;
                if (l < L - 1) activate(act, slope, Z + j * VS, d);
            }
            for (int j = 0; j < rows[l]; j++) {
                AT(H + j * VS) = AT(Z + j * VS);
                if (units)
                    for (int k = 0; k < nr; k++) out[(size_t)(r0 + k) * T + at + j] = Z[j * VS + k];
            }
            p = b + rows[l];
        }
        if (!units)
            for (int k = 0; k < nr; k++) out[r0 + k] = H[k];
    }
    return 0;
}

/* ==================================================================================================
 * Wide nets: one seed at a time, its units as the lanes.
 *
 * With seeds as the lanes, a block of VS seeds of an 8 × 64 Adam net is 3 · VS · 30k floats of
 * parameters and moments (5.5 MB for 16 seeds): more than a core's L2, so every step streams
 * them through the L3, and the update waits on memory. One seed's are 0.36 MB: here a thread
 * runs all of a call's steps on one seed, its parameters and moments in its L2, then takes the
 * next seed. Vectors run across a layer's units (rows padded to VS, padding weights 0 for good):
 *   forward   z[b, j…] = b[j…] + Σ_i h[b, i] Wᵀ[i, j…]      W stored transposed, (cols, rows)
 *   input     gin[b, i…] = Σ_j g[b, j] W[j, i…]              from a copy of W in (rows, cols),
 *             gradient                                        transposed after each update
 *   weights   Wᵀ[i, j…] −= update(Σ_b h[b, i] g[b, j…])     applied tile by tile, as above
 * each a register tile of 4 vectors of units × WB samples, a weight vector loaded once for WB
 * multiply-adds. The arithmetic (activations, losses, update) is the block kernel's.
 * ================================================================================================== */
#define PAD(n) (((n) + VS - 1) / VS * VS)
#define WB (VS >= 16 ? 5 : 3)  /* samples a tile: 4 × WB accumulators and 4 weights in AVX-512's 32 registers (AVX2's 16) */

typedef struct {
    int L, U, Bp;  /* layers; floats a row of activations (the widest padded layer); samples a batch, padded to tiles */
    const int *rows, *cols;
    size_t woff[64], coff[64], P, C;  /* per layer: Wᵀ's offset in a seed's floats, its copy's in the scratch; their sizes */
} WideShape;

/* a layer: Wᵀ (PAD(cols), R) — rows past cols stay 0, so their copy's columns do — then its bias (R) */
static void wide_shape(WideShape *s, int L, const int *rows, const int *cols, int B) {
    s->L = L, s->rows = rows, s->cols = cols, s->P = 0, s->C = 0, s->U = PAD(cols[0]);
    for (int l = 0; l < L; l++) {
        int R = PAD(rows[l]), Cp = PAD(cols[l]);
        s->woff[l] = s->P;
        s->P += (size_t)(Cp + 1) * R;
        s->coff[l] = s->C;
        if (l > 0) s->C += (size_t)R * Cp;
        if (R > s->U) s->U = R;
    }
    s->Bp = (B + WB - 1) / WB * WB;
}

/* The floats of one seed's parameters (and of each moment) in this layout. */
long wide_floats(int L, const int *rows, const int *cols) {
    WideShape s;
    wide_shape(&s, L, rows, cols, 1);
    return (long)s.P;
}

/* The floats of scratch one thread needs: H, D (L + 1, Bp, U); G, Gin (Bp, U); the copies of W. */
long wide_scratch_floats(int L, const int *rows, const int *cols, int B) {
    WideShape s;
    wide_shape(&s, L, rows, cols, B);
    return (long)(2 * (L + 1) + 2) * s.Bp * s.U + (long)s.C;
}

/* out[j, i] = in[i, j] for i < n_in_rows (padded to VS), j < n_in_cols (a multiple of VS) */
static void transpose(const float *in, float *out, int in_rows, int in_cols) {
#if VS == 16 && defined(__AVX512F__)
    for (int i0 = 0; i0 < in_rows; i0 += 16)
        for (int j0 = 0; j0 < in_cols; j0 += 16) {
            __m512 r[16], t[16];
            for (int k = 0; k < 16; k++) r[k] = _mm512_load_ps(in + (size_t)(i0 + k) * in_cols + j0);
            for (int k = 0; k < 8; k++) {
                t[2 * k] = _mm512_unpacklo_ps(r[2 * k], r[2 * k + 1]);
                t[2 * k + 1] = _mm512_unpackhi_ps(r[2 * k], r[2 * k + 1]);
            }
            for (int k = 0; k < 4; k++) {
                r[4 * k] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0x44);
                r[4 * k + 1] = _mm512_shuffle_ps(t[4 * k], t[4 * k + 2], 0xEE);
                r[4 * k + 2] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0x44);
                r[4 * k + 3] = _mm512_shuffle_ps(t[4 * k + 1], t[4 * k + 3], 0xEE);
            }
            for (int k = 0; k < 2; k++)
                for (int q = 0; q < 4; q++) {
                    t[8 * k + q] = _mm512_shuffle_f32x4(r[8 * k + q], r[8 * k + 4 + q], 0x88);
                    t[8 * k + 4 + q] = _mm512_shuffle_f32x4(r[8 * k + q], r[8 * k + 4 + q], 0xDD);
                }
            for (int q = 0; q < 8; q++) {
                r[q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0x88);
                r[8 + q] = _mm512_shuffle_f32x4(t[q], t[8 + q], 0xDD);
            }
            for (int k = 0; k < 16; k++) _mm512_store_ps(out + (size_t)(j0 + k) * in_rows + i0, r[k]);
        }
#else
    for (int i = 0; i < in_rows; i++)
        for (int j = 0; j < in_cols; j++) out[(size_t)j * in_rows + i] = in[(size_t)i * in_cols + j];
#endif
}

/* Out[b, k0 … k0 + NK·VS) = init[k…] + Σ_x A[b, x] M[x, k…] for samples b0 … b0 + WB − 1 (rows of
   A and Out U floats apart, of M ldm; init NULL: 0). The forward pass (M = Wᵀ, A = h, init the
   bias) and the input gradient (M = the copy of W, A = g) are this product. */
INLINE void wide_product_tile(const float *M, int ldm, const float *init, const float *A, float *Out, int K, int U,
                              int k0, int b0, int NK) {
    vf acc[4][WB];
    for (int a = 0; a < NK; a++)
        for (int bb = 0; bb < WB; bb++) acc[a][bb] = init ? AT(init + k0 + a * VS) : (vf){0};
    for (int x = 0; x < K; x++) {
        vf w[4];
        for (int a = 0; a < NK; a++) w[a] = AT(M + (size_t)x * ldm + k0 + a * VS);
        for (int bb = 0; bb < WB; bb++) {
            float s = A[(b0 + bb) * U + x];
            for (int a = 0; a < NK; a++) acc[a][bb] += w[a] * s;
        }
    }
    for (int a = 0; a < NK; a++)
        for (int bb = 0; bb < WB; bb++) AT(Out + (b0 + bb) * U + k0 + a * VS) = acc[a][bb];
}

/* the product over n samples (a multiple of WB) and `width` outputs (a multiple of VS) */
INLINE void wide_product(const float *M, int ldm, const float *init, const float *A, float *Out, int K, int U, int width,
                         int n) {
    for (int b0 = 0; b0 < n; b0 += WB) {
        int k0 = 0;
        for (; k0 + 4 * VS <= width; k0 += 4 * VS) wide_product_tile(M, ldm, init, A, Out, K, U, k0, b0, 4);
        for (; k0 < width; k0 += VS) wide_product_tile(M, ldm, init, A, Out, K, U, k0, b0, 1);
    }
}

/* Wᵀ[i0 … i0 + NI − 1, j0 … j0 + NJ·VS) −= update(Σ_b h[b, i] g[b, j…]) */
INLINE void wide_weights_tile(int OPT, int REG, const Update *u, float *WT, float *m, float *v, const float *G,
                              const float *Hin, int R, int U, int nb, int i0, int j0, int NI, int NJ) {
    vf acc[4][4];
    for (int ii = 0; ii < NI; ii++)
        for (int a = 0; a < NJ; a++) acc[ii][a] = (vf){0};
    for (int b = 0; b < nb; b++) {
        vf g[4];
        for (int a = 0; a < NJ; a++) g[a] = AT(G + b * U + j0 + a * VS);
        for (int ii = 0; ii < NI; ii++) {
            float h = Hin[b * U + i0 + ii];
            for (int a = 0; a < NJ; a++) acc[ii][a] += g[a] * h;
        }
    }
    for (int ii = 0; ii < NI; ii++)
        for (int a = 0; a < NJ; a++) {
            size_t o = (size_t)(i0 + ii) * R + j0 + a * VS;
            update(OPT, REG, 1, u, WT + o, m + o, v + o, acc[ii][a]);
        }
}

/* a layer's weight gradient and bias gradient, applied (one instance per optimizer and regularisation) */
INLINE void wide_update_layer(int OPT, int REG, const Update *u, float *WT, float *m, float *v, const float *G,
                              const float *Hin, int R, int C, int U, int nb) {
    int j0 = 0;
    for (; j0 + 4 * VS <= R; j0 += 4 * VS) {
        int i0 = 0;
        for (; i0 + 4 <= C; i0 += 4) wide_weights_tile(OPT, REG, u, WT, m, v, G, Hin, R, U, nb, i0, j0, 4, 4);
        for (; i0 < C; i0++) wide_weights_tile(OPT, REG, u, WT, m, v, G, Hin, R, U, nb, i0, j0, 1, 4);
    }
    for (; j0 < R; j0 += VS) {
        int i0 = 0;
        for (; i0 + 4 <= C; i0 += 4) wide_weights_tile(OPT, REG, u, WT, m, v, G, Hin, R, U, nb, i0, j0, 4, 1);
        for (; i0 < C; i0++) wide_weights_tile(OPT, REG, u, WT, m, v, G, Hin, R, U, nb, i0, j0, 1, 1);
    }
    size_t nW = (size_t)PAD(C) * R;
    for (int j = 0; j < R; j += VS) {
        vf acc = (vf){0};
        for (int b = 0; b < nb; b++) acc += AT(G + b * U + j);
        update(OPT, NO_REG, 1, u, WT + nW + j, m + nW + j, v + nW + j, acc);
    }
}
typedef void (*WideUpdate)(const Update *u, float *WT, float *m, float *v, const float *G, const float *Hin, int R,
                           int C, int U, int nb);
#define WIDE_UPDATE(OPT, REG)                                                                                    \
    static void wide_update_##OPT##_##REG(const Update *u, float *WT, float *m, float *v, const float *G,        \
                                          const float *Hin, int R, int C, int U, int nb) {                      \
        wide_update_layer(OPT, REG, u, WT, m, v, G, Hin, R, C, U, nb);                                         \
    }
WIDE_UPDATE(SGD, NO_REG) WIDE_UPDATE(SGD, L1) WIDE_UPDATE(SGD, L2)
WIDE_UPDATE(ADAM, NO_REG) WIDE_UPDATE(ADAM, L1) WIDE_UPDATE(ADAM, L2)
static const WideUpdate WIDE_UPDATES[2][3] = {{wide_update_SGD_NO_REG, wide_update_SGD_L1, wide_update_SGD_L2},
                                              {wide_update_ADAM_NO_REG, wide_update_ADAM_L1, wide_update_ADAM_L2}};

/* The forward pass of one seed over rows X (nb of them, n ≤ Bp rows of H and D, a multiple of WB;
   rows past nb zero): H[l + 1] layer l's outputs, D[l + 1] its derivatives. */
static void wide_forward(const WideShape *s, const float *p, float *H, float *D, int n, int act, float slope,
                         const float *X, int nb) {
    int L = s->L, U = s->U, n_in = s->cols[0];
    size_t BU = (size_t)n * U;
    for (int b = 0; b < n; b++)
        for (int i = 0; i < n_in; i++) H[b * U + i] = b < nb ? X[b * n_in + i] : 0.0f;
    for (int l = 0; l < L; l++) {
        int R = PAD(s->rows[l]), C = s->cols[l];
        const float *WT = p + s->woff[l], *bias = WT + (size_t)PAD(C) * R;
        float *Z = H + (l + 1) * BU;
        wide_product(WT, R, bias, H + l * BU, Z, C, U, R, n);
        if (l < L - 1)
            for (int b = 0; b < n; b++)
                for (int j = 0; j < R; j += VS) activate(act, slope, Z + b * U + j, D + (l + 1) * BU + b * U + j);
    }
}

/* One minibatch step of one seed: p, m, v its floats (see wide_shape); S its thread's scratch. */
static void wide_step(const WideShape *s, float *p, float *m, float *v, float *S, int act, float slope, int loss,
                      const Update *u, const float *X, const float *y, int nb) {
    int L = s->L, U = s->U, Bp = s->Bp;
    size_t BU = (size_t)Bp * U;
    float *H = S, *D = H + (L + 1) * BU, *G = D + (L + 1) * BU, *Gin = G + BU, *Wc = Gin + BU;
    wide_forward(s, p, H, D, Bp, act, slope, X, nb);
    for (int b = 0; b < Bp; b++) {  /* the loss's gradient at the output (a padded sample's: 0) */
        float *g = G + b * U, out = H[L * BU + b * U];
        for (int j = 0; j < PAD(s->rows[L - 1]); j++) g[j] = 0.0f;
        if (b < nb) g[0] = (loss == BCE ? sigmoid_exact(out) - y[b] : out - y[b]) / nb;
    }
    WideUpdate apply = WIDE_UPDATES[u->opt][u->reg];
    for (int l = L - 1; l >= 0; l--) {  /* last layer first */
        int R = PAD(s->rows[l]), C = s->cols[l], Cp = PAD(C);
        float *WT = p + s->woff[l], *Wl = Wc + s->coff[l];
        if (l > 0) {  /* the input gradient with the old weights, then σ' of the layer below */
            wide_product(Wl, Cp, NULL, G, Gin, s->rows[l], U, Cp, Bp);
            for (int b = 0; b < Bp; b++)
                for (int i = 0; i < Cp; i += VS) AT(Gin + b * U + i) = AT(Gin + b * U + i) * AT(D + l * BU + b * U + i);
        }
        apply(u, WT, m + s->woff[l], v + s->woff[l], G, H + l * BU, R, C, U, nb);
        if (l > 0) {
            transpose(WT, Wl, Cp, R);  /* the copy for the next step's input gradient */
            float *tmp = G; G = Gin; Gin = tmp;
        }
    }
}

typedef struct {
    WideShape shape;
    float *params, *m, *v;
    int act, loss, opt, reg;
    float slope, reg_rate, lr;
    const float *X, *t;
    int N, B, start, steps, seeds;
    long adam_step;
    atomic_int next;  /* the next seed to take */
} WideJob;

static void *wide_run_share(void *arg) {
    const Share *sh = arg;
    WideJob *j = sh->job;
    const WideShape *s = &j->shape;
#if defined(__SSE__)
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | FLUSH_SUBNORMALS);
#endif
    float *Wc = sh->scratch + (size_t)(2 * (s->L + 1) + 2) * s->Bp * s->U;
    for (int seed; (seed = atomic_fetch_add(&j->next, 1)) < j->seeds;) {
        size_t base = (size_t)seed * s->P;
        float *p = j->params + base;
        for (int l = 1; l < s->L; l++)  /* each layer's copy of W, for the input gradients */
            transpose(p + s->woff[l], Wc + s->coff[l], PAD(s->cols[l]), PAD(s->rows[l]));
        for (int k = 0; k < j->steps; k++) {
            int row = rows_at(j->N, j->B, j->start, k), at = row % j->N, nb = j->N - at < j->B ? j->N - at : j->B;
            Update u = update_at(j->opt, j->reg, j->reg_rate, j->lr, j->adam_step + k + 1);
            wide_step(s, p, j->m + base, j->v + base, sh->scratch, j->act, j->slope, j->loss, &u,
                      j->X + (size_t)row * s->cols[0], j->t + row, nb);
        }
    }
#if defined(__SSE__)
    _mm_setcsr(csr);
#endif
    return NULL;
}

/*
 * train_steps for wide nets: the same arguments, but params, m, v are (seeds, wide_floats(…)),
 * each seed's floats together in the layout of wide_shape, and scratch is threads ·
 * wide_scratch_floats(…) floats (64-byte aligned, as every buffer). Threads take whole seeds.
 */
int train_steps_wide(float *params, float *m, float *v, float *scratch, int L, const int *rows, const int *cols,
                     int act, float slope, int loss, int opt, int reg, float reg_rate, float lr,
                     const float *X, const float *t, int N, int epochs, int B, int start, int n_steps, long adam_step,
                     int seeds, int threads) {
    if (L > 64 || L < 1 || seeds < 1 || threads < 1 || threads > MAX_THREADS || opt < SGD || opt > ADAM || reg < NO_REG ||
        reg > L2 || N < 1 || B < 1 || epochs < 1 || start < 0 || start >= N)
        return -1;
    WideJob job = {{0}, params, m, v, act, loss, opt, reg, slope, reg_rate, lr, X, t, N, B, start, 0, seeds, adam_step, 0};
    wide_shape(&job.shape, L, rows, cols, B);
    int steps = (N - start + B - 1) / B + (epochs - 1) * ((N + B - 1) / B);
    job.steps = steps > n_steps ? n_steps : steps;
    run_threads(wide_run_share, &job, scratch, wide_scratch_floats(L, rows, cols, B), threads > seeds ? seeds : threads);
    return job.steps;
}

/* Every seed's output (its last layer's first unit, before any sigmoid) on n rows X (n, n_in):
   out (seeds, n). Rows go in chunks of the training batch's padded size through a thread's
   training scratch (wide_scratch_floats with the same B); threads take whole seeds. */
typedef struct {
    WideShape shape;
    const float *params, *X;
    float *out;
    int act, n, seeds;
    float slope;
    atomic_int next;
} WidePredict;

static void *wide_predict_share(void *arg) {
    const Share *sh = arg;
    WidePredict *j = sh->job;
    const WideShape *s = &j->shape;
    int Bp = s->Bp, L = s->L, U = s->U;
    float *H = sh->scratch, *D = H + (size_t)(L + 1) * Bp * U;
    for (int seed; (seed = atomic_fetch_add(&j->next, 1)) < j->seeds;)
        for (int r0 = 0; r0 < j->n; r0 += Bp) {
            int nb = j->n - r0 < Bp ? j->n - r0 : Bp;
            wide_forward(s, j->params + (size_t)seed * s->P, H, D, Bp, j->act, j->slope, j->X + (size_t)r0 * s->cols[0], nb);
            for (int b = 0; b < nb; b++) j->out[(size_t)seed * j->n + r0 + b] = H[(size_t)L * Bp * U + b * U];
        }
    return NULL;
}

int predict_wide(const float *params, float *scratch, int L, const int *rows, const int *cols, int act, float slope,
                 int B, const float *X, int n, float *out, int seeds, int threads) {
    if (L > 64 || L < 1 || seeds < 1 || n < 0 || B < 1 || threads < 1 || threads > MAX_THREADS) return -1;
    WidePredict job = {{0}, params, X, out, act, n, seeds, slope, 0};
    wide_shape(&job.shape, L, rows, cols, B);
    run_threads(wide_predict_share, &job, scratch, wide_scratch_floats(L, rows, cols, B), threads > seeds ? seeds : threads);
    return 0;
}
