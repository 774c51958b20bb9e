/*
 * Problems for `check` and `bench`: host tensors filled with random values (the reference reads
 * these), poisoned outputs, and for `--backend cuda` device mirrors made with the public device
 * memory helpers. Also the few platform helpers the tool needs (clock, CPU name).
 */
#define _POSIX_C_SOURCE 200809L

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "reference.h"

/* Sizes beyond this many elements are refused outright (keeps every byte count within int64). */
#define CLI_MAX_ELEMENTS ((int64_t)1 << 56)
/* A problem may take at most this fraction of the physical memory (a typo in a size should fail
 * with a message, not wake the OOM killer half-way through filling the inputs). */
#define CLI_MAX_MEMORY_FRACTION 0.75

/* ---- platform helpers ---- */

double cli_now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double cli_cpu_seconds(void)
{
    struct timespec ts;
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) != 0)
        return 0;
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void cli_load_average(char *buf, size_t n)
{
    buf[0] = '\0';
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    char word[32];
    if (fscanf(f, "%31s", word) == 1)
        snprintf(buf, n, "%s", word);
    fclose(f);
}

void cli_cpu_description(char *buf, size_t n)
{
    char model[256] = "unknown CPU";
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (f) {
        char line[512];
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                const char *colon = strchr(line, ':');
                if (colon) {
                    colon++;
                    while (*colon == ' ' || *colon == '\t')
                        colon++;
                    snprintf(model, sizeof model, "%s", colon);
                    model[strcspn(model, "\r\n")] = '\0';
                }
                break;
            }
        }
        fclose(f);
    }
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(buf, n, "%s, %ld cores", model, cores > 0 ? cores : 1L);
}

void cli_report_status(const char *what, fc_status st)
{
    char detail[1024];
    snprintf(detail, sizeof detail, "%s", fc_last_error()); /* before any other flashcore call */
    fprintf(stderr, "flashcore: %s: %s (%s)%s%s\n", what, fc_status_name(st), fc_status_string(st),
            detail[0] ? ": " : "", detail);
}

cli_backend cli_resolve_backend(cli_backend requested)
{
    if (requested != CLI_BACKEND_DEFAULT)
        return requested;
    int count = 0;
    if (fc_has_cuda() && fc_cuda_device_count(&count) == FC_SUCCESS && count > 0)
        return CLI_BACKEND_CUDA;
    return CLI_BACKEND_CPU;
}

int cli_backend_usable(cli_backend backend, int device)
{
    if (backend != CLI_BACKEND_CUDA)
        return 1;
    int count = 0;
    if (!fc_has_cuda()) {
        fprintf(stderr, "flashcore: --backend cuda: this flashcore was built without the CUDA backend\n");
        return 0;
    }
    fc_status st = fc_cuda_device_count(&count);
    if (st != FC_SUCCESS) {
        cli_report_status("fc_cuda_device_count", st);
        return 0;
    }
    if (device >= count) {
        fprintf(stderr, "flashcore: --device %d: %d CUDA device%s visible\n", device, count,
                count == 1 ? " is" : "s are");
        return 0;
    }
    return 1;
}

/* ---- problem setup ---- */

/* splitmix64: random sequence lengths for --varlen without lists (a separate stream from the
 * inputs' generator, derived from the same seed so that --seed repeats both). */
static uint64_t splitmix64(uint64_t *state)
{
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* Elements of a tensor of `shape` with `pad` extra per non-last dim; -1 when too many. */
static int64_t padded_elements(int ndim, const int64_t *shape, int pad)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        int64_t ext = shape[d] + (d + 1 < ndim ? pad : 0);
        if (ext > 0 && n > CLI_MAX_ELEMENTS / ext)
            return -1;
        n *= ext;
    }
    return n;
}

/* Refuse problems that cannot fit: q, k, v, out (padded), and the two float64 outputs of the
 * reference that `check` allocates (counted for `bench` too: an upper bound is enough here). */
