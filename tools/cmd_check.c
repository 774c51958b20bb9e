/*
 * `flashcore check`: one forward call on fresh random inputs, judged against the float64 reference
 * with the project's rule: PASS iff max|out - ref64| <= 2 * max|lowp - ref64| + eps(dtype).
 */
#include <math.h>
#include <stdlib.h>

#include "cli.h"
#include "reference.h"

/* Print at most this many varlen lengths per list. */
#define CLI_SHOW_SEQLENS 16

static void print_err_line(const char *what, double err, double lowp_err, double tol, int pass)
{
    if (isfinite(err))
        printf("  %-4s max abs err %.3e   lowp err %.3e   tolerance %.3e   %s\n", what, err, lowp_err, tol,
               pass ? "PASS" : "FAIL");
    else
        printf("  %-4s max abs err %-9s (unwritten or non-finite elements)   tolerance %.3e   FAIL\n", what,
               isnan(err) ? "nan" : "inf", tol);
}

static void print_list(const char *name, const int32_t *v, int n)
{
    printf("  %s [", name);
    for (int i = 0; i < n && i < CLI_SHOW_SEQLENS; i++)
        printf("%s%d", i ? "," : "", v[i]);
    printf("%s]\n", n > CLI_SHOW_SEQLENS ? ",..." : "");
}

static int check(cli_problem *p, uint64_t seed)
{
    const cli_shape *s = &p->shape;
    char desc[512];
    cli_shape_describe(p, desc, sizeof desc);
    if (p->on_cuda)
        printf("flashcore check: cuda backend (device %d), %s, seed %llu\n", p->device, desc,
               (unsigned long long)seed);
    else
        printf("flashcore check: cpu backend, %s, seed %llu\n", desc, (unsigned long long)seed);
    if (s->varlen) {
        print_list("seqlens_q", s->seqlens_q, s->num_seqs);
        print_list("seqlens_k", s->seqlens_k, s->num_seqs);
    }
    fflush(stdout);

    fc_status st = cli_problem_run(p);
    if (st != FC_SUCCESS) {
        cli_report_status("fc_attention_forward", st);
        return CLI_EXIT_FAIL;
    }
    if ((st = cli_problem_sync(p)) != FC_SUCCESS) {
        cli_report_status("fc_cuda_synchronize after fc_attention_forward", st);
        return CLI_EXIT_FAIL;
    }
    if ((st = cli_problem_fetch(p)) != FC_SUCCESS) {
        cli_report_status("copying the outputs back", st);
        return CLI_EXIT_FAIL;
    }

    int64_t n_out = p->total_q * s->heads_q * (int64_t)s->head_dim;
    int64_t n_lse = p->total_q * s->heads_q;
    double *ref = malloc((size_t)n_out * sizeof(double));
    double *lowp = malloc((size_t)n_out * sizeof(double));
    double *ref_lse = s->lse ? malloc((size_t)n_lse * sizeof(double)) : NULL;
    double *lowp_lse = s->lse ? malloc((size_t)n_lse * sizeof(double)) : NULL;
    int rc = CLI_EXIT_FAIL;
    if (!ref || !lowp || (s->lse && (!ref_lse || !lowp_lse))) {
        fprintf(stderr, "flashcore: out of host memory for the reference\n");
        goto done;
    }
    if (fc_ref_forward(&p->q, &p->k, &p->v, &p->params, FC_REF_F64, ref, ref_lse) != 0 ||
        fc_ref_forward(&p->q, &p->k, &p->v, &p->params, FC_REF_LOWP, lowp, lowp_lse) != 0) {
        fprintf(stderr, "flashcore: the reference cannot handle these arguments\n");
        goto done;
    }

    double err = fc_t_max_abs_err(&p->out, ref);
    double lowp_err = fc_t_max_abs_diff(lowp, ref, n_out);
    int pass = fc_t_passes(err, lowp_err, s->dtype);
    print_err_line("out", err, lowp_err, 2.0 * lowp_err + fc_t_eps(s->dtype), pass);
    if (s->lse) {
        /* lse is fp32 whatever the dtype: its epsilon is relative to its largest finite magnitude */
        double lerr = fc_t_max_abs_err_lse(&p->lse, ref_lse);
        double llowp = fc_t_max_abs_diff(lowp_lse, ref_lse, n_lse);
        int lpass = fc_t_passes_lse(lerr, llowp, ref_lse, n_lse);
        double big = 1.0;
        for (int64_t i = 0; i < n_lse; i++)
            if (isfinite(ref_lse[i]) && fabs(ref_lse[i]) > big)
                big = fabs(ref_lse[i]);
        print_err_line("lse", lerr, llowp, 2.0 * llowp + FC_T_LSE_REL_EPS * big, lpass);
        pass = pass && lpass;
    }
    if (s->pad) {
        /* the gaps between strided rows are not part of out and must still hold the poison */
        int64_t gaps = fc_t_padding_changed(p->out.data, p->out_n, &p->out);
        if (gaps < 0)
            printf("  gaps between strided rows of out: not checked (out of host memory)\n");
        else if (gaps == 0)
            printf("  gaps between strided rows of out: untouched\n");
        else
            printf("  gaps between strided rows of out: %lld elements WRITTEN   FAIL\n", (long long)gaps);
        pass = pass && gaps <= 0;
    }
    if (pass)
        printf("PASS\n");
    else
        printf("FAIL (repeat with --seed %llu)\n", (unsigned long long)seed);
    rc = pass ? CLI_EXIT_OK : CLI_EXIT_FAIL;
done:
    free(ref);
    free(lowp);
    free(ref_lse);
    free(lowp_lse);
    return rc;
}

int cli_cmd_check(int argc, char **argv)
{
    cli_options o;
    int rc = cli_parse(argc, argv, 2, CLI_CMD_CHECK, &o);
    if (rc)
        return rc < 0 ? CLI_EXIT_OK : rc;

    cli_backend backend = cli_resolve_backend(o.backend);
    if (!cli_backend_usable(backend, o.device)) {
        cli_options_free(&o);
        return CLI_EXIT_FAIL;
    }
    uint64_t seed = o.have_seed ? o.seed : fc_t_fresh_seed();
    cli_problem p;
    if (cli_problem_setup(&p, &o.shape, backend == CLI_BACKEND_CUDA, o.device, seed)) {
        cli_options_free(&o);
        return CLI_EXIT_FAIL;
    }
    rc = check(&p, seed);
    cli_problem_free(&p);
    cli_options_free(&o);
    return rc;
}
