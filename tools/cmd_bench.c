/*
 * `flashcore bench`: median time per forward call and TFLOP/s, for one shape or a named sweep, on
 * one backend, for the library or (--impl reference) the float64 reference.
 *
 * Timing: host monotonic clock. On the CPU each sample is one call. On CUDA the public API offers
 * no events, so each sample is a batch of calls followed by fc_cuda_synchronize, divided by the
 * batch size; the batch is sized from the last warm-up call so that a sample lasts about
 * CLI_MIN_SAMPLE_SECONDS. bench/compare.py (CUDA events, L2 rotation, peers in the same process) is
 * the precise GPU timer; this one is for quick looks and for the CPU.
 *
 * On the CPU the table also shows the processor time per call summed over the threads ("cpu us"),
 * and the header the load average: on a shared machine, wall time grows with the other load while
 * processor time barely does, so the pair tells a reader how far to trust a row.
 */
#define _POSIX_C_SOURCE 200809L

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "reference.h"

/* A sample should last at least this long so that clock and launch overheads stay small. */
#define CLI_MIN_SAMPLE_SECONDS 1e-3
/* ...but never repeat a call more often than this within one sample. */
#define CLI_MAX_CALLS_PER_SAMPLE 10000
/* The fa sweep: a fixed token count and model width, as in the FlashAttention papers. */
#define FA_TOKENS 16384
#define FA_MODEL_WIDTH 2048

typedef struct bench_row {
    const char *sweep;
    cli_shape shape;      /* as timed (heads_kv resolved) */
    char desc[512];
    double us;            /* median microseconds per call; NAN when the row failed */
    double cpu_us;        /* processor microseconds per call, all threads (timed samples) */
    double tflops;
} bench_row;

/* ---- the rows to time ---- */

static int sweep_rows(const cli_options *o, cli_shape *rows, int max_rows)
{
    static const int seed_seqlens[] = {256, 512, 1024};
    static const int fa_seqlens[] = {512, 1024, 2048, 4096, 8192, 16384};
    static const int fa_head_dims[] = {64, 128, 256};
    static const int decode_seqlens_k[] = {1024, 4096, 8192, 16384};
    int n = 0;
    cli_shape base = o->shape;
    base.causal = 0;
    base.window_left = base.window_right = -1;
    base.softcap = base.scale = 0;
    base.varlen = 0;
    base.pad = 0;
    base.heads_kv = 0;
    base.seqlens_q = base.seqlens_k = NULL;
    if (strcmp(o->sweep, "seed") == 0) {
        for (size_t i = 0; i < sizeof seed_seqlens / sizeof seed_seqlens[0]; i++) {
            cli_shape s = base;
            s.batch = 1;
            s.heads_q = 8;
            s.seqlen_q = s.seqlen_k = seed_seqlens[i];
            s.head_dim = 64;
            s.dtype = o->dtype_given ? o->shape.dtype : FC_DTYPE_F16;
            if (n < max_rows)
                rows[n++] = s;
        }
    } else if (strcmp(o->sweep, "decode") == 0) {
        /* one new token per sequence against a long KV cache, grouped-query heads (bench/sweeps.py) */
        for (size_t i = 0; i < sizeof decode_seqlens_k / sizeof decode_seqlens_k[0]; i++) {
            cli_shape s = base;
            s.batch = 32;
            s.heads_q = 32;
            s.heads_kv = 8;
            s.seqlen_q = 1;
            s.seqlen_k = decode_seqlens_k[i];
            s.head_dim = 128;
            s.dtype = o->dtype_given ? o->shape.dtype : FC_DTYPE_BF16;
            if (n < max_rows)
                rows[n++] = s;
        }
    } else { /* fa */
        for (size_t d = 0; d < sizeof fa_head_dims / sizeof fa_head_dims[0]; d++)
            for (int causal = 0; causal <= 1; causal++)
                for (size_t i = 0; i < sizeof fa_seqlens / sizeof fa_seqlens[0]; i++) {
                    cli_shape s = base;
                    s.seqlen_q = s.seqlen_k = fa_seqlens[i];
                    s.batch = FA_TOKENS / fa_seqlens[i];
                    s.head_dim = fa_head_dims[d];
                    s.heads_q = FA_MODEL_WIDTH / fa_head_dims[d];
                    s.causal = causal;
                    s.dtype = o->dtype_given ? o->shape.dtype : FC_DTYPE_BF16;
                    if (n < max_rows)
                        rows[n++] = s;
                }
    }
    /* the cut */
    int kept = 0;
    for (int i = 0; i < n; i++) {
        int len = rows[i].seqlen_q > rows[i].seqlen_k ? rows[i].seqlen_q : rows[i].seqlen_k;
        if ((o->max_seqlen && len > o->max_seqlen) || (o->min_seqlen && len < o->min_seqlen))
            continue;
        rows[kept++] = rows[i];
    }
    return kept;
}