static int fits_in_memory(int ndim, const int64_t *qshape, const int64_t *kshape, int pad, fc_dtype dtype)
{
    int64_t nq = padded_elements(ndim, qshape, pad), nk = padded_elements(ndim, kshape, pad);
    int64_t dense_q = padded_elements(ndim, qshape, 0);
    double bytes = -1;
    if (nq >= 0 && nk >= 0 && dense_q >= 0)
        bytes = (double)fc_dtype_size(dtype) * (2.0 * (double)nq + 2.0 * (double)nk) + 16.0 * (double)dense_q;
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    double limit = pages > 0 && page > 0 ? CLI_MAX_MEMORY_FRACTION * (double)pages * (double)page : 1e300;
    if (bytes >= 0 && bytes <= limit)
        return 1;
    if (bytes < 0)
        fprintf(stderr, "flashcore: the tensors of this shape are too large to describe; choose a smaller shape\n");
    else
        fprintf(stderr, "flashcore: this shape needs about %.1f GiB of host memory (inputs, outputs, reference); "
                        "the limit here is %.1f GiB\n", bytes / 1073741824.0, limit / 1073741824.0);
    return 0;
}

static int alloc_host(fc_tensor *t, int64_t *nelem, fc_dtype dtype, int ndim, const int64_t *shape,
                      int pad, const char *name)
{
    int64_t pads[FC_MAX_DIMS] = {0, 0, 0, 0};
    for (int d = 0; d + 1 < ndim; d++)
        pads[d] = pad;
    void *data = fc_t_alloc(t, dtype, ndim, shape, pads, nelem);
    t->data = data;
    if (!data) {
        fprintf(stderr, "flashcore: out of host memory allocating %s\n", name);
        return 1;
    }
    return 0;
}

static int device_copy(void **dst, const void *src, size_t bytes, int device, const char *name)
{
    fc_status st = fc_cuda_malloc(dst, bytes ? bytes : 1, device);
    if (st != FC_SUCCESS) {
        *dst = NULL;
        cli_report_status(name, st);
        return 1;
    }
    if (bytes && (st = fc_cuda_memcpy(*dst, src, bytes, FC_MEMCPY_H2D)) != FC_SUCCESS) {
        cli_report_status(name, st);
        return 1;
    }
    return 0;
}

/* *dev = a device copy of the host tensor (same shape and strides). On failure *dev keeps
 * describing the host tensor, which cli_problem_free recognises as "no device copy". */
static int mirror(fc_tensor *dev, const fc_tensor *host, size_t bytes, int device, const char *name)
{
    void *data = NULL;
    if (device_copy(&data, host->data, bytes, device, name)) {
        fc_cuda_free(data);
        return 1;
    }
    *dev = *host;
    dev->data = data;
    dev->device = FC_DEVICE_CUDA;
    dev->device_ordinal = device;
    return 0;
}

/* Fill the varlen lengths (the given lists, else random ones) and the host cu_seqlens. The
 * problem owns copies of the lists. */
