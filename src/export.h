/* export.h: what a batch pays, written out: the finance bureau's file (summary or per-posting
 * detail, CSV in UTF-8 or GB18030, or XLSX) with its FILE.sha256, and the masked public-notice list
 * (公示). FORMATS.md "Finance bureau export" and "Public disclosure" are the specification.
 *
 * Files are written to a temporary name in the target's directory and renamed into place, so a
 * reader never sees half a file; the same batch always gives the same bytes. Each function reads
 * in one snapshot: when the connection is idle it opens (and ends) its own read-only repeatable-read
 * transaction, inside a caller's transaction it reads there. */
#ifndef SUBSIDY_EXPORT_H
#define SUBSIDY_EXPORT_H

#include "db.h"

#include <glib.h>
#include <stdint.h>

#define EXPORT_ERROR export_error_quark()
GQuark export_error_quark(void);

/* "2147483647.99%" and its NUL, rounded up */
#define EXPORT_PERCENT_TEXT_MAX 16
/* The suffix of the checksum file written beside every finance bureau file. */
#define EXPORT_SHA256_SUFFIX ".sha256"

typedef enum {
	EXPORT_FORMAT_CSV,
	EXPORT_FORMAT_XLSX,
} export_format;

typedef enum {
	EXPORT_ENCODING_UTF8,    /* with a byte order mark, so Excel opens it as UTF-8 */
	EXPORT_ENCODING_GB18030, /* without one */
} export_encoding;

typedef struct {
	export_format format;
	export_encoding encoding; /* CSV only: XLSX is always UTF-8 inside */
	gboolean detail;          /* one row per posting instead of one per shop */
} export_options;

#define EXPORT_OPTIONS_DEFAULT { EXPORT_FORMAT_CSV, EXPORT_ENCODING_UTF8, FALSE }

/* Writes batch_id's finance bureau file to path and path.sha256 (one line "<hex>  <base name>",
 * as sha256sum writes it). An unknown batch is an error with code STATUS_USAGE; a file that cannot
 * be written, STATUS_SOFTWARE. Nothing is left at path on failure (an older file there stays). */
gboolean export_batch(db *d, int batch_id, const export_options *o, const char *path, GError **error);

/* Writes batch_id's public-notice list to path (UTF-8 with BOM, CRLF): the summary's rows, owner
 * names and phones masked, village and owner as registered when the batch was made, no ID or bank
 * numbers, no totals row. Errors as export_batch. */
gboolean export_disclosure(db *d, int batch_id, const char *path, GError **error);

/* The pieces, public for their tests. */

/* Appends field to out as RFC 4180 wants it: quoted (quotes doubled) only when it holds a comma,
 * a quote, CR or LF. */
void export_csv_field(GString *out, const char *field);

/* The first characters that make a spreadsheet read a cell as a formula (OWASP's "CSV
 * injection" list: = + - @, tab, carriage return), and what is put before such a cell's text so
 * that it is read as text: a single quote, which Excel and LibreOffice do not show. */
#define EXPORT_FORMULA_STARTS "=+-@\t\r"
#define EXPORT_FORMULA_GUARD "'"

/* Does text start with one of EXPORT_FORMULA_STARTS? */
gboolean export_formula_like(const char *text);

/* export_csv_field for text that came from outside the engine (names, villages, order numbers,
 * reasons): a formula-like text gets EXPORT_FORMULA_GUARD first. A masked name is masked first,
 * then guarded: the mask counts the name's own characters. Amounts do not go through this: a
 * signed amount starts with '-' and stays a number. XLSX cells need none of it: text is written as
 * string cells, which are never evaluated. */
void export_csv_text_field(GString *out, const char *field);

/* A rate in basis points as a percentage without trailing zeros: 5000 -> "50%", 1250 -> "12.5%",
 * 1234 -> "12.34%". rate_bp must not be negative. Returns buf. */
char *export_percent(int32_t rate_bp, char buf[EXPORT_PERCENT_TEXT_MAX]);

/* A courier's code as the person reading the XLSX knows it: EMS 中国邮政, ZTO 中通快递, YTO
 * 圆通速递, STO 申通快递, YUNDA 韵达快递, BEST 百世快递, JT 极兔速递, SF 顺丰速运; any other code as
 * it is. The CSV keeps the codes, for machines. */
const char *export_courier_name(const char *code);

/* A posting's status in Chinese for the XLSX: FUNDED 已拨付, PARTIAL 部分拨付, BUDGET_EXHAUSTED
 * 资金不足, REVERSAL 冲回; a correction's reference after a colon kept (REVERSAL:W3 冲回:W3); any
 * other status as it is. Caller frees. */
char *export_status_name(const char *status);

/* An owner's name for public notice, counted in characters, not bytes: the first and the last
 * character kept and those between masked (张小三 -> 张*三, 欧阳小锋 -> 欧**锋); a two-character name
 * keeps its first (张三 -> 张*), a one-character name shows nothing of itself (*). name must be
 * valid UTF-8. Caller frees. */
char *export_mask_name(const char *name);

/* A phone number for public notice: the first three and last four digits kept, those between
 * masked (13812345678 -> 138****5678); a number too short to keep anything is masked whole.
 * Caller frees. */
char *export_mask_phone(const char *phone);

#endif
