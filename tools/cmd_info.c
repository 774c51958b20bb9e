/* `flashcore info`: version, compiled-in backends, host CPU and visible GPUs with their kernels. */
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: flashcore info\n\n"
               "Prints the library version, the backends and CUDA architectures compiled in, the host CPU,\n"
               "and every visible GPU (name, compute capability, SMs, memory, the flashcore kernels that\n"
               "serve its architecture).\n");
}

int cli_cmd_info(int argc, char **argv)
{
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        fprintf(stderr, "flashcore info: unexpected argument '%s'\n\n", argv[i]);
        usage(stderr);
        return CLI_EXIT_USAGE;
    }

    char cpu[384];
    cli_cpu_description(cpu, sizeof cpu);
    printf("flashcore %s\n", fc_version_string());
    if (fc_version() != FLASHCORE_VERSION_NUMBER)
        printf("warning:  the library is %d but this tool was built against header %d\n", fc_version(),
               FLASHCORE_VERSION_NUMBER);
    printf("backends: cpu%s\n", fc_has_cuda() ? ", cuda" : " (CUDA not compiled in)");
    /* the build description may span lines: indent the continuation lines */
    printf("build:    ");
    for (const char *c = fc_build_info(); *c; c++) {
        putchar(*c);
        if (*c == '\n' && c[1])
            printf("          ");
    }
    printf("\n");
    printf("host:     %s\n", cpu);

    if (!fc_has_cuda())
        return CLI_EXIT_OK;
    int count = 0;
    fc_status st = fc_cuda_device_count(&count);
    if (st != FC_SUCCESS) {
        cli_report_status("fc_cuda_device_count", st);
        return CLI_EXIT_FAIL;
    }
    if (count == 0) {
        printf("GPUs:     none visible\n");
        return CLI_EXIT_OK;
    }
    int rc = CLI_EXIT_OK;
    for (int d = 0; d < count; d++) {
        fc_device_info info;
        memset(&info, 0, sizeof info);
        st = fc_cuda_device_info(d, &info);
        if (st != FC_SUCCESS) {
            char what[64];
            snprintf(what, sizeof what, "fc_cuda_device_info(%d)", d);
            cli_report_status(what, st);
            rc = CLI_EXIT_FAIL;
            continue;
        }
        info.name[sizeof info.name - 1] = '\0';
        info.kernels[sizeof info.kernels - 1] = '\0';
        printf("GPU %d:    %s, sm_%d, %d SMs, %.1f GiB, %d KiB shared memory per block\n", d, info.name, info.sm,
               info.multiprocessors, (double)info.global_memory_bytes / (1024.0 * 1024.0 * 1024.0),
               info.max_shared_memory_per_block / 1024);
        printf("          kernels: %s\n", info.kernels[0] ? info.kernels : "none built for this architecture");
    }
    return rc;
}
