/*
 * The `flashcore` command-line tool: shared declarations.
 *
 * The tool uses only the public header (include/flashcore.h) and the float64 reference library
 * (tests/reference/reference.h). Device memory for `--backend cuda` comes from the public device
 * memory helpers (fc_cuda_malloc / fc_cuda_memcpy / fc_cuda_synchronize / fc_cuda_free); the tool
 * never links the CUDA runtime itself.
 *
 * Exit codes of every command: 0 success (check: PASS), 1 failure (check: FAIL, or a library /
 * allocation error), 2 usage error (unknown command or option, missing or malformed value).
 */
#ifndef FC_CLI_H
#define FC_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "flashcore.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Commands an option belongs to (bit mask). */
enum { CLI_CMD_CHECK = 1u << 0, CLI_CMD_BENCH = 1u << 1 };

typedef enum { CLI_BACKEND_DEFAULT = 0, CLI_BACKEND_CPU, CLI_BACKEND_CUDA } cli_backend;
typedef enum { CLI_IMPL_FLASHCORE = 0, CLI_IMPL_REFERENCE } cli_impl;

/* Longest --seqlens-q / --seqlens-k list the tool accepts. */
#define CLI_MAX_SEQS 4096

/* One attention problem, as the user described it on the command line. */
typedef struct cli_shape {
    int batch;      /* number of sequences (varlen: filled from the lists) */
    int heads_q;
    int heads_kv;   /* 0 = same as heads_q */
    int seqlen_q;   /* varlen: the maximum */
    int seqlen_k;
    int head_dim;
    fc_dtype dtype;
    int causal;
    int window_left;  /* -1 = unbounded */
    int window_right;
    double softcap;   /* 0 = off */
    double scale;     /* 0 = default 1/sqrt(head_dim) */
    int lse;          /* also compute (and check) the log-sum-exp */
    int pad;          /* extra elements per non-last dimension of q/k/v/out (non-contiguous strides) */
    int varlen;
    int num_seqs;     /* varlen: number of sequences (0 = random lengths, batch of them) */
    int32_t *seqlens_q; /* varlen: per-sequence lengths (heap, num_seqs entries) or NULL */
    int32_t *seqlens_k;
    int num_seqs_k;   /* entries of seqlens_k (must equal num_seqs) */
} cli_shape;

/* Every option of `check` and `bench`, parsed. */
typedef struct cli_options {
    cli_shape shape;
    cli_backend backend;
    int device;
    int have_seed;
    uint64_t seed;
    /* bench */
    const char *sweep;   /* NULL = the single shape above */
    int max_seqlen;      /* 0 = no cut */
    int min_seqlen;
    int repeats;
    int warmup;
    const char *json_path;
    cli_impl impl;
    int quiet;           /* no progress lines on stderr */
    /* which shape options were given explicitly (a sweep refuses them) */
    int shape_flags_given;
    int dtype_given;
} cli_options;

/* ---- options (cli_options.c) ---- */
void cli_options_free(cli_options *o);
/* Parse argv[first..argc) for command `cmd` (CLI_CMD_*). Returns CLI_EXIT_OK, CLI_EXIT_USAGE (message
 * and usage already printed on stderr), or -1 when --help was asked for (usage printed on stdout). */
int cli_parse(int argc, char **argv, int first, unsigned cmd, cli_options *o);
void cli_print_usage(FILE *f, unsigned cmd);
const char *cli_dtype_name(fc_dtype dtype);
/* Print "flashcore <cmd>: <message>" and a hint on stderr; returns CLI_EXIT_USAGE. */
int cli_usage_error(unsigned cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ---- problems (cli_problem.c) ---- */

/* A problem set up in memory: host copies (always) and device copies (cuda backend). */
typedef struct cli_problem {
    cli_shape shape;          /* resolved: heads_kv set, varlen lists set */
    int on_cuda;
    int device;
    /* host side (the reference reads these; check compares these after a copy back) */
    fc_tensor q, k, v, out, lse;   /* lse.data NULL when not asked for */
    int64_t q_n, k_n, v_n, out_n, lse_n; /* allocation sizes in elements */
    int32_t *cu_q, *cu_k;          /* host cu_seqlens (varlen) */
    fc_attention_params params;    /* with host cu_seqlens: what the reference reads */
    /* what fc_attention_forward receives (device pointers on cuda) */
    fc_tensor dq, dk, dv, dout, dlse;
    fc_attention_params dparams;
    void *workspace;
    size_t workspace_size;
    int64_t total_q, total_k;      /* tokens (batched: batch*seqlen) */
} cli_problem;

/* Resolve the backend choice (default: cuda when a device exists, else cpu). */
cli_backend cli_resolve_backend(cli_backend requested);
/* Non-zero when the backend can run on `device`; otherwise prints why on stderr. */
int cli_backend_usable(cli_backend backend, int device);
/* Allocate and fill (random inputs from rng seed `seed`, poisoned outputs). On error prints a
 * message on stderr and returns non-zero; the problem is then freed. */
int cli_problem_setup(cli_problem *p, const cli_shape *shape, int on_cuda, int device, uint64_t seed);
/* Poison the outputs again (host, and device copies on cuda). */
int cli_problem_poison_outputs(cli_problem *p);
/* One fc_attention_forward call (asynchronous on cuda). Returns the library status. */
fc_status cli_problem_run(cli_problem *p);
/* Wait for the device (no-op on the CPU). */
fc_status cli_problem_sync(cli_problem *p);
/* Copy outputs back to the host tensors (no-op on the CPU). */
fc_status cli_problem_fetch(cli_problem *p);
void cli_problem_free(cli_problem *p);
/* 4*H*Sq*Sk*D summed over the sequences; halved for causal sequences with Sq == Sk. */
double cli_problem_flops(const cli_problem *p);
/* "B=2 H=8/2 S=128/256 D=64 fp16 causal ..." into buf. */
void cli_shape_describe(const cli_problem *p, char *buf, size_t n);
/* Print a failed library call: "flashcore: what: FC_ERROR_...: detail". */
void cli_report_status(const char *what, fc_status st);

/* ---- platform helpers (cli_problem.c) ---- */
double cli_now_seconds(void);   /* monotonic clock */
double cli_cpu_seconds(void);   /* processor time of this process, all threads */
/* The 1-minute load average ("4.04"), or "" where the platform does not say. */
void cli_load_average(char *buf, size_t n);
/* Describe the host CPU ("Intel(R) Xeon(R) ..., 2 cores"). */
void cli_cpu_description(char *buf, size_t n);

/* ---- commands ---- */
int cli_cmd_info(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);
int cli_cmd_bench(int argc, char **argv);

#endif /* FC_CLI_H */
