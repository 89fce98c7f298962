/* ident.c: the normal form of waybill numbers, order numbers and courier codes; see ident.h. */
#include "ident.h"

#include "status.h"

#include <string.h>

/* FORMATS.md's names of couriers (the cainiao profile's 快递公司 column, and any courier field in
 * any profile), keyed in normal form: the one table of them. */
static const struct {
	const char *name;
	const char *code;
} courier_names[] = {
	{ "中通", "ZTO" }, { "圆通", "YTO" }, { "申通", "STO" }, { "韵达", "YUNDA" }, { "邮政", "EMS" },
	{ "EMS", "EMS" },  { "百世", "BEST" }, { "极兔", "JT" },  { "顺丰", "SF" },
};

G_DEFINE_QUARK(subsidy-ident-error-quark, ident_error)

gboolean ident_is_invisible(gunichar c)
{
	switch (c) {
	/* White_Space that is not Cc (the Cc ones are below). */
	case 0x0020: case 0x00A0: case 0x1680: case 0x2028: case 0x2029: case 0x202F: case 0x205F:
	case 0x3000:
	/* Default_Ignorable_Code_Point that is not Cf. */
	case 0x034F: case 0x115F: case 0x1160: case 0x17B4: case 0x17B5: case 0x3164: case 0xFFA0:
		return TRUE;
	default:
		break;
	}
	if ((c >= 0x2000 && c <= 0x200A) ||  /* en quad .. hair space */
	    (c >= 0x180B && c <= 0x180F) ||  /* Mongolian variation selectors, vowel separator */
	    (c >= 0x2060 && c <= 0x206F) ||  /* word joiner, invisible operators, reserved U+2065 */
	    (c >= 0xFE00 && c <= 0xFE0F) ||  /* variation selectors */
	    (c >= 0xFFF0 && c <= 0xFFF8) ||  /* reserved, default ignorable */
	    (c >= 0xE0000 && c <= 0xE0FFF))  /* tags, variation selectors supplement, reserved */
		return TRUE;
	GUnicodeType t = g_unichar_type(c);
	return t == G_UNICODE_CONTROL || t == G_UNICODE_FORMAT; /* U+0009-U+000D, U+0085 are Cc */
}

/* A new string: text without its invisible characters (text is valid UTF-8). */
static char *strip_invisible(const char *text)
{
	GString *out = g_string_sized_new(strlen(text));
	for (const char *p = text; *p; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (!ident_is_invisible(c))
			g_string_append_unichar(out, c);
	}
	return g_string_free(out, FALSE);
}

/* One round of steps 1-4 of ident.h. */
static char *round_of(const char *text)
{
	g_autofree char *visible = strip_invisible(text);
	g_autofree char *nfkc = g_utf8_normalize(visible, -1, G_NORMALIZE_NFKC);
	g_assert(nfkc != NULL); /* visible is valid UTF-8 */
	g_autofree char *folded = g_utf8_casefold(nfkc, -1);
	g_autofree char *upper = g_utf8_strup(folded, -1);
	g_autofree char *again = g_utf8_normalize(upper, -1, G_NORMALIZE_NFKC);
	g_assert(again != NULL);
	return strip_invisible(again);
}

/* TRUE when text is printable ASCII without a space, whose normal form is its upper case. */
static gboolean is_plain_ascii(const char *text)
{
	for (const char *p = text; *p; p++)
		if (*p <= 0x20 || *p >= 0x7F) /* char may be signed: bytes >= 0x80 are below 0 */
			return FALSE;
	return TRUE;
}

char *ident_normalize(const char *text)
{
	g_return_val_if_fail(text != NULL, NULL);
	if (is_plain_ascii(text))
		return g_ascii_strup(text, -1);
	if (!g_utf8_validate(text, -1, NULL))
		return NULL;
	char *s = round_of(text);
	for (int round = 1;; round++) {
		char *next = round_of(s);
		if (strcmp(next, s) == 0) {
			g_free(next);
			return s;
		}
		g_free(s);
		s = next;
		/* Each round removes or composes characters, or changes none: it ends. The unit tests
		 * check the bound on every code point and on combinations. */
		g_assert(round < IDENT_ROUNDS_MAX);
	}
}

