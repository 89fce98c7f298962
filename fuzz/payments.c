/* fuzz/payments.c: the treasury results reader (payments_check_bytes: what payments_load checks
 * of a file before it reads the database: encoding, CSV, header, every line).
 *
 * Input: the file. Properties: a file refused has a DATAERR message that is UTF-8 (the reader
 * decodes GB18030 too, and only quotes what decoded); a file accepted was not empty. */
#include "fuzz.h"

#include "payments.h"
#include "status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int n = -1;
	GError *e = NULL;
	gboolean ok = payments_check_bytes("fuzz.csv", (const char *)data, size, &n, &e);
	if (ok) {
		FUZZ_CHECK(e == NULL, "TRUE with an error");
		FUZZ_CHECK(n >= 0 && size > 0, "%d lines of %zu bytes", n, size);
	} else {
		FUZZ_CHECK_ERROR(e, PAYMENTS_ERROR, TRUE);
		FUZZ_CHECK(e->code == STATUS_DATAERR, "code %d: %s", e->code, e->message);
		g_clear_error(&e);
	}
	return 0;
}
