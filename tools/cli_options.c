/*
 * Options of `flashcore check` and `flashcore bench`: one table drives parsing and the usage text.
 * Every malformed input ends in a message plus usage on stderr and CLI_EXIT_USAGE, never a crash.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

typedef enum {
    OPT_HELP, OPT_BACKEND, OPT_DEVICE, OPT_BATCH, OPT_HEADS, OPT_KV_HEADS, OPT_SEQLEN, OPT_SEQLEN_Q,
    OPT_SEQLEN_K, OPT_HEAD_DIM, OPT_DTYPE, OPT_CAUSAL, OPT_WINDOW, OPT_SOFTCAP, OPT_SCALE, OPT_VARLEN,
    OPT_SEQLENS_Q, OPT_SEQLENS_K, OPT_LSE, OPT_PAD, OPT_SEED,
    OPT_SWEEP, OPT_MAX_SEQLEN, OPT_MIN_SEQLEN, OPT_REPEATS, OPT_WARMUP, OPT_JSON, OPT_IMPL, OPT_QUIET
} opt_id;

typedef struct {
    const char *name;    /* "--batch" */
    const char *metavar; /* NULL = a switch without a value */
    unsigned cmds;       /* CLI_CMD_* it belongs to */
    opt_id id;
    int is_shape;        /* fixes part of the shape (refused together with --sweep) */
    const char *help;
} cli_option;

#define BOTH (CLI_CMD_CHECK | CLI_CMD_BENCH)
static const cli_option k_options[] = {
    {"--backend", "cpu|cuda", BOTH, OPT_BACKEND, 0, "backend (default: cuda if a GPU is visible, else cpu)"},
    {"--device", "N", BOTH, OPT_DEVICE, 0, "CUDA device ordinal (default 0)"},
    {"--batch", "N", BOTH, OPT_BATCH, 1, "batch size (varlen: number of random-length sequences)"},
    {"--heads", "N", BOTH, OPT_HEADS, 1, "query heads"},
    {"--kv-heads", "N", BOTH, OPT_KV_HEADS, 1, "key/value heads (default: --heads; fewer = GQA/MQA)"},
    {"--seqlen", "N", BOTH, OPT_SEQLEN, 1, "query and key sequence length"},
    {"--seqlen-q", "N", BOTH, OPT_SEQLEN_Q, 1, "query sequence length"},
    {"--seqlen-k", "N", BOTH, OPT_SEQLEN_K, 1, "key/value sequence length"},
    {"--head-dim", "N", BOTH, OPT_HEAD_DIM, 1, "head dimension (a multiple of 8, at most 256)"},
    {"--dtype", "fp16|bf16|fp32", BOTH, OPT_DTYPE, 0, "element type of q/k/v/out (fp32: CPU only)"},
    {"--causal", NULL, BOTH, OPT_CAUSAL, 1, "causal mask (bottom-right aligned)"},
    {"--window", "L,R", BOTH, OPT_WINDOW, 1, "local window: L keys left, R right (-1 = unbounded)"},
    {"--softcap", "X", BOTH, OPT_SOFTCAP, 1, "score soft-capping X*tanh(s/X) (0 = off)"},
    {"--scale", "X", BOTH, OPT_SCALE, 1, "softmax scale (default 1/sqrt(head_dim))"},
    {"--varlen", NULL, BOTH, OPT_VARLEN, 1, "packed variable-length batch (random lengths up to --seqlen)"},
    {"--seqlens-q", "A,B,..", BOTH, OPT_SEQLENS_Q, 1, "varlen query lengths (implies --varlen)"},
    {"--seqlens-k", "A,B,..", BOTH, OPT_SEQLENS_K, 1, "varlen key lengths (default: --seqlens-q)"},
    {"--lse", NULL, BOTH, OPT_LSE, 0, "also compute the log-sum-exp (check: and compare it)"},
    {"--pad", "N", BOTH, OPT_PAD, 1, "N extra elements per non-last dim of q/k/v/out (strided tensors)"},
    {"--seed", "N", BOTH, OPT_SEED, 0, "random seed of the inputs (default: $FC_TEST_SEED, else fresh each run)"},
    {"--sweep", "seed|fa|decode", CLI_CMD_BENCH, OPT_SWEEP, 0,
     "named sweep: seed = B1 H8 S256/512/1024 D64 fp16; fa = 16k tokens, H*D=2048, D64/128/256,"
     " causal and not, S512..16384, bf16 (--dtype fp16 for bench/compare.py's fa-fp16); decode = B32,"
     " 32 q heads over 8 kv heads, D128, Sq=1, Sk 1024..16384, bf16"},
    {"--max-seqlen", "N", CLI_CMD_BENCH, OPT_MAX_SEQLEN, 0, "skip sweep rows with a longer sequence"},
    {"--min-seqlen", "N", CLI_CMD_BENCH, OPT_MIN_SEQLEN, 0, "skip sweep rows with a shorter sequence"},
    {"--repeats", "N", CLI_CMD_BENCH, OPT_REPEATS, 0, "timed samples per row; the median is reported (default 10)"},
    {"--warmup", "N", CLI_CMD_BENCH, OPT_WARMUP, 0, "untimed calls before timing (default 2)"},
    {"--json", "FILE", CLI_CMD_BENCH, OPT_JSON, 0, "also write the rows as JSON to FILE"},
    {"--impl", "flashcore|reference", CLI_CMD_BENCH, OPT_IMPL, 0,
     "what to time: the library, or the float64 reference (CPU)"},
    {"--quiet", NULL, CLI_CMD_BENCH, OPT_QUIET, 0, "no progress lines on stderr"},
    {"--help", NULL, BOTH, OPT_HELP, 0, "show this help"},
};
#undef BOTH
#define NUM_OPTIONS ((int)(sizeof(k_options) / sizeof(k_options[0])))

