/* fuzz/registry.c: the registry reader (registry_check_bytes: what registry_load checks of a file
 * before it reads the database: UTF-8, CSV, header, every field, ranges, duplicate keys, policy
 * overlaps within the file).
 *
 * Input: byte 0 chooses the kind (policies, shops, senders, households, campaigns, budgets); the rest
 * is the file. Properties: a file refused has a DATAERR message of lines ("name:LINE: reason")
 * that is UTF-8 when the file is; a file accepted is UTF-8 (a BOM aside) and has a header. */
#include "fuzz.h"

#include "registry_load.h"
#include "status.h"

static const char *const kinds[] = { "policies", "shops", "senders", "households", "campaigns", "budgets" };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	const char *kind = kinds[data[0] % G_N_ELEMENTS(kinds)];
	const char *bytes = (const char *)data + 1;
	size_t len = size - 1;
	gboolean utf8 = g_utf8_validate(bytes, (gssize)len, NULL) && !memchr(bytes, '\0', len);
	int rows = -1;
	GError *e = NULL;
	gboolean ok = registry_check_bytes(kind, "fuzz.csv", bytes, len, &rows, &e);
	if (ok) {
		FUZZ_CHECK(e == NULL, "TRUE with an error");
		FUZZ_CHECK(rows >= 0, "rows %d", rows);
		FUZZ_CHECK(utf8, "a file that is not UTF-8 accepted");
		FUZZ_CHECK(len > 0, "an empty file accepted");
	} else {
		FUZZ_CHECK_ERROR(e, REGISTRY_ERROR, utf8);
		FUZZ_CHECK(e->code == STATUS_DATAERR, "code %d: %s", e->code, e->message);
		FUZZ_CHECK(strstr(e->message, "\nfuzz.csv:") != NULL, "no line named: %s", e->message);
		g_clear_error(&e);
	}
	return 0;
}