/* ---- timing ---- */

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* One timed unit: `calls` library calls then a sync, or one reference call. Returns seconds, or -1
 * after reporting an error. */
static double time_calls(cli_problem *p, cli_impl impl, int calls, double *ref_out, double *ref_lse)
{
    double t0 = cli_now_seconds();
    if (impl == CLI_IMPL_REFERENCE) {
        for (int c = 0; c < calls; c++)
            if (fc_ref_forward(&p->q, &p->k, &p->v, &p->params, FC_REF_F64, ref_out, ref_lse) != 0) {
                fprintf(stderr, "flashcore: the reference cannot handle these arguments\n");
                return -1;
            }
        return cli_now_seconds() - t0;
    }
    for (int c = 0; c < calls; c++) {
        fc_status st = cli_problem_run(p);
        if (st != FC_SUCCESS) {
            cli_report_status("fc_attention_forward", st);
            return -1;
        }
    }
    fc_status st = cli_problem_sync(p);
    if (st != FC_SUCCESS) {
        cli_report_status("fc_cuda_synchronize", st);
        return -1;
    }
    return cli_now_seconds() - t0;
}

/* Median seconds per call, or -1 on error; *cpu_per_call = processor seconds per timed call. */
static double time_row(cli_problem *p, const cli_options *o, double *cpu_per_call)
{
    double *ref_out = NULL, *ref_lse = NULL;
    double *samples = malloc((size_t)o->repeats * sizeof(double));
    double result = -1;
    if (o->impl == CLI_IMPL_REFERENCE) {
        int64_t n_out = p->total_q * p->shape.heads_q * (int64_t)p->shape.head_dim;
        ref_out = malloc((size_t)n_out * sizeof(double));
        ref_lse = p->shape.lse ? malloc((size_t)(p->total_q * p->shape.heads_q) * sizeof(double)) : NULL;
        if (!ref_out || (p->shape.lse && !ref_lse)) {
            fprintf(stderr, "flashcore: out of host memory for the reference output\n");
            goto done;
        }
    }
    if (!samples) {
        fprintf(stderr, "flashcore: out of host memory\n");
        goto done;
    }
    double last = 0;
    for (int w = 0; w < o->warmup; w++)
        if ((last = time_calls(p, o->impl, 1, ref_out, ref_lse)) < 0)
            goto done;
    int calls = 1;
    if (o->impl == CLI_IMPL_FLASHCORE && o->warmup > 0 && last < CLI_MIN_SAMPLE_SECONDS) {
        double want = last > 0 ? ceil(CLI_MIN_SAMPLE_SECONDS / last) : CLI_MAX_CALLS_PER_SAMPLE;
        calls = want > CLI_MAX_CALLS_PER_SAMPLE ? CLI_MAX_CALLS_PER_SAMPLE : (int)want;
    }
    double cpu0 = cli_cpu_seconds();
    for (int r = 0; r < o->repeats; r++) {
        double t = time_calls(p, o->impl, calls, ref_out, ref_lse);
        if (t < 0)
            goto done;
        samples[r] = t / calls;
    }
    *cpu_per_call = (cli_cpu_seconds() - cpu0) / ((double)o->repeats * calls);
    qsort(samples, (size_t)o->repeats, sizeof(double), cmp_double);
    result = o->repeats % 2 ? samples[o->repeats / 2]
                            : 0.5 * (samples[o->repeats / 2 - 1] + samples[o->repeats / 2]);
done:
    free(samples);
    free(ref_out);
    free(ref_lse);
    return result;
}

/* ---- output ---- */

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

static void json_number(FILE *f, double x, const char *fmt)
{
    if (isfinite(x))
        fprintf(f, fmt, x);
    else
        fputs("null", f);
}

static int write_json(const char *path, const char *device, const char *date, const bench_row *rows, int n,
                      cli_impl impl)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "flashcore bench: cannot write %s\n", path);
        return 1;
    }
    fprintf(f, "{\n  \"device\": ");
    json_string(f, device);
    fprintf(f, ",\n  \"date\": ");
    json_string(f, date);
    fprintf(f, ",\n  \"commit\": null,\n  \"rows\": [");
    int first = 1;
    for (int i = 0; i < n; i++) {
        const bench_row *r = &rows[i];
        if (!isfinite(r->us))
            continue; /* failed rows are reported on stderr, not recorded */
        const cli_shape *s = &r->shape;
        fprintf(f, "%s\n    {\"sweep\": ", first ? "" : ",");
        json_string(f, r->sweep);
        fprintf(f, ", \"batch\": %d, \"heads_q\": %d, \"heads_kv\": %d, \"seqlen_q\": %d, \"seqlen_k\": %d, "
                   "\"head_dim\": %d, \"causal\": %s, \"dtype\": \"%s\", \"mode\": \"fwd\", \"impl\": \"%s\", "
                   "\"us\": ",
                s->batch, s->heads_q, s->heads_kv, s->seqlen_q, s->seqlen_k, s->head_dim,
                s->causal ? "true" : "false", cli_dtype_name(s->dtype),
                impl == CLI_IMPL_REFERENCE ? "reference-f64" : "flashcore");
        json_number(f, r->us, "%.3f");
        fprintf(f, ", \"tflops\": ");
        json_number(f, r->tflops, "%.6g");
        fprintf(f, ", \"max_err\": null}");
        first = 0;
    }
    fprintf(f, "%s]\n}\n", first ? "" : "\n  ");
    if (fclose(f) != 0) {
        fprintf(stderr, "flashcore bench: error writing %s\n", path);
        return 1;
    }
    return 0;
}

