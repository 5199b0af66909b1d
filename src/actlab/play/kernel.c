/* The playground's fused training step: S small networks (one per seed), minibatch SGD or Adam.
 *
 * Every tensor keeps the seeds innermost and contiguous — parameters (P, S) as actlab.train
 * holds them, activations (layer, sample, unit, S) — so every loop body is one vector operation
 * across seeds, whatever the widths. One call runs n_steps minibatch steps of one epoch's
 * shuffled rows: no Python, no per-operation dispatch, between steps. Seeds are independent, so
 * each block of VS seeds runs all the steps before the next block: its parameters and
 * activations stay in the core's cache, and every loop is a fixed VS lanes (S is padded to a
 * multiple of VS by the caller).
 *
 * The arithmetic is the torch engine's (play/engine.py), which the tests compare it with:
 *   loss ½(ŷ−y)² or cross-entropy on the output logit, gradient / batch size;
 *   L1 / L2 on the weights as TensorFlow Playground applies them (L1 stops a weight at 0);
 *   SGD, or Adam as torch's fused kernel computes it.
 * tanh and sigmoid use a rational approximation (Eigen's, a few ulps in float32) so that they
 * vectorise: libm's tanhf is one call per element.
 */
#include <math.h>
#include <stddef.h>
#if defined(__SSE__)
#include <xmmintrin.h>
#define FLUSH_SUBNORMALS 0x8040u  /* MXCSR's flush-to-zero and denormals-are-zero bits */
#endif

#define VS 16  /* seeds per block: one AVX-512 register of floats, two of AVX2 */
#define BT 4   /* samples per tile: the caller sizes the batch buffers to a multiple of it */
#define SEEDS for (int s = c0; s < c0 + VS; s++)

enum { LINEAR = 0, RELU = 1, TANH = 2, SIGMOID = 3, LEAKY_RELU = 4 };
enum { MSE = 0, BCE = 1 };
enum { SGD = 0, ADAM = 1 };
enum { NO_REG = 0, L1 = 1, L2 = 2 };

static inline float tanh_approx(float x) {
    const float clamp = 7.90531110763549805f;  /* tanh rounds to ±1 in float32 beyond this */
    float c = x > clamp ? clamp : (x < -clamp ? -clamp : x);
    float x2 = c * c;
    float p = -2.76076847742355e-16f;
    p = p * x2 + 2.00018790482477e-13f;
    p = p * x2 - 8.60467152213735e-11f;
    p = p * x2 + 5.12229709037114e-08f;
    p = p * x2 + 1.48572235717979e-05f;
    p = p * x2 + 6.37261928875436e-04f;
    p = p * x2 + 4.89352455891786e-03f;
    p = p * c;
    float q = 1.19825839466702e-06f;
    q = q * x2 + 1.18534705686654e-04f;
    q = q * x2 + 2.26843463243900e-03f;
    q = q * x2 + 4.89352518554385e-03f;
    float t = p / q;
    return (x > -0.0004f && x < 0.0004f) ? x : t;
}

/* a = σ(z) and d = σ'(z) over the block of seeds starting at c0 (of one unit of one sample) */
static inline void activate(int kind, float slope, float *z, float *restrict d, int c0) {
    switch (kind) {
    case RELU:
        SEEDS { d[s] = (float)(z[s] > 0.0f); z[s] = fmaxf(z[s], 0.0f); }  /* branch-free: vectorises */
        break;
    case LEAKY_RELU:
        SEEDS { float pos = (float)(z[s] > 0.0f); d[s] = slope + (1.0f - slope) * pos; z[s] = fmaxf(z[s], 0.0f) + slope * fminf(z[s], 0.0f); }
        break;
    case TANH:
        SEEDS { float t = tanh_approx(z[s]); z[s] = t; d[s] = 1.0f - t * t; }
        break;
    case SIGMOID:
        SEEDS { float g = 0.5f + 0.5f * tanh_approx(0.5f * z[s]); z[s] = g; d[s] = g * (1.0f - g); }
        break;
    default:
        SEEDS { d[s] = 1.0f; }
    }
}

static inline float sigmoid_exact(float z) { return 1.0f / (1.0f + expf(-z)); }

/*
 * params, m, v   (P, S): per layer l, W_l (rows_l, cols_l, S) then b_l (rows_l, S); S a multiple of VS
 * grad           (P, S) scratch
 * H, D           (L + 1, Bp, U, S) scratch, Bp = B rounded up to a multiple of BT: H[0] the inputs,
 *                H[l+1] layer l's outputs; D the derivatives (rows past a short batch: ignored)
 * G0, G1         (Bp, U, S) scratch: the gradient at a layer's output, and at its input
 * X, t           the epoch's shuffled rows (N, n_in) and targets (N,); steps start at row `start`
 * adam_step      the Adam step count before this call (updated)
 * Returns the steps taken: n_steps, or fewer at the epoch's end.
 */