static const char *cmd_name(unsigned cmd) { return cmd == CLI_CMD_BENCH ? "bench" : "check"; }

const char *cli_dtype_name(fc_dtype dtype)
{
    switch (dtype) {
    case FC_DTYPE_F16: return "fp16";
    case FC_DTYPE_BF16: return "bf16";
    case FC_DTYPE_F32: return "fp32";
    }
    return "?";
}

void cli_print_usage(FILE *f, unsigned cmd)
{
    if (cmd == CLI_CMD_CHECK) {
        fprintf(f, "usage: flashcore check [options]\n\n"
                   "Runs attention on fresh random inputs and compares it with the float64 reference.\n"
                   "PASS when max|out - ref64| <= 2 * max|lowp - ref64| + eps(dtype), where lowp is a plain\n"
                   "low-precision implementation (fp32 scores, P rounded to the dtype). Every output\n"
                   "element is poisoned before the run and must be written.\n"
                   "Exit status: 0 PASS, 1 FAIL or error, 2 usage error.\n\n"
                   "Defaults: --batch 2 --heads 4 --seqlen 128 --head-dim 64 --dtype fp16.\n\noptions:\n");
    } else {
        fprintf(f, "usage: flashcore bench [options]\n\n"
                   "Times one shape (the shape options) or a named sweep on one backend and prints the\n"
                   "median time per call and TFLOP/s, FLOPs = 4*B*H*Sq*Sk*D (half for causal when\n"
                   "Sq == Sk; windows are not discounted).\n"
                   "CUDA times are host wall clock around batches of calls plus fc_cuda_synchronize\n"
                   "(the public API has no CUDA events): fine for large shapes, optimistic about nothing,\n"
                   "pessimistic for microsecond shapes. bench/compare.py is the precise GPU timer.\n\n"
                   "Defaults: --batch 4 --heads 8 --seqlen 1024 --head-dim 64 --dtype fp16.\n\noptions:\n");
    }
    for (int i = 0; i < NUM_OPTIONS; i++) {
        const cli_option *op = &k_options[i];
        if (!(op->cmds & cmd))
            continue;
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", op->name, op->metavar ? " " : "", op->metavar ? op->metavar : "");
        fprintf(f, "  %-28s %s\n", left, op->help);
    }
}

int cli_usage_error(unsigned cmd, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "flashcore %s: ", cmd_name(cmd));
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n\n");
    cli_print_usage(stderr, cmd);
    return CLI_EXIT_USAGE;
}

/* ---- value parsers: 0 on success, non-zero for a malformed or out-of-range value ---- */

static int parse_long(const char *s, long lo, long hi, long *out)
{
    if (!s || !*s)
        return 1;
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end != '\0' || v < lo || v > hi)
        return 1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    long v;
    if (parse_long(s, lo, hi, &v))
        return 1;
    *out = (int)v;
    return 0;
}