const char *ident_courier_name_code(const char *normal)
{
	g_return_val_if_fail(normal != NULL, NULL);
	for (size_t i = 0; i < G_N_ELEMENTS(courier_names); i++)
		if (strcmp(normal, courier_names[i].name) == 0)
			return courier_names[i].code;
	return NULL;
}

char *ident_courier_code(const char *text, gboolean *named)
{
	if (named)
		*named = FALSE;
	char *normal = ident_normalize(text);
	if (!normal)
		return NULL;
	const char *code = ident_courier_name_code(normal);
	if (!code)
		return normal;
	if (named)
		*named = TRUE;
	g_free(normal);
	return g_strdup(code);
}

char *ident_order_key(const char *order_no, const char *courier, const char *waybill_no)
{
	g_autofree char *order = order_no ? ident_normalize(order_no) : NULL;
	g_assert(!order_no || order); /* stored text is valid UTF-8 */
	if (order && *order)
		return g_strconcat("o:", order, NULL);
	g_assert(courier != NULL && waybill_no != NULL);
	g_autofree char *code = ident_courier_code(courier, NULL);
	g_autofree char *waybill = ident_normalize(waybill_no);
	g_assert(code != NULL && waybill != NULL); /* stored text is valid UTF-8 */
	return g_strconcat("w:", code, ":", waybill, NULL);
}

/* ------------------------------------------------------------------------------------------ */
/* Identity numbers and phones */

char ident_id_check_char(const char *digits17)
{
	static const int weights[IDENT_ID_NO_LEN - 1] = { 7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2 };
	static const char checks[] = "10X98765432";
	int sum = 0;
	for (int i = 0; i < IDENT_ID_NO_LEN - 1; i++) {
		g_assert(g_ascii_isdigit(digits17[i]));
		sum += (digits17[i] - '0') * weights[i];
	}
	return checks[sum % 11];
}

gboolean ident_id_no_valid(const char *id_no, GError **error)
{
	g_return_val_if_fail(id_no != NULL, FALSE);
	gboolean form = strlen(id_no) == IDENT_ID_NO_LEN;
	for (int i = 0; form && i < IDENT_ID_NO_LEN - 1; i++)
		form = g_ascii_isdigit(id_no[i]);
	char last = form ? g_ascii_toupper(id_no[IDENT_ID_NO_LEN - 1]) : '\0';
	if (!form || !(g_ascii_isdigit(last) || last == 'X')) {
		g_set_error(error, IDENT_ERROR, STATUS_DATAERR,
			    "'%s' is not a resident ID number (17 digits and a check character, a digit or X)", id_no);
		return FALSE;
	}
	char expected = ident_id_check_char(id_no);
	if (last != expected) {
		g_set_error(error, IDENT_ERROR, STATUS_DATAERR, "'%s' has a wrong check character (expected '%c')",
			    id_no, expected);
		return FALSE;
	}
	return TRUE;
}

gboolean ident_phone_digits(const char *text, char *buf, size_t cap)
{
	size_t n = 0;
	buf[0] = '\0';
	for (const char *p = text ? text : ""; *p; p++) {
		if (!g_ascii_isdigit(*p))
			continue;
		if (n + 1 >= cap)
			return FALSE;
		buf[n++] = *p;
	}
	buf[n] = '\0';
	size_t drop = 0;
	if (n == IDENT_PHONE_DIGITS + 2 && strncmp(buf, "86", 2) == 0)
		drop = 2;
	else if (n == IDENT_PHONE_DIGITS + 4 && strncmp(buf, "0086", 4) == 0)
		drop = 4;
	memmove(buf, buf + drop, n - drop + 1);
	return TRUE;
}

char *ident_phone(const char *text)
{
	size_t cap = (text ? strlen(text) : 0) + 1;
	char *buf = g_malloc(cap);
	gboolean fits = ident_phone_digits(text, buf, cap);
	g_assert(fits);
	return buf;
}