static int setup_varlen(cli_problem *p, const cli_shape *given, uint64_t seed)
{
    cli_shape *s = &p->shape;
    s->num_seqs = given->seqlens_q ? given->num_seqs : s->batch;
    s->seqlens_q = malloc((size_t)s->num_seqs * sizeof(int32_t));
    s->seqlens_k = malloc((size_t)s->num_seqs * sizeof(int32_t));
    if (!s->seqlens_q || !s->seqlens_k) {
        fprintf(stderr, "flashcore: out of host memory\n");
        return 1;
    }
    if (given->seqlens_q) {
        memcpy(s->seqlens_q, given->seqlens_q, (size_t)s->num_seqs * sizeof(int32_t));
        memcpy(s->seqlens_k, given->seqlens_k ? given->seqlens_k : given->seqlens_q,
               (size_t)s->num_seqs * sizeof(int32_t));
    } else {
        uint64_t st = seed ^ 0x5EED5EED5EED5EEDull;
        for (int i = 0; i < s->num_seqs; i++) {
            s->seqlens_q[i] = (int32_t)(1 + splitmix64(&st) % (uint64_t)s->seqlen_q);
            s->seqlens_k[i] = s->seqlen_q == s->seqlen_k ? s->seqlens_q[i]
                                                         : (int32_t)(1 + splitmix64(&st) % (uint64_t)s->seqlen_k);
        }
        int64_t tq = 0, tk = 0;
        for (int i = 0; i < s->num_seqs; i++) {
            tq += s->seqlens_q[i];
            tk += s->seqlens_k[i];
        }
        if (tq > INT32_MAX || tk > INT32_MAX) {
            fprintf(stderr, "flashcore: varlen totals exceed the int32 range of cu_seqlens; use a smaller "
                            "--batch or --seqlen\n");
            return 1;
        }
    }
    p->cu_q = malloc(((size_t)s->num_seqs + 1) * sizeof(int32_t));
    p->cu_k = malloc(((size_t)s->num_seqs + 1) * sizeof(int32_t));
    if (!p->cu_q || !p->cu_k) {
        fprintf(stderr, "flashcore: out of host memory\n");
        return 1;
    }
    p->cu_q[0] = p->cu_k[0] = 0;
    int max_q = 0, max_k = 0;
    for (int i = 0; i < s->num_seqs; i++) {
        p->cu_q[i + 1] = p->cu_q[i] + s->seqlens_q[i];
        p->cu_k[i + 1] = p->cu_k[i] + s->seqlens_k[i];
        max_q = s->seqlens_q[i] > max_q ? s->seqlens_q[i] : max_q;
        max_k = s->seqlens_k[i] > max_k ? s->seqlens_k[i] : max_k;
    }
    s->batch = s->num_seqs;
    s->seqlen_q = max_q;
    s->seqlen_k = max_k;
    p->total_q = p->cu_q[s->num_seqs];
    p->total_k = p->cu_k[s->num_seqs];
    p->params.cu_seqlens_q = p->cu_q;
    p->params.cu_seqlens_k = p->cu_k;
    p->params.num_seqs = s->num_seqs;
    p->params.max_seqlen_q = max_q;
    p->params.max_seqlen_k = max_k;
    return 0;
}

static int setup(cli_problem *p, const cli_shape *given, uint64_t seed)
{
    cli_shape *s = &p->shape;
    fc_attention_params_init(&p->params);
    p->params.softmax_scale = (float)s->scale;
    p->params.causal = s->causal;
    p->params.window_left = s->window_left;
    p->params.window_right = s->window_right;
    p->params.softcap = (float)s->softcap;

    int64_t qshape[4], kshape[4], lshape[3];
    int ndim;
    if (s->varlen) {
        if (setup_varlen(p, given, seed))
            return 1;
        ndim = 3;
        qshape[0] = p->total_q;
        kshape[0] = p->total_k;
        qshape[1] = s->heads_q;
        kshape[1] = s->heads_kv;
        qshape[2] = kshape[2] = s->head_dim;
        lshape[0] = s->heads_q;
        lshape[1] = p->total_q;
    } else {
        ndim = 4;
        p->total_q = (int64_t)s->batch * s->seqlen_q;
        p->total_k = (int64_t)s->batch * s->seqlen_k;
        qshape[0] = kshape[0] = s->batch;
        qshape[1] = s->seqlen_q;
        kshape[1] = s->seqlen_k;
        qshape[2] = s->heads_q;
        kshape[2] = s->heads_kv;
        qshape[3] = kshape[3] = s->head_dim;
        lshape[0] = s->batch;
        lshape[1] = s->heads_q;
        lshape[2] = s->seqlen_q;
    }
    if (!fits_in_memory(ndim, qshape, kshape, s->pad, s->dtype))
        return 1;
    if (alloc_host(&p->q, &p->q_n, s->dtype, ndim, qshape, s->pad, "q") ||
        alloc_host(&p->k, &p->k_n, s->dtype, ndim, kshape, s->pad, "k") ||
        alloc_host(&p->v, &p->v_n, s->dtype, ndim, kshape, s->pad, "v") ||
        alloc_host(&p->out, &p->out_n, s->dtype, ndim, qshape, s->pad, "out"))
        return 1;
    if (s->lse && alloc_host(&p->lse, &p->lse_n, FC_DTYPE_F32, ndim - 1, lshape, 0, "lse"))
        return 1;

    fc_rng rng;
    rng.s = seed;
    fc_t_fill_random(&p->q, &rng, 1.0);
    fc_t_fill_random(&p->k, &rng, 1.0);
    fc_t_fill_random(&p->v, &rng, 1.0);

    /* What the library receives: the same tensors, or their device mirrors. */
    p->dq = p->q;
    p->dk = p->k;
    p->dv = p->v;
    p->dout = p->out;
    p->dlse = p->lse;
    p->dparams = p->params;
    if (p->on_cuda) {
        size_t es = fc_dtype_size(s->dtype);
        if (mirror(&p->dq, &p->q, (size_t)p->q_n * es, p->device, "device q") ||
            mirror(&p->dk, &p->k, (size_t)p->k_n * es, p->device, "device k") ||
            mirror(&p->dv, &p->v, (size_t)p->v_n * es, p->device, "device v") ||
            mirror(&p->dout, &p->out, (size_t)p->out_n * es, p->device, "device out") ||
            (s->lse && mirror(&p->dlse, &p->lse, (size_t)p->lse_n * sizeof(float), p->device, "device lse")))
            return 1;
        if (s->varlen) {
            size_t bytes = ((size_t)s->num_seqs + 1) * sizeof(int32_t);
            void *cq = NULL, *ck = NULL;
            int bad = device_copy(&cq, p->cu_q, bytes, p->device, "device cu_seqlens_q");
            p->dparams.cu_seqlens_q = cq ? cq : p->cu_q;
            bad = bad || device_copy(&ck, p->cu_k, bytes, p->device, "device cu_seqlens_k");
            p->dparams.cu_seqlens_k = ck ? ck : p->cu_k;
            if (bad)
                return 1;
        }
    }

    fc_status st = fc_attention_workspace_size(&p->dq, &p->dk, &p->dv, &p->dout, s->lse ? &p->dlse : NULL,
                                               &p->dparams, &p->workspace_size);
    if (st != FC_SUCCESS) {
        cli_report_status("fc_attention_workspace_size", st);
        return 1;
    }
    if (p->workspace_size) {
        if (p->on_cuda) {
            if ((st = fc_cuda_malloc(&p->workspace, p->workspace_size, p->device)) != FC_SUCCESS) {
                p->workspace = NULL;
                cli_report_status("workspace", st);
                return 1;
            }
        } else if (!(p->workspace = malloc(p->workspace_size))) {
            fprintf(stderr, "flashcore: out of host memory allocating the workspace\n");
            return 1;
        }
    }
    return cli_problem_poison_outputs(p);
}

