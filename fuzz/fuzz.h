/* fuzz.h: what the libFuzzer targets in fuzz/ share (see fuzz/README.md).
 *
 * A target feeds one parser arbitrary bytes and checks properties of what it returns; a property
 * that does not hold aborts, so libFuzzer keeps the input as a crash (like ASan and UBSan). */
#ifndef SUBSIDY_FUZZ_H
#define SUBSIDY_FUZZ_H

#include <glib.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* Aborts with a message when cond is false: a property of the parser does not hold. */
#define FUZZ_CHECK(cond, ...)                                                            \
	do {                                                                              \
		if (!(cond)) {                                                            \
			fprintf(stderr, "%s:%d: property failed: %s: ", __FILE__, __LINE__, #cond); \
			fprintf(stderr, __VA_ARGS__);                                     \
			fputc('\n', stderr);                                              \
			abort();                                                          \
		}                                                                         \
	} while (0)

/* A GError after a FALSE return: set, of the module's domain, and (when the input was UTF-8, so
 * that a message quoting it can be) text a person can read: UTF-8. */
#define FUZZ_CHECK_ERROR(e, quark, input_utf8)                                            \
	do {                                                                              \
		FUZZ_CHECK((e) != NULL, "FALSE without an error");                        \
		FUZZ_CHECK((e)->domain == (quark), "error of another domain: %s", (e)->message); \
		FUZZ_CHECK(!(input_utf8) || g_utf8_validate((e)->message, -1, NULL), "message not UTF-8"); \
	} while (0)

/* data[0..size) as a NUL-terminated string, cut at its first NUL (what a C string can hold). */
static inline char *fuzz_string(const uint8_t *data, size_t size)
{
	return g_strndup((const char *)data, size);
}

#endif
