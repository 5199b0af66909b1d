/* One call of the playground's fused step (src/actlab/play/kernel.c) on fixed inputs, printed:
 * built for the host and for another architecture (run under qemu-user), the two outputs must
 * agree to float32 rounding (tests/test_kernel_cross.py). Linked with kernel.c; VS as built.
 *
 *   cc -O2 -DVS=8 tests/c/kernel_step.c src/actlab/play/kernel.c -lm -pthread -o step && ./step tanh adam [steps]
 *
 * Built with -DKERNEL_DLL (Windows), it links nothing of kernel.c and calls the kernel in the DLL
 * named by $KERNEL_DLL instead, as ctypes does: the build a Windows wheel ships.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int train_steps_fn(float *params, float *m, float *v, float *scratch, int L, const int *rows, const int *cols, int U,
                           int act, float slope, int loss, int opt, int reg, float reg_rate, float lr,
                           const float *X, const float *t, int N, int epochs, int B, int start, int n_steps, long adam_step,
                           int blocks, int threads, int backwards);
#ifdef KERNEL_DLL
#include <windows.h>
static int (*block_seeds)(void);
static long (*scratch_floats)(int L, int U, int B);
static train_steps_fn *train_steps;
static int bind_kernel(void) {
    HMODULE lib = LoadLibraryA(getenv("KERNEL_DLL"));
    if (!lib) return 0;
    block_seeds = (int (*)(void))GetProcAddress(lib, "block_seeds");
    scratch_floats = (long (*)(int, int, int))GetProcAddress(lib, "scratch_floats");
    train_steps = (train_steps_fn *)GetProcAddress(lib, "train_steps");
    return block_seeds && scratch_floats && train_steps;
}
#else
int block_seeds(void);
long scratch_floats(int L, int U, int B);
train_steps_fn train_steps;
static int bind_kernel(void) { return 1; }
#endif

/* static buffers on cache lines (aligned_alloc is missing from Windows' C runtime) */
#define MAX_FLOATS 16384
static float params[MAX_FLOATS] __attribute__((aligned(64))), m[MAX_FLOATS] __attribute__((aligned(64))),
    v[MAX_FLOATS] __attribute__((aligned(64))), scratch[MAX_FLOATS] __attribute__((aligned(64)));

static unsigned int state = 12345u;
static float uniform(void) { /* in [−1, 1): the same numbers on every machine */
    state = state * 1664525u + 1013904223u;
    return (float)(state >> 8) / 8388608.0f - 1.0f;
}

int main(int argc, char **argv) {
    if (!bind_kernel()) { fprintf(stderr, "the kernel's DLL did not load\n"); return 3; }
    const char *acts[] = {"linear", "relu", "tanh", "sigmoid", "leaky_relu"};
    int act = 2, opt = 1, n_steps = argc > 3 ? atoi(argv[3]) : 1000;
    for (int k = 0; argc > 1 && k < 5; k++) if (!strcmp(argv[1], acts[k])) act = k;
    if (argc > 2) opt = !strcmp(argv[2], "adam");
    enum { L = 3, U = 8, N = 20, B = 6, EPOCHS = 2, BLOCKS = 2 };
    const int rows[L] = {8, 8, 1}, cols[L] = {2, 8, 8};
    int vs = block_seeds();
    size_t P = 0;
    for (int l = 0; l < L; l++) P += (size_t)rows[l] * cols[l] + rows[l];
    size_t n = (size_t)BLOCKS * P * vs;
    if (n > MAX_FLOATS || scratch_floats(L, U, B) > MAX_FLOATS) return 2;
    float X[EPOCHS * N * 2], t[EPOCHS * N];
    for (size_t i = 0; i < n; i++) { params[i] = 0.6f * uniform(); m[i] = v[i] = 0.0f; }
    for (int i = 0; i < EPOCHS * N; i++) {
        X[2 * i] = uniform(), X[2 * i + 1] = uniform();
        t[i] = X[2 * i] * X[2 * i + 1] > 0 ? 1.0f : -1.0f;
    }
    int done = train_steps(params, m, v, scratch, L, rows, cols, U, act, 0.01f, 0, opt, 0, 0.0f, 0.03f,
                           X, t, N, EPOCHS, B, 0, n_steps, 0, BLOCKS, 1, 0);
    printf("%d %d\n", vs, done);
    for (size_t i = 0; i < n; i++) printf("%.9g\n", params[i]);
    return done >= 0 ? 0 : 1;
}