static void step_block(float *params, float *m, float *v, float *grad, float *H, float *D, float *G0, float *G1,
                       int S, int L, const int *rows, const int *cols, size_t US, size_t BUS, const size_t *offset,
                       int act, float slope, int loss, int opt, int reg, float reg_rate, float lr,
                       const float *X, const float *t, int start, int nb, long adam_t, int c0) {
    /* forward */
    for (int b = 0; b < nb; b++)
        for (int i = 0; i < cols[0]; i++) {
            float xv = X[(size_t)(start + b) * cols[0] + i], *h = H + b * US + (size_t)i * S;
            SEEDS h[s] = xv;
        }
    for (int l = 0; l < L; l++) {  /* tiles of BT samples share each weight vector: one load a multiply-add */
        const float *W = params + offset[l], *bias = W + (size_t)rows[l] * cols[l] * S;
        const float *Hl = H + (size_t)l * BUS + c0;
        for (int j = 0; j < rows[l]; j++)
            for (int b0 = 0; b0 < nb; b0 += BT) {
                float acc[BT][VS];
                const float *bj = bias + (size_t)j * S + c0;
                for (int bb = 0; bb < BT; bb++)
                    for (int k = 0; k < VS; k++) acc[bb][k] = bj[k];
                for (int i = 0; i < cols[l]; i++) {
                    const float *w = W + ((size_t)j * cols[l] + i) * S + c0;
                    for (int bb = 0; bb < BT; bb++) {
                        const float *h = Hl + (b0 + bb) * US + (size_t)i * S;
                        for (int k = 0; k < VS; k++) acc[bb][k] += w[k] * h[k];
                    }
                }
                for (int bb = 0; bb < BT && b0 + bb < nb; bb++) {
                    float *z = H + (size_t)(l + 1) * BUS + (b0 + bb) * US + (size_t)j * S;  /* z, then σ(z) in place */
                    for (int k = 0; k < VS; k++) z[c0 + k] = acc[bb][k];
                    if (l < L - 1)
                        activate(act, slope, z, D + (size_t)(l + 1) * BUS + (b0 + bb) * US + (size_t)j * S, c0);
                }
            }
    }
    /* the loss's gradient at the output */
    for (int b = 0; b < nb; b++) {
        const float *out = H + (size_t)L * BUS + b * US;
        float *g = G0 + b * US, y = t[start + b];
        if (loss == BCE)
            SEEDS g[s] = (sigmoid_exact(out[s]) - y) / nb;
        else
            SEEDS g[s] = (out[s] - y) / nb;
    }
    /* backward, last layer first: the gradients of W_l and b_l, then the gradient at the input */
    float *g_out = G0, *g_in = G1;
    for (int l = L - 1; l >= 0; l--) {
        const float *W = params + offset[l];
        float *gW = grad + offset[l], *gb = gW + (size_t)rows[l] * cols[l] * S;
        for (int j = 0; j < rows[l]; j++) {
            for (int i = 0; i < cols[l]; i++) {
                float acc[VS] = {0};
                for (int b = 0; b < nb; b++) {
                    const float *g = g_out + b * US + (size_t)j * S + c0, *h = H + (size_t)l * BUS + b * US + (size_t)i * S + c0;
                    for (int k = 0; k < VS; k++) acc[k] += g[k] * h[k];
                }
                float *gw = gW + ((size_t)j * cols[l] + i) * S + c0;
                for (int k = 0; k < VS; k++) gw[k] = acc[k];
            }
            float acc[VS] = {0};
            for (int b = 0; b < nb; b++) {
                const float *g = g_out + b * US + (size_t)j * S + c0;
                for (int k = 0; k < VS; k++) acc[k] += g[k];
            }
            float *gbj = gb + (size_t)j * S + c0;
            for (int k = 0; k < VS; k++) gbj[k] = acc[k];
        }
        if (l == 0) break;
        for (int i = 0; i < cols[l]; i++)
            for (int b0 = 0; b0 < nb; b0 += BT) {
                float acc[BT][VS] = {{0}};
                for (int j = 0; j < rows[l]; j++) {
                    const float *w = W + ((size_t)j * cols[l] + i) * S + c0;
                    for (int bb = 0; bb < BT; bb++) {
                        const float *g = g_out + (b0 + bb) * US + (size_t)j * S + c0;
                        for (int k = 0; k < VS; k++) acc[bb][k] += w[k] * g[k];
                    }
                }
                for (int bb = 0; bb < BT && b0 + bb < nb; bb++) {
                    const float *d = D + (size_t)l * BUS + (b0 + bb) * US + (size_t)i * S + c0;
                    float *gi = g_in + (b0 + bb) * US + (size_t)i * S + c0;
                    for (int k = 0; k < VS; k++) gi[k] = acc[bb][k] * d[k];
                }
            }
        float *tmp = g_out; g_out = g_in; g_in = tmp;
    }
    /* regularisation (weights only) and the update */
    double bc1 = 1.0 - pow(0.9, (double)adam_t), bc2 = 1.0 - pow(0.999, (double)adam_t);
    float step_size = (float)(lr / bc1), bc2_sqrt = (float)sqrt(bc2);
    for (int l = 0; l < L; l++) {
        size_t nW = (size_t)rows[l] * cols[l], n = nW + (size_t)rows[l];  /* rows of S values */
        for (size_t r = 0; r < n; r++) {
            float *p = params + offset[l] + r * S + c0, *g = grad + offset[l] + r * S + c0;
            float *mm = m + offset[l] + r * S + c0, *vv = v + offset[l] + r * S + c0;
            float gk[VS], before[VS];
            for (int k = 0; k < VS; k++) { gk[k] = g[k]; before[k] = p[k]; }
            if (r < nW && reg == L2)
                for (int k = 0; k < VS; k++) gk[k] += reg_rate * before[k];
            else if (r < nW && reg == L1)
                for (int k = 0; k < VS; k++) gk[k] += reg_rate * (float)((before[k] > 0.0f) - (before[k] < 0.0f));
            if (opt == ADAM)
                for (int k = 0; k < VS; k++) {
                    mm[k] += (gk[k] - mm[k]) * 0.1f;  /* torch's lerp: m + (1 − β₁)(g − m) */
                    vv[k] = vv[k] * 0.999f + 0.001f * gk[k] * gk[k];
                    p[k] = before[k] - step_size * mm[k] / (sqrtf(vv[k]) / bc2_sqrt + 1e-8f);
                }
            else
                for (int k = 0; k < VS; k++) p[k] = before[k] - lr * gk[k];
            if (r < nW && reg == L1)  /* TensorFlow Playground's L1: a weight that crosses 0 stops there */
                for (int k = 0; k < VS; k++)
                    p[k] = ((p[k] > 0.0f) - (p[k] < 0.0f)) * ((before[k] > 0.0f) - (before[k] < 0.0f)) < 0 ? 0.0f : p[k];
        }
    }
}

