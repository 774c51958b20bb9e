/*
 * Portable fp16 / bf16 <-> fp32 conversion for the CPU backend (no compiler half types, no
 * intrinsics). Rounding is round-to-nearest-even; subnormals, infinities and NaN are handled
 * (NaN stays NaN, quieted). Bit casts go through memcpy, which compilers turn into a register move.
 */
#ifndef FC_CPU_HALF_H
#define FC_CPU_HALF_H

#include <stdint.h>
#include <string.h>

static inline uint32_t fc_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static inline float fc_bits_f32(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* binary16 -> binary32 (exact). Branch-free (every case computed, then selected with masks) so that a loop
 * converting a row auto-vectorises. */
static inline float fc_f16_to_f32(uint16_t h)
{
    const uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    const uint32_t em = h & 0x7fffu;                             /* exponent and mantissa */
    const uint32_t normal = (em << 13) + ((127u - 15u) << 23);   /* rebias the exponent */
    const uint32_t inf_nan = (em << 13) | 0x7f800000u;           /* exponent 31 -> 255, payload kept */
    const uint32_t subnormal = fc_f32_bits((float)(int32_t)em * 5.9604644775390625e-8f); /* em * 2^-24 */
    const uint32_t is_inf_nan = 0u - (uint32_t)(em >= 0x7c00u); /* all-ones masks */
    const uint32_t is_subnormal = 0u - (uint32_t)(em < 0x0400u);
    uint32_t r = (normal & ~is_inf_nan) | (inf_nan & is_inf_nan);
    r = (r & ~is_subnormal) | (subnormal & is_subnormal);
    return fc_bits_f32(sign | r);
}

/* binary32 -> binary16, round to nearest even; overflow goes to inf. */
static inline uint16_t fc_f32_to_f16(float f)
{
    const uint32_t x = fc_f32_bits(f);
    const uint32_t sign = (x >> 16) & 0x8000u;
    const uint32_t ax = x & 0x7fffffffu;
    if (ax >= 0x7f800000u) /* inf, or NaN (quiet bit set so a payload never becomes inf) */
        return (uint16_t)(sign | 0x7c00u | (ax > 0x7f800000u ? 0x200u | ((ax >> 13) & 0x3ffu) : 0u));
    if (ax >= 0x477ff000u) /* >= 65520 = 65504 + half an ulp: rounds to inf */
        return (uint16_t)(sign | 0x7c00u);
    if (ax < 0x38800000u) { /* below 2^-14: fp16 subnormal or zero */
        if (ax < 0x33000000u) /* below 2^-25: rounds to zero (2^-25 itself ties to even 0) */
            return (uint16_t)sign;
        const uint32_t e = ax >> 23;                      /* 102..112 */
        const uint32_t m = (ax & 0x7fffffu) | 0x800000u;  /* 24-bit significand */
        const uint32_t shift = 126u - e;                  /* 14..24: value * 2^24 = m >> shift */
        uint32_t r = m >> shift;
        const uint32_t rem = m & ((1u << shift) - 1u);
        const uint32_t half = 1u << (shift - 1u);
        if (rem > half || (rem == half && (r & 1u)))
            r++; /* may carry into the smallest normal: still the right encoding */
        return (uint16_t)(sign | r);
    }
    /* normal: rebias 127 -> 15, then drop 13 mantissa bits with RNE (a carry may reach inf) */
    uint32_t r = ax - ((127u - 15u) << 23);
    const uint32_t rem = r & 0x1fffu;
    r >>= 13;
    if (rem > 0x1000u || (rem == 0x1000u && (r & 1u)))
        r++;
    return (uint16_t)(sign | r);
}

/* bfloat16 -> binary32 (exact). */
static inline float fc_bf16_to_f32(uint16_t h)
{
    return fc_bits_f32((uint32_t)h << 16);
}

/* binary32 -> bfloat16, round to nearest even; NaN stays NaN (quiet). */
static inline uint16_t fc_f32_to_bf16(float f)
{
    const uint32_t x = fc_f32_bits(f);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40u);
    return (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
}

#endif /* FC_CPU_HALF_H */
