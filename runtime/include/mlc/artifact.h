/*===- mlc/artifact.h - the integrity trailer of a model .so -------------===*
 *
 * `mlc compile` appends 32 bytes to the linked shared object:
 *
 *   char     magic[8]   "MLCSUM01"
 *   uint64_t length     bytes before the trailer
 *   uint64_t checksum   mlc_artifact_checksum() of those bytes
 *   uint64_t reserved   0
 *
 * (little-endian). The dynamic loader ignores bytes after the ELF image, so
 * the file still loads everywhere; the runtime refuses a file whose trailer
 * does not match before handing it to dlopen, so a truncated or damaged
 * artifact is an error message rather than a crash inside the loader.
 *
 *===---------------------------------------------------------------------===*/
#ifndef MLC_ARTIFACT_H
#define MLC_ARTIFACT_H

#include <stdint.h>
#include <string.h>

#define MLC_ARTIFACT_MAGIC "MLCSUM01"
#define MLC_ARTIFACT_TRAILER_SIZE 32

static inline uint64_t mlc_artifact_rotl(uint64_t x, int r) {
  return (x << r) | (x >> (64 - r));
}

static inline uint64_t mlc_artifact_load64(const unsigned char *p) {
  uint64_t v;
  memcpy(&v, p, 8);
  return v;
}

/* A 64-bit checksum over four independent lanes (several GB/s): it detects
 * accidental damage, it is not a cryptographic signature. */
static inline uint64_t mlc_artifact_checksum(const void *data, uint64_t n) {
  const uint64_t k1 = 0x9E3779B185EBCA87ull, k2 = 0xC2B2AE3D27D4EB4Full,
                 k3 = 0x165667B19E3779F9ull;
  const unsigned char *p = (const unsigned char *)data;
  uint64_t lane[4] = {k1 + k2, k2, 0, (uint64_t)0 - k1};
  uint64_t i = 0;
  for (; i + 32 <= n; i += 32)
    for (int l = 0; l < 4; ++l)
      lane[l] = mlc_artifact_rotl(lane[l] + mlc_artifact_load64(p + i + 8 * l) * k2, 31) * k1;
  uint64_t h = mlc_artifact_rotl(lane[0], 1) + mlc_artifact_rotl(lane[1], 7) +
               mlc_artifact_rotl(lane[2], 12) + mlc_artifact_rotl(lane[3], 18);
  h += n;
  for (; i + 8 <= n; i += 8)
    h = mlc_artifact_rotl(h ^ (mlc_artifact_load64(p + i) * k2), 27) * k1 + k3;
  for (; i < n; ++i)
    h = mlc_artifact_rotl(h ^ (p[i] * k3), 11) * k1;
  h ^= h >> 33;
  h *= k2;
  h ^= h >> 29;
  h *= k3;
  h ^= h >> 32;
  return h;
}

#endif /* MLC_ARTIFACT_H */