static int parse_double(const char *s, double *out)
{
    if (!s || !*s)
        return 1;
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end != '\0' || !isfinite(v))
        return 1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s || *s == '-' || *s == '+')
        return 1;
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0); /* decimal or 0x hex */
    if (errno || end == s || *end != '\0')
        return 1;
    *out = (uint64_t)v;
    return 0;
}

/* "a,b,c" of integers in [0, INT32_MAX] into a new heap array. */
static int parse_list(const char *s, int32_t **out, int *count)
{
    if (!s || !*s)
        return 1;
    int n = 1;
    for (const char *c = s; *c; c++)
        n += *c == ',';
    if (n > CLI_MAX_SEQS)
        return 1;
    int32_t *vals = malloc((size_t)n * sizeof *vals);
    if (!vals)
        return 1;
    const char *c = s;
    for (int i = 0; i < n; i++) {
        const char *comma = strchr(c, ',');
        size_t len = comma ? (size_t)(comma - c) : strlen(c);
        char tmp[32];
        long v;
        if (len == 0 || len >= sizeof tmp) {
            free(vals);
            return 1;
        }
        memcpy(tmp, c, len);
        tmp[len] = '\0';
        if (parse_long(tmp, 0, INT32_MAX, &v)) {
            free(vals);
            return 1;
        }
        vals[i] = (int32_t)v;
        c = comma ? comma + 1 : c + len;
    }
    *out = vals;
    *count = n;
    return 0;
}

static int parse_window(const char *s, int *left, int *right)
{
    const char *comma = s ? strchr(s, ',') : NULL;
    char tmp[32];
    if (!comma || (size_t)(comma - s) >= sizeof tmp)
        return 1;
    memcpy(tmp, s, (size_t)(comma - s));
    tmp[comma - s] = '\0';
    return parse_int(tmp, -1, INT_MAX, left) || parse_int(comma + 1, -1, INT_MAX, right);
}

/* ---- parsing ---- */

static void defaults(cli_options *o, unsigned cmd)
{
    memset(o, 0, sizeof *o);
    cli_shape *s = &o->shape;
    if (cmd == CLI_CMD_BENCH) {
        s->batch = 4;
        s->heads_q = 8;
        s->seqlen_q = s->seqlen_k = 1024;
    } else {
        s->batch = 2;
        s->heads_q = 4;
        s->seqlen_q = s->seqlen_k = 128;
    }
    s->head_dim = 64;
    s->dtype = FC_DTYPE_F16;
    s->window_left = s->window_right = -1;
    o->backend = CLI_BACKEND_DEFAULT;
    o->repeats = 10;
    o->warmup = 2;
    o->impl = CLI_IMPL_FLASHCORE;
}

void cli_options_free(cli_options *o)
{
    free(o->shape.seqlens_q);
    free(o->shape.seqlens_k);
    o->shape.seqlens_q = o->shape.seqlens_k = NULL;
}

static const cli_option *find_option(const char *name, size_t len)
{
    for (int i = 0; i < NUM_OPTIONS; i++)
        if (strlen(k_options[i].name) == len && strncmp(k_options[i].name, name, len) == 0)
            return &k_options[i];
    if (len == 2 && strncmp(name, "-h", 2) == 0)
        return &k_options[NUM_OPTIONS - 1];
    return NULL;
}

/* What a value of `op` must look like, for error messages. */
static const char *expectation(opt_id id)
{
    switch (id) {
    case OPT_BACKEND: return "cpu or cuda";
    case OPT_DEVICE:
    case OPT_WARMUP: return "an integer >= 0";
    case OPT_DTYPE: return "fp16, bf16 or fp32";
    case OPT_WINDOW: return "L,R with integers >= -1";
    case OPT_SOFTCAP: return "a finite number >= 0";
    case OPT_SCALE: return "a finite number";
    case OPT_SEQLENS_Q:
    case OPT_SEQLENS_K: return "comma-separated integers >= 0, at most 4096 of them";
    case OPT_PAD: return "an integer in [0, 1048576]";
    case OPT_SEED: return "an unsigned 64-bit integer, decimal or 0x hex";
    case OPT_SWEEP: return "seed, fa or decode";
    case OPT_JSON: return "a file name";
    case OPT_IMPL: return "flashcore or reference";
    default: return "an integer >= 1";
    }
}