int cli_problem_setup(cli_problem *p, const cli_shape *shape, int on_cuda, int device, uint64_t seed)
{
    memset(p, 0, sizeof *p);
    p->shape = *shape;
    p->shape.seqlens_q = p->shape.seqlens_k = NULL; /* owned copies are made by setup_varlen */
    if (!p->shape.heads_kv)
        p->shape.heads_kv = p->shape.heads_q;
    p->on_cuda = on_cuda;
    p->device = device;
    if (setup(p, shape, seed)) {
        cli_problem_free(p);
        return 1;
    }
    return 0;
}

int cli_problem_poison_outputs(cli_problem *p)
{
    fc_t_poison(p->out.data, p->shape.dtype, p->out_n);
    if (p->lse.data)
        fc_t_poison(p->lse.data, FC_DTYPE_F32, p->lse_n);
    if (!p->on_cuda)
        return 0;
    fc_status st = fc_cuda_memcpy(p->dout.data, p->out.data, (size_t)p->out_n * fc_dtype_size(p->shape.dtype),
                                  FC_MEMCPY_H2D);
    if (st == FC_SUCCESS && p->lse.data)
        st = fc_cuda_memcpy(p->dlse.data, p->lse.data, (size_t)p->lse_n * sizeof(float), FC_MEMCPY_H2D);
    if (st != FC_SUCCESS) {
        cli_report_status("poisoning the device outputs", st);
        return 1;
    }
    return 0;
}

fc_status cli_problem_run(cli_problem *p)
{
    return fc_attention_forward(&p->dq, &p->dk, &p->dv, &p->dout, p->shape.lse ? &p->dlse : NULL, &p->dparams,
                                p->workspace, p->workspace_size, NULL);
}

fc_status cli_problem_sync(cli_problem *p) { return p->on_cuda ? fc_cuda_synchronize(p->device) : FC_SUCCESS; }