static void describe_device(cli_backend backend, int device, char *buf, size_t n)
{
    if (backend == CLI_BACKEND_CUDA) {
        fc_device_info info;
        memset(&info, 0, sizeof info);
        if (fc_cuda_device_info(device, &info) == FC_SUCCESS) {
            info.name[sizeof info.name - 1] = '\0';
            snprintf(buf, n, "cuda:%d %s (sm_%d, %d SMs)", device, info.name, info.sm, info.multiprocessors);
        } else {
            snprintf(buf, n, "cuda:%d", device);
        }
        return;
    }
    char cpu[384];
    cli_cpu_description(cpu, sizeof cpu);
    snprintf(buf, n, "cpu: %s", cpu);
}

/* ---- the command ---- */

#define CLI_MAX_BENCH_ROWS 64

int cli_cmd_bench(int argc, char **argv)
{
    cli_options o;
    int rc = cli_parse(argc, argv, 2, CLI_CMD_BENCH, &o);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;

    cli_backend backend = o.impl == CLI_IMPL_REFERENCE ? CLI_BACKEND_CPU : cli_resolve_backend(o.backend);
    if (!cli_backend_usable(backend, o.device)) {
        cli_options_free(&o);
        return CLI_EXIT_FAIL;
    }
    uint64_t seed = o.have_seed ? o.seed : fc_t_fresh_seed();
    cli_shape shapes[CLI_MAX_BENCH_ROWS];
    int n = 1;
    if (o.sweep)
        n = sweep_rows(&o, shapes, CLI_MAX_BENCH_ROWS);
    else
        shapes[0] = o.shape;
    if (n == 0) {
        cli_options_free(&o);
        return cli_usage_error(CLI_CMD_BENCH, "the seqlen cut leaves no row of --sweep");
    }
    bench_row *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) {
        fprintf(stderr, "flashcore: out of host memory\n");
        cli_options_free(&o);
        return CLI_EXIT_FAIL;
    }

    char device[512], date[32];
    describe_device(backend, o.device, device, sizeof device);
    time_t now = time(NULL);
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    int on_cpu = backend == CLI_BACKEND_CPU;
    char load[32];
    cli_load_average(load, sizeof load);
    printf("# flashcore bench: %s, impl %s, %d warm-up + median of %d, %s", device,
           o.impl == CLI_IMPL_REFERENCE ? "reference-f64" : "flashcore", o.warmup, o.repeats, date);
    if (on_cpu && load[0])
        printf(", load average %s", load);
    printf("\n%-56s %14s %10s%s\n", "shape", "us", "TFLOP/s", on_cpu ? "         cpu us" : "");
    fflush(stdout);

    int failed = 0;
    for (int i = 0; i < n; i++) {
        bench_row *r = &rows[i];
        r->sweep = o.sweep ? o.sweep : "custom";
        r->us = r->tflops = NAN;
        cli_problem p;
        if (cli_problem_setup(&p, &shapes[i], backend == CLI_BACKEND_CUDA, o.device, seed)) {
            failed++;
            r->shape = shapes[i];
            snprintf(r->desc, sizeof r->desc, "(row %d: setup failed)", i + 1);
            continue;
        }
        r->shape = p.shape;
        r->shape.seqlens_q = r->shape.seqlens_k = NULL; /* the problem owns them */
        cli_shape_describe(&p, r->desc, sizeof r->desc);
        if (o.sweep && !o.quiet) {
            fprintf(stderr, "bench: [%d/%d] %s ...\n", i + 1, n, r->desc);
            fflush(stderr);
        }
        double cpu = 0;
        double sec = time_row(&p, &o, &cpu);
        if (sec < 0) {
            failed++;
            printf("%-56s %14s %10s\n", r->desc, "error", "-");
        } else {
            r->us = sec * 1e6;
            r->cpu_us = cpu * 1e6;
            r->tflops = cli_problem_flops(&p) / sec * 1e-12;
            printf("%-56s %14.1f %10.4g", r->desc, r->us, r->tflops);
            if (on_cpu)
                printf(" %14.1f", r->cpu_us);
            printf("\n");
        }
        fflush(stdout);
        cli_problem_free(&p);
    }

    if (o.json_path && write_json(o.json_path, device, date, rows, n, o.impl))
        failed++;
    free(rows);
    cli_options_free(&o);
    return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