/* Apply one option; returns 0, or CLI_EXIT_USAGE after printing the problem. */
static int apply(cli_options *o, unsigned cmd, const cli_option *op, const char *val)
{
    cli_shape *s = &o->shape;
    int bad = 0;
    int nq = 0;
    switch (op->id) {
    case OPT_HELP: return -1;
    case OPT_BACKEND:
        if (strcmp(val, "cpu") == 0)
            o->backend = CLI_BACKEND_CPU;
        else if (strcmp(val, "cuda") == 0)
            o->backend = CLI_BACKEND_CUDA;
        else
            bad = 1;
        break;
    case OPT_DEVICE: bad = parse_int(val, 0, INT_MAX, &o->device); break;
    case OPT_BATCH: bad = parse_int(val, 1, INT_MAX, &s->batch); break;
    case OPT_HEADS: bad = parse_int(val, 1, INT_MAX, &s->heads_q); break;
    case OPT_KV_HEADS: bad = parse_int(val, 1, INT_MAX, &s->heads_kv); break;
    case OPT_SEQLEN:
        bad = parse_int(val, 1, INT_MAX, &s->seqlen_q);
        s->seqlen_k = s->seqlen_q;
        break;
    case OPT_SEQLEN_Q: bad = parse_int(val, 1, INT_MAX, &s->seqlen_q); break;
    case OPT_SEQLEN_K: bad = parse_int(val, 1, INT_MAX, &s->seqlen_k); break;
    case OPT_HEAD_DIM: bad = parse_int(val, 1, INT_MAX, &s->head_dim); break;
    case OPT_DTYPE:
        if (strcmp(val, "fp16") == 0 || strcmp(val, "f16") == 0)
            s->dtype = FC_DTYPE_F16;
        else if (strcmp(val, "bf16") == 0)
            s->dtype = FC_DTYPE_BF16;
        else if (strcmp(val, "fp32") == 0 || strcmp(val, "f32") == 0)
            s->dtype = FC_DTYPE_F32;
        else
            bad = 1;
        o->dtype_given = 1;
        break;
    case OPT_CAUSAL: s->causal = 1; break;
    case OPT_WINDOW: bad = parse_window(val, &s->window_left, &s->window_right); break;
    case OPT_SOFTCAP: bad = parse_double(val, &s->softcap) || s->softcap < 0; break;
    case OPT_SCALE: bad = parse_double(val, &s->scale); break;
    case OPT_VARLEN: s->varlen = 1; break;
    case OPT_SEQLENS_Q:
        free(s->seqlens_q);
        s->seqlens_q = NULL;
        bad = parse_list(val, &s->seqlens_q, &nq);
        if (!bad) {
            s->num_seqs = nq;
            s->varlen = 1;
        }
        break;
    case OPT_SEQLENS_K: {
        int nk = 0;
        free(s->seqlens_k);
        s->seqlens_k = NULL;
        bad = parse_list(val, &s->seqlens_k, &nk);
        if (!bad) {
            s->num_seqs_k = nk;
            s->varlen = 1;
        }
        break;
    }
    case OPT_LSE: s->lse = 1; break;
    case OPT_PAD: bad = parse_int(val, 0, 1 << 20, &s->pad); break;
    case OPT_SEED:
        bad = parse_u64(val, &o->seed);
        o->have_seed = 1;
        break;
    case OPT_SWEEP:
        if (strcmp(val, "seed") == 0 || strcmp(val, "fa") == 0 || strcmp(val, "decode") == 0)
            o->sweep = val;
        else
            bad = 1;
        break;
    case OPT_MAX_SEQLEN: bad = parse_int(val, 1, INT_MAX, &o->max_seqlen); break;
    case OPT_MIN_SEQLEN: bad = parse_int(val, 1, INT_MAX, &o->min_seqlen); break;
    case OPT_REPEATS: bad = parse_int(val, 1, INT_MAX, &o->repeats); break;
    case OPT_WARMUP: bad = parse_int(val, 0, INT_MAX, &o->warmup); break;
    case OPT_JSON:
        bad = !*val;
        o->json_path = val;
        break;
    case OPT_IMPL:
        if (strcmp(val, "flashcore") == 0)
            o->impl = CLI_IMPL_FLASHCORE;
        else if (strcmp(val, "reference") == 0 || strcmp(val, "reference-f64") == 0)
            o->impl = CLI_IMPL_REFERENCE;
        else
            bad = 1;
        break;
    case OPT_QUIET: o->quiet = 1; break;
    }
    if (bad)
        return cli_usage_error(cmd, "bad value '%s' for %s (expected %s)", val, op->name, expectation(op->id));
    if (op->is_shape)
        o->shape_flags_given = 1;
    return 0;
}

