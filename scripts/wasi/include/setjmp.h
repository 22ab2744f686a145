/* kiln: wasi-libc (Debian's 2022 snapshot) has no setjmp.h, and setjmp in
 * WebAssembly needs the exception-handling proposal. libaom longjmps only
 * out of aom_internal_error, its fatal-error path (an allocation failed, an
 * impossible parameter). Here setjmp always returns 0 and longjmp calls
 * kiln_aom_fatal (crates/core/src/encode/avif.rs), which panics: kiln's
 * panic hook answers the request with a JSON 500 naming the failure, and
 * the instance ends. Nothing resumes after a longjmp, so nothing relies on
 * the state libaom would have unwound. */
#ifndef KILN_WASI_SETJMP_H
#define KILN_WASI_SETJMP_H
typedef int jmp_buf[1];
_Noreturn void kiln_aom_fatal(int code);
#define setjmp(env) ((void)(env), 0)
#define longjmp(env, val) ((void)(env), kiln_aom_fatal(val))
#endif
