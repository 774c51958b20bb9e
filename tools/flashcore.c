/*
 * flashcore: the command-line tool.
 *
 *   flashcore info     version, backends, host CPU and visible GPUs with their kernels
 *   flashcore check    one call on fresh random inputs, judged against the float64 reference
 *   flashcore bench    median time and TFLOP/s of a shape or a named sweep
 *
 * Uses only the public API (flashcore.h) and the float64 reference library. Exit status: 0 success,
 * 1 failure, 2 usage error.
 */
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: flashcore <command> [options]\n\n"
               "commands:\n"
               "  info     version, compiled-in backends, host CPU, visible GPUs and their kernels\n"
               "  check    run attention on fresh random inputs and compare with the float64 reference\n"
               "  bench    time a shape or a named sweep (--sweep seed|fa)\n"
               "  help     this message\n\n"
               "`flashcore <command> --help` lists the options of a command.\n"
               "Exit status: 0 success (check: PASS), 1 failure (check: FAIL, or an error), 2 usage error.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "info") == 0)
        return cli_cmd_info(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cli_cmd_check(argc, argv);
    if (strcmp(cmd, "bench") == 0)
        return cli_cmd_bench(argc, argv);
    if (strcmp(cmd, "help") == 0 || strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
        usage(stdout);
        return CLI_EXIT_OK;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("flashcore %s\n", fc_version_string());
        return CLI_EXIT_OK;
    }
    fprintf(stderr, "flashcore: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return CLI_EXIT_USAGE;
}
