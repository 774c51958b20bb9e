/* Library-internal helpers shared by the API layer and the backends (never installed). */
#ifndef FC_INTERNAL_H
#define FC_INTERNAL_H

#include "flashcore.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Record a detailed, printf-formatted message for fc_last_error() on this thread; returns status. */
fc_status fc_set_error(fc_status status, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Forget the last error (called at the start of every public call). */
void fc_clear_error(void);

#ifdef __cplusplus
}
#endif
#endif