/* Cross-option rules, after every option was read. */
static int validate(cli_options *o, unsigned cmd)
{
    cli_shape *s = &o->shape;
    if (s->seqlens_k) {
        if (!s->seqlens_q)
            return cli_usage_error(cmd, "--seqlens-k needs --seqlens-q");
        if (s->num_seqs_k != s->num_seqs)
            return cli_usage_error(cmd, "--seqlens-q has %d entries but --seqlens-k has %d", s->num_seqs,
                                   s->num_seqs_k);
    }
    if (s->seqlens_q) {
        int64_t tq = 0, tk = 0;
        for (int i = 0; i < s->num_seqs; i++) {
            tq += s->seqlens_q[i];
            tk += s->seqlens_k ? s->seqlens_k[i] : s->seqlens_q[i];
        }
        if (tq > INT32_MAX || tk > INT32_MAX)
            return cli_usage_error(cmd, "varlen totals exceed the int32 range of cu_seqlens");
        if (tq < 1 || tk < 1)
            return cli_usage_error(cmd, "varlen lengths may be 0 but must not all be 0");
    }
    if (s->varlen && !s->seqlens_q && s->batch > CLI_MAX_SEQS)
        return cli_usage_error(cmd, "--varlen takes at most %d sequences", CLI_MAX_SEQS);
    if (cmd == CLI_CMD_BENCH) {
        if (o->sweep && o->shape_flags_given)
            return cli_usage_error(cmd, "--sweep %s fixes the shapes; only --dtype, --lse, --max-seqlen and "
                                        "--min-seqlen adjust it", o->sweep);
        if (o->impl == CLI_IMPL_REFERENCE && o->backend == CLI_BACKEND_CUDA)
            return cli_usage_error(cmd, "--impl reference runs on the CPU; drop --backend cuda");
        if (o->min_seqlen && o->max_seqlen && o->min_seqlen > o->max_seqlen)
            return cli_usage_error(cmd, "--min-seqlen %d is above --max-seqlen %d", o->min_seqlen, o->max_seqlen);
        if (!o->sweep && (o->min_seqlen || o->max_seqlen))
            return cli_usage_error(cmd, "--max-seqlen / --min-seqlen cut a --sweep");
    }
    return 0;
}

int cli_parse(int argc, char **argv, int first, unsigned cmd, cli_options *o)
{
    defaults(o, cmd);
    for (int i = first; i < argc; i++) {
        const char *arg = argv[i];
        if (strncmp(arg, "-", 1) != 0) {
            cli_usage_error(cmd, "unexpected argument '%s'", arg);
            cli_options_free(o);
            return CLI_EXIT_USAGE;
        }
        const char *eq = strchr(arg, '=');
        size_t name_len = eq ? (size_t)(eq - arg) : strlen(arg);
        const cli_option *op = find_option(arg, name_len);
        if (!op || !(op->cmds & cmd)) {
            cli_usage_error(cmd, "unknown option '%.*s'", (int)name_len, arg);
            cli_options_free(o);
            return CLI_EXIT_USAGE;
        }
        const char *val = NULL;
        if (op->metavar) {
            if (eq)
                val = eq + 1;
            else if (i + 1 < argc)
                val = argv[++i];
            else {
                cli_usage_error(cmd, "option %s needs a value (%s)", op->name, op->metavar);
                cli_options_free(o);
                return CLI_EXIT_USAGE;
            }
        } else if (eq) {
            cli_usage_error(cmd, "option %s takes no value", op->name);
            cli_options_free(o);
            return CLI_EXIT_USAGE;
        }
        int rc = apply(o, cmd, op, val);
        if (rc == -1) {
            cli_print_usage(stdout, cmd);
            cli_options_free(o);
            return -1;
        }
        if (rc) {
            cli_options_free(o);
            return rc;
        }
    }
    int rc = validate(o, cmd);
    if (rc)
        cli_options_free(o);
    return rc;
}