int train_steps(float *params, float *m, float *v, float *grad, float *H, float *D, float *G0, float *G1,
                int S, int L, const int *rows, const int *cols, int U,
                int act, float slope, int loss, int opt, int reg, float reg_rate, float lr,
                const float *X, const float *t, int N, int B, int start, int n_steps, long *adam_step) {
    size_t US = (size_t)U * S, BUS = (size_t)((B + BT - 1) / BT * BT) * US, offset[64], P = 0;
    if (L > 64 || S % VS) return -1;
#if defined(__SSE__)
    /* subnormals flushed to zero while training, as torch's engine runs (Adam's g² of a dead
       ReLU unit is subnormal, and each costs ~100 cycles); the caller's state restored after */
    unsigned int csr = _mm_getcsr();
    _mm_setcsr(csr | FLUSH_SUBNORMALS);
#endif
    for (int l = 0; l < L; l++) { offset[l] = P; P += (size_t)rows[l] * cols[l] * S + (size_t)rows[l] * S; }
    int steps = (N - start + B - 1) / B;
    if (steps > n_steps) steps = n_steps;
    if (steps < 0) steps = 0;
    for (int c0 = 0; c0 < S; c0 += VS)  /* a block of seeds through every step, then the next */
        for (int k = 0; k < steps; k++) {
            int st = start + k * B, nb = N - st < B ? N - st : B;
            step_block(params, m, v, grad, H, D, G0, G1, S, L, rows, cols, US, BUS, offset, act, slope, loss, opt, reg,
                       reg_rate, lr, X, t, st, nb, *adam_step + k + 1, c0);
        }
    if (opt == ADAM) *adam_step += steps;
#if defined(__SSE__)
    _mm_setcsr(csr);
#endif
    return steps;
}