fc_status cli_problem_fetch(cli_problem *p)
{
    if (!p->on_cuda)
        return FC_SUCCESS;
    fc_status st = fc_cuda_memcpy(p->out.data, p->dout.data, (size_t)p->out_n * fc_dtype_size(p->shape.dtype),
                                  FC_MEMCPY_D2H);
    if (st == FC_SUCCESS && p->lse.data)
        st = fc_cuda_memcpy(p->lse.data, p->dlse.data, (size_t)p->lse_n * sizeof(float), FC_MEMCPY_D2H);
    return st;
}

void cli_problem_free(cli_problem *p)
{
    if (p->on_cuda) {
        /* device mirrors are only set once their host tensor was; NULL is accepted by fc_cuda_free */
        if (p->dq.data != p->q.data)
            fc_cuda_free(p->dq.data);
        if (p->dk.data != p->k.data)
            fc_cuda_free(p->dk.data);
        if (p->dv.data != p->v.data)
            fc_cuda_free(p->dv.data);
        if (p->dout.data != p->out.data)
            fc_cuda_free(p->dout.data);
        if (p->dlse.data != p->lse.data)
            fc_cuda_free(p->dlse.data);
        if (p->dparams.cu_seqlens_q != p->cu_q)
            fc_cuda_free((void *)p->dparams.cu_seqlens_q);
        if (p->dparams.cu_seqlens_k != p->cu_k)
            fc_cuda_free((void *)p->dparams.cu_seqlens_k);
        fc_cuda_free(p->workspace);
    } else {
        free(p->workspace);
    }
    free(p->q.data);
    free(p->k.data);
    free(p->v.data);
    free(p->out.data);
    free(p->lse.data);
    free(p->cu_q);
    free(p->cu_k);
    free(p->shape.seqlens_q);
    free(p->shape.seqlens_k);
    memset(p, 0, sizeof *p);
}

double cli_problem_flops(const cli_problem *p)
{
    const cli_shape *s = &p->shape;
    double per_pair = 4.0 * s->heads_q * (double)s->head_dim;
    if (!s->varlen) {
        double f = per_pair * s->batch * (double)s->seqlen_q * (double)s->seqlen_k;
        return s->causal && s->seqlen_q == s->seqlen_k ? 0.5 * f : f;
    }
    double total = 0;
    for (int i = 0; i < s->num_seqs; i++) {
        double f = per_pair * (double)s->seqlens_q[i] * (double)s->seqlens_k[i];
        total += s->causal && s->seqlens_q[i] == s->seqlens_k[i] ? 0.5 * f : f;
    }
    return total;
}

void cli_shape_describe(const cli_problem *p, char *buf, size_t n)
{
    const cli_shape *s = &p->shape;
    size_t len = 0;
#define APPEND(...)                                                                                     \
    do {                                                                                                \
        if (len < n) {                                                                                  \
            int w_ = snprintf(buf + len, n - len, __VA_ARGS__);                                         \
            len += w_ > 0 ? (size_t)w_ : 0;                                                             \
        }                                                                                               \
    } while (0)
    if (s->varlen)
        APPEND("varlen n=%d tq=%lld tk=%lld", s->num_seqs, (long long)p->total_q, (long long)p->total_k);
    else
        APPEND("B=%d", s->batch);
    if (s->heads_kv == s->heads_q)
        APPEND(" H=%d", s->heads_q);
    else
        APPEND(" H=%d/%d", s->heads_q, s->heads_kv);
    if (s->seqlen_q == s->seqlen_k)
        APPEND(" S%s=%d", s->varlen ? "max" : "", s->seqlen_q);
    else
        APPEND(" Sq%s=%d Sk%s=%d", s->varlen ? "max" : "", s->seqlen_q, s->varlen ? "max" : "", s->seqlen_k);
    APPEND(" D=%d %s", s->head_dim, cli_dtype_name(s->dtype));
    if (s->causal)
        APPEND(" causal");
    if (s->window_left != -1 || s->window_right != -1)
        APPEND(" window=%d,%d", s->window_left, s->window_right);
    if (s->softcap != 0)
        APPEND(" softcap=%g", s->softcap);
    if (s->scale != 0)
        APPEND(" scale=%g", s->scale);
    if (s->lse)
        APPEND(" lse");
    if (s->pad)
        APPEND(" pad=%d", s->pad);
#undef APPEND
}
