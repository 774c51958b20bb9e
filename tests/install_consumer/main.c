/* Runs one small attention call through the installed library and checks the version agrees. */
#include <flashcore.h>
#include <stdio.h>

int main(void) {
    enum { N = 1 * 4 * 2 * 8 };
    float q[N], k[N], v[N], o[N];
    for (int i = 0; i < N; ++i) q[i] = (float)(i % 7) * 0.1f, k[i] = (float)(i % 5) * 0.2f, v[i] = (float)(i % 3);
    const int64_t shape[4] = {1, 4, 2, 8};
    fc_tensor tq, tk, tv, to;
    fc_tensor_contiguous(&tq, q, FC_DTYPE_F32, 4, shape, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&tk, k, FC_DTYPE_F32, 4, shape, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&tv, v, FC_DTYPE_F32, 4, shape, FC_DEVICE_CPU, 0);
    fc_tensor_contiguous(&to, o, FC_DTYPE_F32, 4, shape, FC_DEVICE_CPU, 0);
    fc_status s = fc_attention_forward(&tq, &tk, &tv, &to, NULL, NULL, NULL, 0, NULL);
    if (s != FC_SUCCESS || fc_version() != FLASHCORE_VERSION_NUMBER) {
        printf("consumer: %s %s\n", fc_status_name(s), fc_last_error());
        return 1;
    }
    printf("consumer: flashcore %s ok\n", fc_version_string());
    return 0;
}
