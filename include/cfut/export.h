/* cfut/export.h: symbol export and compiler attributes.
 *
 * CFUT_API marks every public declaration. The library is built with hidden
 * visibility and a version script, so only what carries CFUT_API (and is
 * listed in lib/cfut.map) is exported. */
#ifndef CFUT_EXPORT_H
#define CFUT_EXPORT_H

#if defined(CFUT_BUILDING) && defined(__GNUC__)
#  define CFUT_API __attribute__((visibility("default")))
#else
#  define CFUT_API
#endif

#if defined(__GNUC__) || defined(__clang__)
/* printf-style format checking: `fmt` is argument `f`, varargs start at `a`. */
#  define CFUT_PRINTF(f, a) __attribute__((format(printf, f, a)))
/* A function returning an owned reference: dropping it is a leak. */
#  define CFUT_OWNED __attribute__((warn_unused_result))
#else
#  define CFUT_PRINTF(f, a)
#  define CFUT_OWNED
#endif

#ifdef __cplusplus
#  define CFUT_BEGIN_DECLS extern "C" {
#  define CFUT_END_DECLS }
#else
#  define CFUT_BEGIN_DECLS
#  define CFUT_END_DECLS
#endif

#endif /* CFUT_EXPORT_H */
